/**
 * Who the load clients are. Each run draws a random id that starts every user id and clientMsgId,
 * so what one run leaves behind (rate-limit buckets, per-user join counts) never meets the next.
 * Identities are development ones (join options), HS256 tokens signed here, or tokens from a file.
 */
import { randomBytes } from "node:crypto";
import { SignJWT } from "jose";
import { parleyChatNamed } from "./clients/colyseus.ts";

/** How the clients prove who they are. */
export type IdentitySource =
  /** Join options `{ userId, name }`: the node must run without JWT_SECRET. */
  | { kind: "development" }
  /** HS256 tokens signed with the node's JWT_SECRET, one per user. */
  | { kind: "jwt-secret"; secret: Uint8Array }
  /** Ready-made tokens, handed out round-robin: the users are whoever the tokens name. */
  | { kind: "token-file"; tokens: readonly string[] };

/** One client's place and credentials. */
export type Seat = {
  conversation: number;
  user: number;
  /** Position in the whole run (0-based), for round-robin choices. */
  index: number;
  conversationId: string;
  /** The user id this seat stands for (a token from a file may name another). */
  userId: string;
  /** Development identity for the join options; undefined when a token is used. */
  identity: { userId: string; name: string } | undefined;
  token: string | undefined;
  /** This client also joins its inbox room. */
  withInbox: boolean;
};

/** Lifetime of a signed token: a run longer than this would see UNAUTHENTICATED on rejoin. */
const TOKEN_LIFETIME = "1h";

/** A fresh run id: 6 characters of [0-9a-z]. */
export function newRunId(): string {
  return BigInt(`0x${randomBytes(5).toString("hex")}`)
    .toString(36)
    .padStart(8, "0")
    .slice(-6);
}

/** User ids of a run: `lt<runId>-<conversation>_<user>`. */
export function userPrefixOf(runId: string): string {
  return `lt${runId}-`;
}

/** Read a token file: one JWT per line; blank lines and lines starting with # are skipped. */
export function parseTokenFile(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
}

/** Sign a user token the way an identity service would: sub, name, exp in an hour. */
export function signUserToken(secret: Uint8Array, userId: string, name: string): Promise<string> {
  return new SignJWT({ name }).setProtectedHeader({ alg: "HS256" }).setSubject(userId).setIssuedAt().setExpirationTime(TOKEN_LIFETIME).sign(secret);
}

/** Builds each seat of a run. */
export function seatMaker(options: { runId: string; conversationPrefix: string; source: IdentitySource; inboxPerConversation: boolean }) {
  const naming = parleyChatNamed({ userPrefix: userPrefixOf(options.runId), conversationPrefix: options.conversationPrefix });
  return async (conversation: number, user: number, index: number): Promise<Seat> => {
    const { conversationId, userId, name } = naming.joinOptions(conversation, user) as { conversationId: string; userId: string; name: string };
    const { source } = options;
    const token = source.kind === "jwt-secret" ? await signUserToken(source.secret, userId, name) : source.kind === "token-file" ? source.tokens[index % source.tokens.length] : undefined;
    return {
      conversation,
      user,
      index,
      conversationId,
      userId,
      identity: source.kind === "development" ? { userId, name } : undefined,
      token,
      // One inbox per conversation keeps the inbox load bounded by --rooms.
      withInbox: options.inboxPerConversation && user === 0,
    };
  };
}
