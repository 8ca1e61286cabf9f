/**
 * What the HTTP API needs from the cluster: send into a conversation through its one live room,
 * wherever it runs (creating it on the least loaded host when none is live), and publish group
 * membership changes to that room.
 */
import { matchMaker, type IRoomCache } from "@colyseus/core";
import { membersChannel, type MembershipChange } from "../../rooms/channels.ts";
import type { ServiceSend } from "../../rooms/chat-room.ts";

const ATTEMPTS = 3;

/** Route a service send to the conversation's room; retries when the room moves under it. */
export async function sendToConversation(conversationId: string, send: ServiceSend, timeoutMs: number): Promise<unknown> {
  let lastError: unknown;
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    try {
      const room: IRoomCache = (await matchMaker.findOneRoomAvailable("chat", { conversationId })) ?? (await matchMaker.createRoom("chat", { conversationId }));
      return await matchMaker.remoteRoomCall(room.roomId, "serviceSend" as never, [send], timeoutMs);
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

/** Tell the group's live room, wherever it runs; rejects when Redis does not take the message. */
export async function publishMembership(conversationId: string, change: MembershipChange): Promise<void> {
  await matchMaker.presence.publish(membersChannel(conversationId), change);
}
