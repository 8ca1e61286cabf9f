/**
 * Who a client is. Rooms see only this interface; server/identity.ts implements it with JWTs
 * (jose, HS256) or with development identities.
 */

export const Roles = ["moderator", "admin", "service"] as const;
export type Role = (typeof Roles)[number];

/** A verified user. */
export type Identity = { userId: string; name: string; roles: readonly Role[] };

/** Turns a token (or, in development, join options) into an Identity. */
export interface Authenticator {
  /** Resolve the identity, or throw a RefusalError with code UNAUTHENTICATED. */
  authenticate(token: string | undefined, options: unknown): Promise<Identity>;
}
