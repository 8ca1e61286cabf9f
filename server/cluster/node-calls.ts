/**
 * Node-to-node calls: every question one node asks another, in one discriminated union, behind a
 * small interface with two implementations that pass one contract suite
 * (test/contract/node-calls.test.ts):
 * - `redisNodeCalls`: over presence pub/sub (Colyseus's IPC request/reply), one channel per node;
 * - `inProcessNodeCalls`: a map of the nodes of one process, for unit tests.
 *
 * Every call carries the protocol version of these calls (`v`). A node answers the kinds it knows
 * and refuses any other with `UnknownCallError` (a newer node asking an older one something it
 * cannot do), counting it and logging it through `onUnknown`, so a mixed-version fleet degrades to
 * "that node cannot help" instead of a crash or a silent hang.
 */
import { randomUUID } from "node:crypto";
import { requestFromIPC, subscribeIPC, type Presence } from "@colyseus/core";
import type { LocalSession } from "../console/local-rooms.ts";
import type { HandOffSeat } from "../../schema/chat.ts";

/**
 * Seats one `openRoom` call holds at most: the clients of a bigger room beyond these rejoin through
 * matchmaking as before (the call stays a few hundred kilobytes on Redis pub/sub).
 */
export const MAX_HANDOFF_SEATS = 1000;

/** The version of the calls below; a node accepts any version and judges each call by its kind. */
export const NODE_CALLS_VERSION = 1;

/** A user's session somewhere in the cluster. */
export type UserSession = LocalSession & { roomId: string; roomName: string; routeValue: string };

/** Every cross-node call, and what it answers. */
export type NodeCallMap = {
  /** Who sits in room `roomId` (null: no such room here). For the console. */
  sessionsOf: { call: { roomId: string }; answer: LocalSession[] | null };
  /** Where user `userId` sits on this node. For the console. */
  sessionsOfUser: { call: { userId: string }; answer: UserSession[] };
  /**
   * Open the conversation's room on this node now (a draining node hands it over: make before
   * break); answers the room that holds the conversation, which may be another one if it won.
   * With `seats` (the old room's clients' authorisations, at most {@link MAX_HANDOFF_SEATS}), the
   * room opened here also holds a seat for each and answers them in order (null where it could
   * not), so each client's `migrate` can carry its own. A node of 0.5 or earlier ignores `seats`.
   * With `handover` (the old room's last seq and history epoch, when its route was released without
   * a note), the room starts from it; a node of 0.7 or earlier ignores it and asks the store.
   */
  openRoom: { call: { conversationId: string; seats?: unknown[]; handover?: { lastSeq: number; epoch?: string } }; answer: { roomId: string; processId: string; seats?: Array<HandOffSeat | null> } };
};
export type NodeCallKind = keyof NodeCallMap;
export type NodeCall = { [K in NodeCallKind]: { kind: K; v: number } & NodeCallMap[K]["call"] }[NodeCallKind];
export type NodeAnswer<K extends NodeCallKind> = NodeCallMap[K]["answer"];

/** How a node answers each kind it knows. */
export type NodeCallHandlers = { [K in NodeCallKind]: (call: Extract<NodeCall, { kind: K }>) => NodeAnswer<K> | Promise<NodeAnswer<K>> };

/** A call the node does not know (a newer node asked): the answer every caller gets for it. */
export class UnknownCallError extends Error {
  override name = "UnknownCallError";
}

export type NodeCalls = {
  /** Ask node `processId`; rejects on its error, or when it does not answer within `timeoutMs`. */
  ask<K extends NodeCallKind>(processId: string, kind: K, call: NodeCallMap[K]["call"], timeoutMs: number): Promise<NodeAnswer<K>>;
  /**
   * Whether node `processId` answers node calls at all (an 0.3 node does not): ask it only then,
   * rather than wait out a timeout in a mixed-version fleet.
   */
  listening(processId: string): Promise<boolean>;
  /** Answer calls addressed to `processId`; resolves once listening, to a stop function. */
  serve(processId: string, handlers: NodeCallHandlers, onUnknown?: (kind: string, version: unknown) => void): Promise<() => void>;
};

const channelOf = (processId: string) => `parley:node-calls:${processId}`;
/** The 0.3 console's channel: an 0.3 api node asks a newer rooms node there during a rolling upgrade. */
const legacyConsoleChannelOf = (processId: string) => `parley:console:ipc:${processId}`;

/** Check a call from the wire and run its handler; unknown kinds are refused with UnknownCallError. */
async function answer(handlers: NodeCallHandlers, raw: unknown, onUnknown?: (kind: string, version: unknown) => void): Promise<unknown> {
  const call = (typeof raw === "object" && raw !== null ? raw : {}) as { kind?: unknown; v?: unknown };
  const kind = typeof call.kind === "string" ? call.kind : "";
  if (!Object.hasOwn(handlers, kind)) {
    onUnknown?.(kind.slice(0, 64), call.v);
    throw new UnknownCallError(`this node does not answer "${kind.slice(0, 64)}" (node calls v${NODE_CALLS_VERSION})`);
  }
  const handler = handlers[kind as NodeCallKind] as (call: NodeCall) => unknown;
  return handler(call as NodeCall);
}

/** Colyseus's IPC reply codes (its `IpcProtocol`, which @colyseus/core does not export). */
const IpcProtocol = { SUCCESS: 0, ERROR: 1 } as const;

/** What the replies' pattern subscription needs of the presence's subscriber connection (ioredis). */
type PatternSubscriber = {
  psubscribe(pattern: string): Promise<unknown>;
  on(event: "pmessage", listener: (pattern: string, channel: string, message: string) => void): unknown;
};

/**
 * Node calls over Redis presence: request/reply on the node's own channel. Colyseus's
 * requestFromIPC subscribes a channel for each request's reply and unsubscribes it after: two Redis
 * commands per call, two per room a drain hands over. Given the presence's subscriber connection,
 * this node instead subscribes once to a pattern its request ids fall under (`ipc:<prefix>.*`); the
 * answering node, of any version, publishes to `ipc:<requestId>` as before.
 */
export function redisNodeCalls(presence: Presence, redis?: { pubsub(subcommand: "NUMSUB", ...channels: string[]): Promise<unknown> }, subscriber?: PatternSubscriber): NodeCalls {
  const prefix = `nc-${randomUUID()}`;
  const pending = new Map<string, { resolve(data: unknown): void; reject(error: Error): void }>();
  let sequence = 0;
  const pattern = `ipc:${prefix}.*`;
  // One listener for every reply to this node, and the pattern subscribed before the first request
  // (again after a failure; ioredis renews it on reconnects).
  subscriber?.on("pmessage", (matched, channel, message) => {
    if (matched !== pattern) return;
    const call = pending.get(channel.slice("ipc:".length));
    if (!call) return;
    try {
      const [code, data] = JSON.parse(message) as [number, unknown];
      if (code === IpcProtocol.SUCCESS) call.resolve(data);
      else if (code === IpcProtocol.ERROR) call.reject(remoteError(data));
    } catch (error) {
      call.reject(error instanceof Error ? error : new Error(String(error)));
    }
  });
  let subscribed: Promise<unknown> | undefined;
  const replies = (sub: PatternSubscriber) =>
    (subscribed ??= sub.psubscribe(pattern).catch((error: unknown) => {
      subscribed = undefined;
      throw error;
    }));
  /** One request and its reply on the pattern subscription, as requestFromIPC does on a channel of its own. */
  const request = async (sub: PatternSubscriber, channel: string, method: string, args: unknown[], timeoutMs: number): Promise<unknown> => {
    await replies(sub);
    const requestId = `${prefix}.${++sequence}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => settle(() => reject(new Error("ipc_timeout"))), timeoutMs);
      const settle = (end: () => void) => {
        clearTimeout(timer);
        pending.delete(requestId);
        end();
      };
      pending.set(requestId, { resolve: (data) => settle(() => resolve(data)), reject: (error) => settle(() => reject(error)) });
      void Promise.resolve(presence.publish(channel, [method, requestId, args])).catch((error: unknown) => settle(() => reject(error instanceof Error ? error : new Error(String(error)))));
    });
  };
  return {
    async listening(processId) {
      // Without a Redis connection (one node, LocalPresence) only this process can answer.
      if (!redis) return true;
      const [, subscribers] = (await redis.pubsub("NUMSUB", channelOf(processId))) as [string, number | string];
      return Number(subscribers) > 0;
    },
    async ask(processId, kind, call, timeoutMs) {
      try {
        const args = [{ ...call, kind, v: NODE_CALLS_VERSION }];
        return (await (subscriber ? request(subscriber, channelOf(processId), kind, args, timeoutMs) : requestFromIPC(presence, channelOf(processId), kind, args, timeoutMs))) as never;
      } catch (error) {
        // The remote side's errors arrive as plain objects or strings: keep the unknown kind typed.
        const message = error instanceof Error ? error.message : String((error as { message?: unknown })?.message ?? error);
        if (/does not answer/.test(message)) throw new UnknownCallError(message);
        throw error instanceof Error ? error : new Error(message);
      }
    },
    async serve(processId, handlers, onUnknown) {
      const channel = channelOf(processId);
      await subscribeIPC(presence, channel, (_method: string, args: unknown) => answer(handlers, Array.isArray(args) ? args[0] : undefined, onUnknown));
      // The console questions of 0.3 nodes (method name, one string argument), answered the same way.
      const legacy = legacyConsoleChannelOf(processId);
      await subscribeIPC(presence, legacy, (method: string, args: unknown) => {
        const [value] = Array.isArray(args) ? args : [];
        if (method === "sessionsOf") return answer(handlers, { kind: method, v: 0, roomId: value }, onUnknown);
        if (method === "sessionsOfUser") return answer(handlers, { kind: method, v: 0, userId: value }, onUnknown);
        return answer(handlers, { kind: method, v: 0 }, onUnknown);
      });
      return () => {
        for (const name of [channel, legacy]) void Promise.resolve(presence.unsubscribe(name)).catch(() => undefined);
      };
    },
  };
}

/** An answering node's error, as requestFromIPC turns it into one (a JSON `{code, message}`, or a message). */
function remoteError(data: unknown): Error {
  let error: unknown = data;
  try {
    error = JSON.parse(String(data));
  } catch {
    // a plain message
  }
  if (typeof error === "string") return new Error(error);
  const message = (error as { message?: unknown } | null)?.message;
  return Object.assign(new Error(typeof message === "string" ? message : String(data)), { code: (error as { code?: unknown } | null)?.code });
}

/** Node calls between nodes of one process (unit tests): same checks, no Redis. */
export function inProcessNodeCalls(): NodeCalls {
  const nodes = new Map<string, { handlers: NodeCallHandlers; onUnknown?: (kind: string, version: unknown) => void }>();
  return {
    async listening(processId) {
      return nodes.has(processId);
    },
    async ask(processId, kind, call, timeoutMs) {
      const node = nodes.get(processId);
      if (!node) {
        await new Promise((resolve) => setTimeout(resolve, timeoutMs));
        throw new Error("ipc_timeout");
      }
      // Through JSON, as over Redis: what a handler answers must survive the wire.
      const wire = JSON.parse(JSON.stringify({ ...call, kind, v: NODE_CALLS_VERSION }));
      return JSON.parse(JSON.stringify((await answer(node.handlers, wire, node.onUnknown)) ?? null));
    },
    async serve(processId, handlers, onUnknown) {
      nodes.set(processId, { handlers, onUnknown });
      return () => void nodes.delete(processId);
    },
  };
}
