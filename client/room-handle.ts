/**
 * The seam between the kit and the Colyseus SDK: a RoomHandle is one joined room, a Connector joins
 * one. The SDK connector is the real one; tests may pass another.
 */
import { Client, type Room } from "@colyseus/sdk";
import type { AttemptFailure } from "./send-policy.ts";
import { codeOfJoinError, isRefusal } from "../schema/codes.ts";
import type { HandOffSeat } from "../schema/chat.ts";

/** One joined room on one socket. Events of a handle the kit has abandoned are ignored by the kit. */
export interface RoomHandle {
  /** The endpoint the join went through. */
  readonly endpoint: string;
  /** host:port of the node holding the socket (the seat reservation may point past `endpoint`). */
  readonly nodeAddress?: string;
  /** Send a request; rejects with a {@link RequestFailure}. */
  request<T>(type: string, payload: unknown, timeoutMs: number): Promise<T>;
  /** Fire-and-forget message (no reply). Dropped when the socket is not open. */
  send(type: string, payload?: unknown): void;
  onMessage(type: string, listener: (payload: unknown) => void): void;
  /** Called once when the socket closes, for any reason. */
  onClose(listener: (code: number, reason?: string) => void): void;
  /** Resolve true if the node answers a ping within `timeoutMs`. */
  ping(timeoutMs: number): Promise<boolean>;
  /** Drop the connection without waiting for the node (it may be dead). */
  abandon(): void;
  /** Leave the room politely; drops the connection if the node does not close it soon. */
  leave(): void;
}

/** Join a room through an endpoint. */
export interface Connector {
  /** Rejects with a {@link JoinFailure} after `timeoutMs` or on refusal. */
  join(endpoint: string, roomName: string, options: Record<string, unknown>, token: string | undefined, timeoutMs: number): Promise<RoomHandle>;
  /**
   * Take a seat held for this client (a `migrate`'s `seat`, protocol 1.2) without matchmaking: connect
   * straight to the room. `endpoint` is the seat's node (its public address, with the scheme of the
   * lost room's endpoint; that endpoint where the seat names none). Rejects like `join`. Optional:
   * without it the kit always joins.
   */
  consume?(seat: HandOffSeat, endpoint: string, timeoutMs: number): Promise<RoomHandle>;
}

/** The error a RoomHandle request rejects with. */
export class RequestFailure extends Error {
  override name = "RequestFailure";
  readonly failure: AttemptFailure;
  constructor(failure: AttemptFailure, message: string) {
    super(message);
    this.failure = failure;
  }
}

/** The error a join rejects with; `code` is the protocol code when the server refused. */
export class JoinFailure extends Error {
  override name = "JoinFailure";
  readonly code: string | undefined;
  constructor(message: string, code?: string) {
    super(message);
    this.code = code;
  }
}

/** How long a consented leave may take before the socket is dropped. */
const LEAVE_GRACE_MS = 1000;

/** Map whatever a Colyseus room request rejected with onto an attempt failure. */
export function toRequestFailure(error: unknown): RequestFailure {
  const reason = (error as { reason?: unknown } | undefined)?.reason;
  if (isRefusal(reason)) return new RequestFailure({ kind: "refused", refusal: reason }, `${reason.code}: ${reason.message}`);
  const message = error instanceof Error ? error.message : String(error);
  if (/timed out/i.test(message)) return new RequestFailure({ kind: "timeout" }, message);
  if (/connection (is not open|closed)/i.test(message)) return new RequestFailure({ kind: "closed" }, message);
  return new RequestFailure({ kind: "fault", message }, message);
}

/** Map a Colyseus matchmaking or connection error onto a join failure with its protocol code. */
export function toJoinFailure(error: unknown): JoinFailure {
  const message = error instanceof Error ? error.message : String(error);
  return new JoinFailure(message, codeOfJoinError(message));
}

/** A RoomHandle over an SDK room, with the SDK's own same-node reconnection turned off. */
function sdkHandle(room: Room, endpoint: string): RoomHandle {
  // The SDK reconnects only to the same process and buffers 10 frames, dropping the oldest; the
  // kit rejoins through any node itself, so every close must reach it at once.
  room.reconnection.enabled = false;
  let closed = false;
  const closeListeners: Array<(code: number, reason?: string) => void> = [];
  const fireClose = (code: number, reason?: string) => {
    if (closed) return;
    closed = true;
    for (const listener of closeListeners) listener(code, reason);
  };
  room.onLeave((code, reason) => fireClose(code, reason));
  return {
    endpoint,
    nodeAddress: hostOf(room.connection?.url),
    async request<T>(type: string, payload: unknown, timeoutMs: number): Promise<T> {
      if (closed || !room.connection?.isOpen) throw new RequestFailure({ kind: "closed" }, "connection is not open");
      try {
        return (await room.request(type, payload, { timeout: timeoutMs })) as T;
      } catch (error) {
        throw toRequestFailure(error);
      }
    },
    send(type, payload) {
      if (!closed && room.connection?.isOpen) room.send(type, payload);
    },
    onMessage(type, listener) {
      room.onMessage(type, listener);
    },
    onClose(listener) {
      closeListeners.push(listener);
    },
    ping(timeoutMs) {
      return new Promise((resolve) => {
        if (closed || !room.connection?.isOpen) return resolve(false);
        const timer = setTimeout(() => resolve(false), timeoutMs);
        room.ping(() => {
          clearTimeout(timer);
          resolve(true);
        });
      });
    },
    abandon() {
      if (closed) return;
      try {
        room.connection?.close();
      } catch {
        // The socket may never have opened; nothing to release.
      }
      fireClose(4000, "abandoned by the client kit");
    },
    leave() {
      if (closed) return;
      // A consented leave needs the node to close the socket; a dead node never will.
      const fallback = setTimeout(() => this.abandon(), LEAVE_GRACE_MS);
      room.onLeave(() => clearTimeout(fallback));
      try {
        void room.leave(true).catch(() => undefined);
      } catch {
        this.abandon();
      }
    },
  };
}

/** host:port of a URL, or undefined. */
export function hostOf(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    return new URL(url).host;
  } catch {
    return undefined;
  }
}

/** The real connector: one stock @colyseus/sdk Client per join, with the token set on it. */
export function createSdkConnector(): Connector {
  return {
    join(endpoint, roomName, options, token, timeoutMs) {
      const client = new Client(endpoint);
      if (token) client.auth.token = token;
      return joinWithin(`join through ${endpoint}`, endpoint, timeoutMs, () => client.joinOrCreate(roomName, options));
    },
    consume(seat, endpoint, timeoutMs) {
      // The seat carries the authorisation it was held with: no token, no matchmaking request.
      const client = new Client(endpoint);
      return joinWithin(`the seat held in ${seat.roomId}`, endpoint, timeoutMs, () => client.consumeSeatReservation(seat));
    },
  };
}

/** Run an SDK join with a deadline; one that lands after it is released at once (the kit moved on). */
function joinWithin(what: string, endpoint: string, timeoutMs: number, start: () => Promise<Room>): Promise<RoomHandle> {
  return new Promise<RoomHandle>((resolve, reject) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      reject(new JoinFailure(`${what} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    start().then(
      (room) => {
        clearTimeout(timer);
        if (timedOut) return void room.leave(true).catch(() => undefined);
        resolve(sdkHandle(room, endpoint));
      },
      (error: unknown) => {
        clearTimeout(timer);
        if (!timedOut) reject(toJoinFailure(error));
      },
    );
  });
}
