/**
 * Load members on Parley's resilient client kit (client/): each is a ParleyClient that rejoins
 * through any endpoint, resends from its outbox and delivers each message once, in order. What a
 * person running `npm run loadtest` sees is then what an app built on the kit sees.
 *
 * The kit hides what it retries (a RATE_LIMITED send waits and goes again), so every room handle
 * it gets is wrapped: each request on the wire, and each refusal, is reported with its code.
 */
import "./prefer-ws.ts";
import { createSdkConnector, ParleyClient, ParleyError, RequestFailure, type Connector, type RoomHandle } from "../../client/index.ts";
import { Limits } from "../../schema/index.ts";
import type { Seat } from "../identities.ts";
import { MIX_PAGES, type LoadMember, type Operation, type Reports, type RequestKind } from "../scenarios.ts";

export type KitMemberOptions = {
  endpoints: readonly string[];
  /** A request (a send included) unanswered this long counts as no answer. */
  requestTimeoutMs: number;
  /** A join through one endpoint that takes longer is abandoned. */
  joinTimeoutMs: number;
  /** Join attempts in a row before a room gives up with UNREACHABLE (first join and rejoins alike). */
  maxJoinAttempts: number;
  reports: Reports;
};

/** Join one seat through the kit; `signal` abandons the join (the seating deadline passed). */
export async function joinKitMember(seat: Seat, options: KitMemberOptions, signal: AbortSignal): Promise<LoadMember> {
  const { reports } = options;
  const observed = observeConnector(createSdkConnector(), reports);
  const client = new ParleyClient({
    endpoints: rotate(options.endpoints, seat.index),
    token: seat.token,
    identity: seat.identity,
    requestTimeoutMs: options.requestTimeoutMs,
    joinTimeoutMs: options.joinTimeoutMs,
    maxJoinAttempts: options.maxJoinAttempts,
    connector: observed.connector,
  });
  const abandon = () => client.close();
  signal.addEventListener("abort", abandon, { once: true });
  client.on("message", (message) => reports.delivery(message.clientMsgId, message.text));
  client.on("rejoined", () => reports.connection("REJOIN"));
  try {
    const conversation = await client.join(seat.conversationId, { afterSeq: "newest", maxOutstanding: 1000 });
    const inbox = seat.withInbox ? await client.inbox() : undefined;
    // Seated: the deadline no longer concerns this client.
    signal.removeEventListener("abort", abandon);
    client.on("error", ({ error }) => reports.connection(`GAVE_UP_${error.code}`));

    /** Time an operation and report how it ended. */
    const settle = (operation: Operation, work: () => Promise<unknown>, clientMsgId?: string) => {
      const started = performance.now();
      work().then(
        () => reports.answered(operation, performance.now() - started, clientMsgId),
        (error: unknown) => reports.failed(operation, codeOf(error), clientMsgId),
      );
    };
    return {
      conversation: seat.conversation,
      hasInbox: inbox !== undefined,
      send: (clientMsgId, text) => settle("send", () => conversation.send(text, { clientMsgId }), clientMsgId),
      history: () => settle("history", () => conversation.history({ limit: MIX_PAGES.historyLimit })),
      // The kit has no sync of its own (it syncs on every rejoin): ask the current room directly.
      sync: () =>
        settle("sync", async () => {
          const room = observed.current("chat");
          if (!room) throw new ParleyError("CLOSED", "not connected");
          await room.request("sync", { afterSeq: Math.max(0, conversation.lastSeq - MIX_PAGES.syncBehind), limit: MIX_PAGES.syncLimit }, options.requestTimeoutMs);
        }),
      typing: () => conversation.typing(),
      unread: () => settle("unread", () => (inbox ? inbox.unread() : Promise.reject(new ParleyError("CLOSED", "no inbox")))),
      async close() {
        client.close();
      },
    };
  } catch (error) {
    client.close();
    throw error;
  }
}

/** How an operation failed: the kit's code, a refusal's code, or what happened to the attempt. */
function codeOf(error: unknown): string {
  if (error instanceof ParleyError) return error.code;
  if (!(error instanceof RequestFailure)) return "FAILED";
  const { failure } = error;
  return failure.kind === "refused" ? failure.refusal.code : failure.kind === "timeout" ? "TIMEOUT" : failure.kind === "closed" ? "CLOSED" : "FAULT";
}

/** The tally's name for a request the kit makes: its own catch-up reads are told apart by their page size. */
function kindOf(type: string, payload: unknown): RequestKind {
  const limit = (payload as { limit?: unknown } | undefined)?.limit;
  if (type === "send" || type === "unread") return type;
  if (type === "history") return limit === 1 ? "catch-up" : "history";
  if (type === "sync") return limit === Limits.syncMax ? "catch-up" : "sync";
  return "other";
}

/** A connector that reports every join failure, request and refusal, and knows each room's current handle. */
function observeConnector(inner: Connector, reports: Reports): { connector: Connector; current(roomName: string): RoomHandle | undefined } {
  const handles = new Map<string, RoomHandle>();
  const connector: Connector = {
    async join(endpoint, roomName, joinOptions, token, timeoutMs) {
      let handle: RoomHandle;
      try {
        handle = await inner.join(endpoint, roomName, joinOptions, token, timeoutMs);
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        reports.joinAttemptFailed(typeof code === "string" ? code : /timed out/.test(String(error)) ? "TIMEOUT" : "CONNECT_FAILED");
        throw error;
      }
      const observed: RoomHandle = {
        endpoint: handle.endpoint,
        nodeAddress: handle.nodeAddress,
        async request<T>(type: string, payload: unknown, requestTimeoutMs: number): Promise<T> {
          const kind = kindOf(type, payload);
          reports.attempt(kind);
          try {
            return await handle.request<T>(type, payload, requestTimeoutMs);
          } catch (error) {
            if (error instanceof RequestFailure && error.failure.kind === "refused") reports.refusal(kind, error.failure.refusal.code);
            throw error;
          }
        },
        send(type, payload) {
          if (type === "typing") reports.attempt("typing");
          handle.send(type, payload);
        },
        onMessage: (type, listener) => handle.onMessage(type, listener),
        onClose(listener) {
          handle.onClose((code, reason) => {
            if (handles.get(roomName) === observed) handles.delete(roomName);
            if (code !== 4000) reports.connection(`LEFT_${code}`);
            listener(code, reason);
          });
        },
        ping: (pingTimeoutMs) => handle.ping(pingTimeoutMs),
        abandon: () => handle.abandon(),
        leave: () => handle.leave(),
      };
      handles.set(roomName, observed);
      return observed;
    },
  };
  return { connector, current: (roomName) => handles.get(roomName) };
}

function rotate<T>(items: readonly T[], by: number): T[] {
  const start = by % items.length;
  return [...items.slice(start), ...items.slice(0, start)];
}
