/**
 * Presence channels rooms talk over, across the cluster (Redis pub/sub, or in-process on one node).
 * Payloads are JSON.
 */

/** A user's inbox: `notify` payloads (a Message). */
export const inboxChannel = (userId: string) => `parley:inbox:${userId}`;

/** Membership changes of a group: `{ userId, member }`. */
export const membersChannel = (conversationId: string) => `parley:members:${conversationId}`;

export type MembershipChange = { userId: string; member: boolean };
