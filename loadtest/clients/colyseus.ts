/**
 * Colyseus clients on the stock @colyseus/sdk 0.18: Parley's `chat` room (protocol v1: `send` is a
 * request answered once durable) and the stock broadcast room (a plain message, no reply).
 */
import "./prefer-ws.ts";
import { Client, type Room } from "@colyseus/sdk";
import type { Connector, Member, MemberEvents } from "../workload.ts";

/** How members of one system join and send. */
export type ColyseusFlavour = {
  roomName: string;
  /** Join options of a member; Parley's development identities ride here. */
  joinOptions(conversation: number, user: number): Record<string, string>;
  /** True when a send is a request with a reply (Parley), false for a one-way message. */
  acked: boolean;
};

/** How a run names its users and conversations. */
export type ParleyNaming = {
  /** Starts every user id: `<userPrefix><conversation>_<user>`. @default "load" */
  userPrefix?: string;
  /** Conversations are `channel:<conversationPrefix><n>`. @default "load" */
  conversationPrefix?: string;
};

/**
 * Parley's protocol v1 `chat` room with development identities named by `naming`. A load run
 * passes a per-run user prefix, so the rate limits a run leaves behind never meet the next run.
 */
export function parleyChatNamed({ userPrefix = "load", conversationPrefix = "load" }: ParleyNaming = {}): ColyseusFlavour {
  return {
    roomName: "chat",
    joinOptions: (conversation, user) => ({ conversationId: `channel:${conversationPrefix}${conversation}`, userId: `${userPrefix}${conversation}_${user}`, name: `Load ${conversation}/${user}` }),
    acked: true,
  };
}

/** Parley's protocol v1 `chat` room with development identities `load<n>_<user>` in `channel:load<n>` (the benchmarks' naming). */
export const parleyChat: ColyseusFlavour = parleyChatNamed();

/** The stock broadcast-only room of servers/colyseus-stock.ts. */
export const stockBroadcast: ColyseusFlavour = {
  roomName: "broadcast",
  joinOptions: (conversation) => ({ conversationId: `load${conversation}` }),
  acked: false,
};

/** The refusal code of a rejected request, or a local name for a timeout or a dead connection. */
function errorCode(error: unknown): string {
  const reason = (error as { reason?: { code?: unknown } }).reason;
  if (typeof reason?.code === "string") return reason.code;
  const message = error instanceof Error ? error.message : String(error);
  if (message.includes("timed out")) return "ACK_TIMEOUT";
  if (message.includes("not open")) return "NOT_OPEN";
  return "REQUEST_FAILED";
}

/** Connect members through the SDK; `endpoints` are tried round-robin by conversation (a cluster). */
export function colyseusConnector(endpoints: string[], flavour: ColyseusFlavour, ackTimeoutMs = 10_000): Connector {
  const clients = endpoints.map((endpoint) => new Client(endpoint));
  return async (conversation: number, user: number, events: MemberEvents): Promise<Member> => {
    const client = clients[(conversation + user) % clients.length]!;
    const room: Room = await client.joinOrCreate(flavour.roomName, flavour.joinOptions(conversation, user));
    room.onMessage("message", (message: { text: string }) => events.onDelivery(message.text));
    room.onMessage("*", () => undefined);
    let closing = false;
    room.onLeave((code) => closing || events.onError(`LEFT_${code}`));
    return {
      send(text, clientMsgId) {
        if (!flavour.acked) return room.send("send", { text });
        const started = performance.now();
        room.request("send", { clientMsgId, text }, { timeout: ackTimeoutMs }).then(
          () => events.onAck(performance.now() - started),
          (error: unknown) => events.onError(errorCode(error)),
        );
      },
      async close() {
        closing = true;
        await room.leave().catch(() => undefined);
      },
    };
  };
}
