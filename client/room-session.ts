/**
 * RoomSession: keeps one logical room (a conversation, or the inbox) joined across migrates,
 * dropped sockets and dead nodes. It joins through the endpoint ring with backoff, watches the node
 * with pings, and on any loss abandons the old socket and joins again, letting its owner catch up
 * (`onJoined`) before it reports `connected`. Events of an abandoned socket are ignored.
 */
import { backoffDelayMs, delay, type BackoffOptions } from "./backoff.ts";
import type { EndpointRing } from "./endpoints.ts";
import { afterClose } from "../schema/close-codes.ts";
import { ParleyError } from "./errors.ts";
import { hostOf, JoinFailure, type Connector, type RoomHandle } from "./room-handle.ts";
import { emitTrace, type TraceSink } from "./trace.ts";
import { isHandOffSeat, type HandOffSeat } from "../schema/chat.ts";

/** Where a room (or the whole client) stands. */
export type ConnectionState = "connecting" | "connected" | "reconnecting" | "disconnected";

/** Timings of joins and liveness checks. */
export type SessionTiming = {
  /** A join through one endpoint that takes longer is abandoned. @default 10000 */
  joinTimeoutMs: number;
  /** Ping the node this often while connected. @default 10000 */
  heartbeatIntervalMs: number;
  /** A ping unanswered this long means the node is dead. @default 5000 */
  heartbeatTimeoutMs: number;
  /** Spacing of join attempts. */
  backoff: BackoffOptions;
  /** Join attempts in a row before giving up with UNREACHABLE. @default Infinity */
  maxJoinAttempts: number;
};

/** What a RoomSession needs from its owner. */
export type RoomSessionOptions = {
  roomName: string;
  /** Trace label (the conversation id), if any. */
  conversationId?: string;
  joinOptions: () => Record<string, unknown>;
  ring: EndpointRing;
  connector: Connector;
  /** The token for the next join; undefined for development identities. */
  token: () => Promise<string | undefined>;
  /** True when `token` can produce a fresh token after UNAUTHENTICATED. */
  tokenRefreshes: boolean;
  timing: SessionTiming;
  trace?: TraceSink;
  /** Register the owner's message handlers on a freshly joined room. */
  bind(room: RoomHandle, isCurrent: () => boolean): void;
  /** Catch up on a freshly joined room; throwing abandons it and joins again. */
  onJoined(room: RoomHandle, isCurrent: () => boolean): Promise<void>;
  /** Connected again after a loss (not after the first join). */
  onRejoined(room: RoomHandle, reason: string): void;
  onState(state: ConnectionState): void;
  /** The session gave up for good (refused join, closed, unreachable). */
  onGiveUp(error: ParleyError): void;
};

/** Join refusals that another attempt would get again: give up and tell the app. */
const PERMANENT_JOIN_CODES: ReadonlySet<string> = new Set(["FORBIDDEN", "INVALID", "LIMIT_EXCEEDED"]);
const MAX_UNAUTHENTICATED_IN_A_ROW = 3;

/** One logical room kept joined through any node. */
export class RoomSession {
  readonly #options: RoomSessionOptions;
  #room: RoomHandle | undefined;
  #connected = false;
  #generation = 0;
  #state: ConnectionState = "connecting";
  #closed = false;
  #connecting: Promise<void> | undefined;
  #started: Promise<void> | undefined;
  #heartbeat: ReturnType<typeof setTimeout> | undefined;

  constructor(options: RoomSessionOptions) {
    this.#options = options;
  }

  /** Where the room stands. */
  get state(): ConnectionState {
    return this.#state;
  }

  /** The joined, caught-up room; undefined while (re)connecting. */
  get room(): RoomHandle | undefined {
    return this.#connected ? this.#room : undefined;
  }

  /** Join for the first time; resolves once joined and caught up, rejects with a ParleyError if refused for good. */
  start(): Promise<void> {
    this.#started ??= this.#run("first join", true);
    return this.#started;
  }

  /**
   * The owner saw `room` fail to answer (a request timed out): ping it, and if it stays silent,
   * join again elsewhere. Resolves true if the node answered.
   */
  async suspect(room: RoomHandle): Promise<boolean> {
    if (room !== this.#room) return false;
    const alive = await room.ping(this.#options.timing.heartbeatTimeoutMs);
    if (!alive && room === this.#room) this.#lose(room, "dead node: no answer", true);
    return alive;
  }

  /** Leave the room and stop rejoining. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#generation++;
    this.#stopHeartbeat();
    this.#room?.leave();
    this.#room = undefined;
    this.#connected = false;
    this.#setState("disconnected");
  }

  /**
   * Run a join loop (first join or rejoin), remembering it so losses during it do not start another.
   * With `seat` (a migrate's), the first attempt takes that seat; if it fails, the loop joins as usual.
   */
  #run(reason: string, first: boolean, seat?: { seat: HandOffSeat; endpoint: string }): Promise<void> {
    const running = this.#joinLoop(reason, first, seat).finally(() => {
      if (this.#connecting === running) this.#connecting = undefined;
    });
    this.#connecting = running;
    return running;
  }

  async #joinLoop(reason: string, first: boolean, held?: { seat: HandOffSeat; endpoint: string }): Promise<void> {
    const { ring, connector, timing } = this.#options;
    let unauthenticated = 0;
    for (let attempt = 0; ; attempt++) {
      if (this.#closed) throw new ParleyError("CLOSED", `${this.#what()} was closed`);
      if (attempt >= timing.maxJoinAttempts) return this.#giveUp(new ParleyError("UNREACHABLE", `no endpoint accepted ${this.#what()} in ${attempt} attempts`));
      if (attempt > 0) await delay(backoffDelayMs(attempt, timing.backoff));
      const seat = connector.consume === undefined ? undefined : held;
      const viaSeat = seat !== undefined;
      const endpoint = seat?.endpoint ?? ring.pick(0);
      let room: RoomHandle | undefined;
      const joinStarted = Date.now();
      try {
        room = seat
          ? await connector.consume!(seat.seat, seat.endpoint, timing.joinTimeoutMs)
          : await connector.join(endpoint, this.#options.roomName, this.#options.joinOptions(), await this.#options.token(), timing.joinTimeoutMs);
        const joinMs = Date.now() - joinStarted;
        if (this.#closed) {
          room.leave();
          throw new ParleyError("CLOSED", `${this.#what()} was closed`);
        }
        const generation = ++this.#generation;
        const isCurrent = () => this.#generation === generation && !this.#closed;
        this.#room = room;
        this.#watch(room, isCurrent);
        this.#options.bind(room, isCurrent);
        await this.#options.onJoined(room, isCurrent);
        if (!isCurrent()) throw new Error("the connection was lost while catching up");
        this.#connected = true;
        // A seat's endpoint is the lost room's, whose node is going: keep preferring the others.
        if (!viaSeat) ring.markHealthy(endpoint);
        this.#setState("connected");
        this.#startHeartbeat(room, isCurrent);
        if (!first) {
          const t = Date.now();
          emitTrace(this.#options.trace, {
            type: "rejoin",
            room: this.#options.roomName,
            conversationId: this.#options.conversationId,
            endpoint,
            reason,
            attempts: attempt + 1,
            joinMs,
            catchUpMs: t - joinStarted - joinMs,
            ...(viaSeat && { viaSeat }),
            t,
          });
          this.#options.onRejoined(room, reason);
        }
        return;
      } catch (error) {
        if (error instanceof ParleyError && error.code === "CLOSED") throw error;
        if (room && room === this.#room) {
          this.#generation++;
          this.#room = undefined;
          room.abandon();
        }
        const code = error instanceof JoinFailure ? error.code : undefined;
        emitTrace(this.#options.trace, {
          type: "join-failed",
          room: this.#options.roomName,
          conversationId: this.#options.conversationId,
          endpoint,
          error: error instanceof Error ? error.message : String(error),
          attempt: attempt + 1,
          ...(viaSeat && { viaSeat }),
          t: Date.now(),
        });
        if (viaSeat) {
          // The seat expired, or its room went: join as usual at once, as if this were the first attempt.
          held = undefined;
          attempt = -1;
          continue;
        }
        if (code && PERMANENT_JOIN_CODES.has(code)) return this.#giveUp(new ParleyError(code as "FORBIDDEN" | "INVALID" | "LIMIT_EXCEEDED", (error as Error).message));
        if (code === "UNAUTHENTICATED") {
          unauthenticated++;
          if (!this.#options.tokenRefreshes || unauthenticated >= MAX_UNAUTHENTICATED_IN_A_ROW) return this.#giveUp(new ParleyError("UNAUTHENTICATED", (error as Error).message));
        } else {
          unauthenticated = 0;
          ring.markFailed(endpoint);
        }
      }
    }
  }

  /** Lose the room on a close or a migrate. */
  #watch(room: RoomHandle, isCurrent: () => boolean): void {
    room.onClose((code, reason) => {
      if (!isCurrent()) return;
      // 4403: removed by moderation or no longer allowed; a client never rejoins by itself.
      if (afterClose(code) === "stop") return this.#stopRemoved(room, reason);
      this.#lose(room, `closed ${code}${reason ? `: ${reason}` : ""}`, false);
    });
    room.onMessage("migrate", (payload) => {
      const why = typeof (payload as { reason?: unknown })?.reason === "string" ? (payload as { reason: string }).reason : "moving";
      // Protocol 1.2: a seat held for us in the new room, taken without matchmaking.
      const seat = (payload as { seat?: unknown } | undefined)?.seat;
      // Make before break (protocol 1.1): the server keeps this connection open while we join the
      // new room, so leave it only once the next join settled.
      if (isCurrent()) this.#lose(room, `migrate: ${why}`, true, true, isHandOffSeat(seat) ? seat : undefined);
    });
  }

  /**
   * Abandon `room` and join again, unless a join loop already runs (it sees the loss itself). With
   * `leaveAfterRejoin` (a migrate), the old socket is left only once that join settles; its events
   * are ignored from now on all the same.
   */
  #lose(room: RoomHandle, reason: string, avoidEndpoint: boolean, leaveAfterRejoin = false, seat?: HandOffSeat): void {
    if (this.#closed || room !== this.#room) return;
    this.#generation++;
    this.#room = undefined;
    this.#connected = false;
    this.#stopHeartbeat();
    if (!leaveAfterRejoin) room.abandon();
    if (avoidEndpoint) {
      // Avoid the node that held the socket, which may not be the endpoint the join went through.
      const { ring } = this.#options;
      ring.markFailed(ring.all.find((endpoint) => hostOf(endpoint) === room.nodeAddress) ?? room.endpoint);
    }
    emitTrace(this.#options.trace, { type: "lost", room: this.#options.roomName, conversationId: this.#options.conversationId, endpoint: room.endpoint, reason, t: Date.now() });
    if (this.#connecting) {
      if (leaveAfterRejoin) void this.#connecting.catch(() => undefined).finally(() => room.abandon());
      return;
    }
    this.#setState("reconnecting");
    const rejoin = this.#run(reason, false, seat && { seat, endpoint: seatEndpoint(seat, room.endpoint) }).catch(() => undefined);
    if (leaveAfterRejoin) void rejoin.finally(() => room.abandon());
  }

  #startHeartbeat(room: RoomHandle, isCurrent: () => boolean): void {
    this.#stopHeartbeat();
    const { heartbeatIntervalMs } = this.#options.timing;
    if (!(heartbeatIntervalMs > 0) || !Number.isFinite(heartbeatIntervalMs)) return;
    const beat = () => {
      this.#heartbeat = setTimeout(() => {
        void this.suspect(room).then((alive) => {
          if (alive && isCurrent()) beat();
        });
      }, heartbeatIntervalMs);
    };
    beat();
  }

  #stopHeartbeat(): void {
    if (this.#heartbeat !== undefined) clearTimeout(this.#heartbeat);
    this.#heartbeat = undefined;
  }

  /** The server removed us (4403): stop for good, tell the app, and do not rejoin. */
  #stopRemoved(room: RoomHandle, reason: string | undefined): void {
    if (this.#closed || room !== this.#room) return;
    this.#generation++;
    this.#room = undefined;
    room.abandon();
    emitTrace(this.#options.trace, { type: "lost", room: this.#options.roomName, conversationId: this.#options.conversationId, endpoint: room.endpoint, reason: "removed (4403)", t: Date.now() });
    try {
      this.#giveUp(new ParleyError("REMOVED", `removed from ${this.#what()}${reason ? `: ${reason}` : ""}; not rejoining`));
    } catch {
      // #giveUp throws for the join loop; here the app hears it through onGiveUp.
    }
  }

  #giveUp(error: ParleyError): never {
    this.#closed = true;
    this.#stopHeartbeat();
    this.#setState("disconnected");
    this.#options.onGiveUp(error);
    throw error;
  }

  #setState(state: ConnectionState): void {
    if (state === this.#state) return;
    this.#state = state;
    this.#options.onState(state);
  }

  #what(): string {
    return this.#options.conversationId ? `conversation ${this.#options.conversationId}` : `room ${this.#options.roomName}`;
  }
}

/** Where a seat is taken: its node's public address, with the scheme of the endpoint the lost room came through. */
function seatEndpoint(seat: HandOffSeat, lostEndpoint: string): string {
  if (!seat.publicAddress) return lostEndpoint;
  try {
    return `${new URL(lostEndpoint).protocol}//${seat.publicAddress}`;
  } catch {
    return lostEndpoint;
  }
}
