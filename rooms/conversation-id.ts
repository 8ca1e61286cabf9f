/**
 * Conversation ids of protocol v1: `channel:<name>`, `group:<id>` and `dm:<a>:<b>` with a < b.
 */

const NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** A parsed conversation id. */
export type Conversation = { kind: "channel"; id: string; name: string } | { kind: "group"; id: string; groupId: string } | { kind: "dm"; id: string; members: readonly [string, string] };

/** True for a user id, group id or channel name: 1..64 of A-Za-z0-9_-. */
export function isName(value: unknown): value is string {
  return typeof value === "string" && NAME.test(value);
}

/**
 * Parse a conversation id, or return a reason it is invalid. A dm id must be canonical: its two
 * users distinct and in code-point order.
 */
export function parseConversationId(value: unknown): Conversation | { invalid: string } {
  if (typeof value !== "string") return { invalid: "conversationId must be a string" };
  if (value.length > 200) return { invalid: "conversationId is too long" };
  const parts = value.split(":");
  const [kind, first, second] = parts;
  if (kind === "channel" && parts.length === 2 && isName(first)) {
    return { kind, id: value, name: first };
  }
  if (kind === "group" && parts.length === 2 && isName(first)) {
    return { kind, id: value, groupId: first };
  }
  if (kind === "dm" && parts.length === 3 && isName(first) && isName(second)) {
    if (!(first < second)) return { invalid: "a dm id names two different users in code-point order: dm:<a>:<b> with a < b" };
    return { kind, id: value, members: [first, second] };
  }
  return { invalid: "conversationId must be channel:<name>, group:<id> or dm:<a>:<b> (1..64 of A-Za-z0-9_-)" };
}

/** The canonical dm id for two users. */
export function dmIdFor(a: string, b: string): string {
  return a < b ? `dm:${a}:${b}` : `dm:${b}:${a}`;
}
