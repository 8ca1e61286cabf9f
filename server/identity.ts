/**
 * Identities: HS256 JWTs verified with jose (algorithm pinned, exp required), or development
 * identities taken from join options when no JWT key is configured.
 */
import { errors, jwtVerify, type JWTPayload } from "jose";
import { RefusalError } from "../schema/codes.ts";
import { isName } from "../rooms/conversation-id.ts";
import { Roles, type Authenticator, type Identity, type Role } from "../rooms/identity.ts";
import { cleanText } from "../rooms/text.ts";

const MAX_NAME = 64;

function isRole(value: unknown): value is Role {
  return (Roles as readonly unknown[]).includes(value);
}

function displayName(value: unknown, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== "string") throw new RefusalError("UNAUTHENTICATED", "name must be a string");
  // Unpaired bidi controls removed: a name cannot reverse the message shown after it.
  const { text: name, length, invisible } = cleanText(value);
  if (invisible || length > MAX_NAME) throw new RefusalError("UNAUTHENTICATED", `name must be 1..${MAX_NAME} visible characters`);
  return name;
}

/** Verify HS256 tokens signed with `secret`. */
export function createJwtAuthenticator(secret: Uint8Array): Authenticator {
  return {
    async authenticate(token) {
      if (!token) throw new RefusalError("UNAUTHENTICATED", "a token is required");
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, secret, { algorithms: ["HS256"], requiredClaims: ["exp", "sub"] }));
      } catch (error) {
        const why = error instanceof errors.JWTExpired ? "the token has expired" : "the token is not valid";
        throw new RefusalError("UNAUTHENTICATED", why);
      }
      if (!isName(payload.sub)) throw new RefusalError("UNAUTHENTICATED", "sub must be 1..64 of A-Za-z0-9_-");
      const roles = payload.roles === undefined ? [] : payload.roles;
      if (!Array.isArray(roles) || !roles.every(isRole)) {
        throw new RefusalError("UNAUTHENTICATED", `roles must be a list of ${Roles.join(", ")}`);
      }
      return { userId: payload.sub, name: displayName(payload.name, payload.sub), roles } satisfies Identity;
    },
  };
}

/** Development only: trust `{ userId, name }` from join options (or the `userId` query of HTTP calls). */
export function createDevelopmentAuthenticator(): Authenticator {
  return {
    async authenticate(_token, options) {
      const { userId, name, roles } = (options ?? {}) as { userId?: unknown; name?: unknown; roles?: unknown };
      if (!isName(userId)) throw new RefusalError("UNAUTHENTICATED", "development identity needs userId: 1..64 of A-Za-z0-9_-");
      const granted = Array.isArray(roles) ? roles.filter(isRole) : [];
      return { userId, name: displayName(name, userId), roles: granted };
    },
  };
}
