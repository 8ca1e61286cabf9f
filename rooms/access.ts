import { RefusalError } from "../schema/codes.ts";
import { parseConversationId, type Conversation } from "./conversation-id.ts";
import type { Identity } from "./identity.ts";

/** Where group membership is read from (the history store, behind a timeout). */
export type GroupMembers = (groupId: string) => Promise<readonly string[]>;

/**
 * Decide whether `identity` may join or read `conversationId`. Throws INVALID for a malformed id,
 * FORBIDDEN for someone who is not a member, and lets a failed membership read through (the caller
 * answers UNAVAILABLE).
 */
export async function authorizeConversation(identity: Identity, conversationId: unknown, groupMembers: GroupMembers): Promise<Conversation> {
  const conversation = parseConversationId(conversationId);
  if ("invalid" in conversation) throw new RefusalError("INVALID", conversation.invalid);
  switch (conversation.kind) {
    case "channel":
      return conversation;
    case "dm":
      if (!conversation.members.includes(identity.userId)) throw new RefusalError("FORBIDDEN", "only its two users may join a dm");
      return conversation;
    case "group":
      if (!(await groupMembers(conversation.id)).includes(identity.userId)) throw new RefusalError("FORBIDDEN", "not a member of this group");
      return conversation;
  }
}
