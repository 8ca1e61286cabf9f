/**
 * Moderation inside a `chat` room (protocol 1.1): the rules a send meets (mute, shadow mute, slow
 * mode, blocks, the content filter), the `delete` and `report` requests, tombstones shown in place,
 * and moderation changes reaching the room's live sessions (ban and kick remove them with 4403).
 * Every decision comes from the node's memory; the store is written only by deletes and reports.
 */
import type { Client } from "@colyseus/core";
import { CloseCodes } from "../schema/index.ts";
import type { Conversation } from "./conversation-id.ts";
import type { ConversationLog, Draft } from "./conversation-log.ts";
import type { Message, MessagePage } from "./history-store.ts";
import type { Identity } from "./identity.ts";
import { viewFor, type ModerationChange } from "./moderation.ts";
import type { ChatRoomDeps, RoomLog } from "./room-deps.ts";
import { beyondLastSeq, isRefused, refused, type Refused } from "./room-kit.ts";
import { withTimeout } from "./timeout.ts";

type ChatClient = Client<{ auth: { identity: Identity; conversationId: string } }>;

/** What of a room the moderation rules use. */
export type ModeratedRoom = {
  readonly conversationId: string;
  readonly conversation: Conversation;
  readonly log: ConversationLog;
  readonly clients: Iterable<ChatClient>;
  readonly roomLog: RoomLog;
  broadcast(type: string, payload: unknown): void;
};

/** How many messages before a reported one its report keeps as context. */
const REPORT_CONTEXT = 10;

/** The moderation of one room type, bound to the node's dependencies. */
export function chatModeration(deps: Pick<ChatRoomDeps, "moderation" | "textFilter" | "history" | "limits" | "metrics">) {
  const { moderation } = deps;
  const timed = <T>(promise: Promise<T>) => withTimeout(promise, deps.limits.storeTimeoutMs);

  /** The content filter: the text to store with its mark, or INVALID in refuse mode. */
  function filterText(text: string): Refused | { text: string; marks: Pick<Draft, "filtered"> } {
    const verdict = deps.textFilter.check(text);
    if (verdict.action === "refuse") return refused("INVALID", verdict.message);
    return verdict.action === "mask" ? { text: verdict.text, marks: { filtered: true } } : { text, marks: {} };
  }

  return {
    filterText,

    /**
     * The rules a send meets, in order: mute, a dm to someone who blocked the sender, slow mode,
     * the content filter. Returns the draft's moderation marks, or the refusal.
     */
    checkSend(room: ModeratedRoom, identity: Identity, text: string, lastSendAt: Map<string, number>): Refused | { text: string; marks: Pick<Draft, "shadow" | "filtered"> } {
      const now = Date.now();
      const verdict = moderation.state.sendVerdict(identity.userId, room.conversationId, now);
      if (verdict.kind === "refused") return { refusal: verdict.refusal };
      if (room.conversation.kind === "dm") {
        const other = room.conversation.members.find((member) => member !== identity.userId);
        if (other !== undefined && moderation.state.hasBlocked(other, identity.userId)) return refused("FORBIDDEN", "this user does not take your messages");
      }
      const intervalMs = moderation.state.slowModeMs(room.conversationId);
      if (intervalMs > 0 && !moderation.isExempt(identity.roles)) {
        const waitMs = (lastSendAt.get(identity.userId) ?? -Infinity) + intervalMs - now;
        if (waitMs > 0) return refused("RATE_LIMITED", "slow mode is on in this conversation", waitMs);
      }
      const filtered = filterText(text);
      if (isRefused(filtered)) return filtered;
      return { text: filtered.text, marks: { ...filtered.marks, ...(verdict.kind === "shadow" && { shadow: true as const }) } };
    },

    /** Deliver durable messages: a shadow-muted sender's message goes whole to them, as a tombstone to everyone else. */
    deliver(room: ModeratedRoom, message: Message): void {
      if (message.shadow === undefined) return room.broadcast("message", message);
      for (const client of room.clients) client.send("message", viewFor(message, client.auth?.identity.userId));
    },

    /** A page as `readerId` may see it. */
    viewPage(page: MessagePage, readerId: string): MessagePage {
      if (!page.messages.some((message) => message.shadow)) return page;
      return { messages: page.messages.map((message) => viewFor(message, readerId)), hasMore: page.hasMore };
    },

    /** `delete { seq }`: the sender's own message, or any as a moderator or admin. */
    async deleteMessage(room: ModeratedRoom, identity: Identity, seq: number): Promise<Refused | Record<string, never>> {
      const beyond = beyondLastSeq(seq, room.log.lastSeq);
      if (beyond) return beyond;
      const message = room.log.messageAt(seq) ?? (await timed(deps.history.listAfter(room.conversationId, seq - 1, 1))).messages[0];
      if (message?.seq !== seq) return refused("INVALID", `no message at seq ${seq}`);
      const asModerator = moderation.isExempt(identity.roles);
      if (message.senderId !== identity.userId && !asModerator) return refused("FORBIDDEN", "only its sender or a moderator may delete a message");
      if (message.deleted) return {};
      await timed(deps.history.tombstone(room.conversationId, seq));
      tombstoneInRoom(room, seq);
      await moderation.messageDeleted(identity, room.conversationId, seq, asModerator && message.senderId !== identity.userId);
      return {};
    },

    /** `report { seq, reason }`: recorded once per reporter and message, with the message and up to 10 before it as stored. */
    async reportMessage(room: ModeratedRoom, identity: Identity, seq: number, reason: string): Promise<Refused | { reportId: string }> {
      const beyond = beyondLastSeq(seq, room.log.lastSeq);
      if (beyond) return beyond;
      const page = room.log.readBefore(seq + 1, REPORT_CONTEXT + 1) ?? (await timed(deps.history.listBefore(room.conversationId, seq + 1, REPORT_CONTEXT + 1)));
      if (page.messages.at(-1)?.seq !== seq) return refused("INVALID", `no message at seq ${seq}`);
      // Moderators see what was stored, a shadow-muted sender's text included.
      const context = page.messages.map(({ shadow: _shadow, ...stored }) => stored);
      const { reportId } = await moderation.report({ conversationId: room.conversationId, seq, reporterId: identity.userId, reason, at: new Date().toISOString(), context });
      return { reportId };
    },

    /** A change that reached the node: act on this room's live sessions and messages. */
    changed(room: ModeratedRoom, change: ModerationChange): void {
      switch (change.kind) {
        case "sanction": {
          const { sanction } = change;
          if (sanction.kind !== "ban" || (sanction.conversationId !== undefined && sanction.conversationId !== room.conversationId)) return;
          return removeSessions(room, sanction.userId, "banned", sanction.until === undefined ? undefined : sanction.until - Date.now());
        }
        case "kick":
          if (change.conversationId === room.conversationId) removeSessions(room, change.userId, "kicked");
          return;
        case "delete":
          if (change.conversationId === room.conversationId) tombstoneInRoom(room, change.seq);
          return;
        default:
          return;
      }
    },
  };
}

/** Show the tombstone from memory too, and tell everyone in the room. */
function tombstoneInRoom(room: ModeratedRoom, seq: number): void {
  room.log.tombstone(seq);
  room.broadcast("deleted", { conversationId: room.conversationId, seq });
}

/** Tell a user's sessions why they are removed, then close them with 4403: they do not rejoin by themselves. */
function removeSessions(room: ModeratedRoom, userId: string, reason: "banned" | "kicked", retryAfterMs?: number): void {
  let removed = 0;
  for (const client of room.clients) {
    if (client.auth?.identity.userId !== userId) continue;
    client.send("removed", { conversationId: room.conversationId, reason, ...(retryAfterMs !== undefined && retryAfterMs > 0 && { retryAfterMs: Math.ceil(retryAfterMs) }) });
    client.leave(CloseCodes.REMOVED.code);
    removed++;
  }
  if (removed > 0) room.roomLog.info({ userId, reason, sessions: removed }, "user removed from the conversation by moderation");
}
