/**
 * Members on Parley's resilient client kit (client/): each is a ParleyClient that rejoins through
 * any endpoint, resends from its outbox and delivers each message once, in order. What a person
 * running `npm run loadtest` against a cluster sees is then what an app built on the kit sees.
 */
import "./prefer-ws.ts";
import { ParleyClient, ParleyError } from "../../client/index.ts";
import type { Connector, Member, MemberEvents } from "../workload.ts";
import { parleyChat } from "./colyseus.ts";

/** Connect members through the kit; every member knows every endpoint. */
export function kitConnector(endpoints: string[], ackTimeoutMs = 10_000): Connector {
  return async (conversation: number, user: number, events: MemberEvents): Promise<Member> => {
    const { conversationId, userId, name } = parleyChat.joinOptions(conversation, user) as { conversationId: string; userId: string; name: string };
    const client = new ParleyClient({ endpoints: rotate(endpoints, conversation + user), identity: { userId, name }, requestTimeoutMs: ackTimeoutMs });
    client.on("message", (message) => events.onDelivery(message.text));
    client.on("state", (state) => state === "reconnecting" && events.onError("REJOIN"));
    const joined = await client.join(conversationId, { afterSeq: "newest", maxOutstanding: 1000 });
    return {
      send(text, clientMsgId) {
        const started = performance.now();
        joined.send(text, { clientMsgId }).then(
          () => events.onAck(performance.now() - started),
          (error: unknown) => events.onError(error instanceof ParleyError ? error.code : "SEND_FAILED"),
        );
      },
      async close() {
        client.close();
      },
    };
  };
}

function rotate<T>(items: readonly T[], by: number): T[] {
  const start = by % items.length;
  return [...items.slice(start), ...items.slice(0, start)];
}
