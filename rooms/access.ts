import { RefusalError } from "./chat-errors.ts";
import { parseConversationId, type Conversation } from "./conversation-id.ts";
import type { Identity } from "./identity.ts";

/**
 * Decide whether `identity` may join or read `conversationId`. Throws INVALID for a malformed id and
 * FORBIDDEN for someone who is not a member.
 */
export function authorizeConversation(identity: Identity, conversationId: unknown): Conversation {
  const conversation = parseConversationId(conversationId);
  if ("invalid" in conversation) throw new RefusalError("INVALID", conversation.invalid);
  switch (conversation.kind) {
    case "channel":
      return conversation;
    case "dm":
      if (!conversation.members.includes(identity.userId)) throw new RefusalError("FORBIDDEN", "only its two users may join a dm");
      return conversation;
    case "group":
      // TODO(#4): group membership is managed over HTTP by the cluster issue; until then no one is a member.
      throw new RefusalError("FORBIDDEN", "not a member of this group");
  }
}
