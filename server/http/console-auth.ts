/**
 * Who may use the ops console, and the guards on its state-changing calls. An operator is the
 * monitor's basic-auth user (MONITOR_USER / MONITOR_PASSWORD, role admin), or a JWT with role
 * `admin` or `moderator`, sent as a bearer token or kept in an HttpOnly, SameSite=Strict cookie set
 * by the sign-in form. Every POST carries a CSRF token bound to the operator (an HMAC under a key
 * derived from the node's secrets, so every node of a cluster accepts it), and any API call or POST
 * made by another site's page is refused: Colyseus answers every CORS preflight with the caller's
 * origin allowed, so the browser alone would not stop it.
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { Request } from "express";
import type { Authenticator, Identity } from "../../rooms/identity.ts";
import { RefusalError } from "../../schema/codes.ts";
import type { Config } from "../config.ts";

/** The cookie holding a signed-in moderator's JWT (path /admin only). */
export const SESSION_COOKIE = "parley_console";

export type ConsoleAuth = {
  /** Whether any way to sign in is configured; without one the console is not mounted. */
  readonly enabled: boolean;
  /** Whether basic auth is offered (the browser's own sign-in prompt). */
  readonly basic: boolean;
  /** The operator of a request, or UNAUTHENTICATED / FORBIDDEN. */
  identify(req: Request): Promise<Identity>;
  /** A token the operator's page echoes in `X-CSRF-Token` on every POST. */
  csrfTokenFor(identity: Identity): string;
  /** FORBIDDEN unless the request carries the operator's CSRF token. */
  checkCsrf(req: Request, identity: Identity): void;
  /** The identity a JWT stands for, if it is an operator's (for the sign-in form). */
  verifyToken(token: string): Promise<Identity>;
};

const OPERATOR_ROLES = ["admin", "moderator"] as const;

/** Build the console's authentication from the node's config and user authenticator. */
export function createConsoleAuth(config: Pick<Config, "monitor" | "jwtSecret">, authenticator: Authenticator): ConsoleAuth {
  const csrfKey = createHash("sha256")
    .update("parley-console-csrf\u0000")
    .update(config.jwtSecret ?? new Uint8Array())
    .update("\u0000")
    .update(config.monitor?.password ?? "")
    .digest();

  async function verifyToken(token: string): Promise<Identity> {
    if (!config.jwtSecret) throw new RefusalError("UNAUTHENTICATED", "this node takes no tokens (JWT_SECRET is not set)");
    const identity = await authenticator.authenticate(token, undefined);
    if (!identity.roles.some((role) => (OPERATOR_ROLES as readonly string[]).includes(role))) throw new RefusalError("FORBIDDEN", "the console needs role admin or moderator");
    return identity;
  }

  const csrfTokenFor = (identity: Identity) =>
    createHmac("sha256", csrfKey)
      .update(`${identity.userId}\u0000${[...identity.roles].sort().join(",")}`)
      .digest("base64url");

  return {
    enabled: config.monitor !== undefined || config.jwtSecret !== undefined,
    basic: config.monitor !== undefined,
    verifyToken,
    csrfTokenFor,
    async identify(req) {
      const header = req.get("authorization") ?? "";
      if (header.startsWith("Basic ") && config.monitor) {
        const [user, ...rest] = Buffer.from(header.slice(6), "base64").toString("utf8").split(":");
        if (sameText(user ?? "", config.monitor.user) && sameText(rest.join(":"), config.monitor.password)) return { userId: config.monitor.user, name: config.monitor.user, roles: ["admin"] };
        throw new RefusalError("UNAUTHENTICATED", "wrong user or password");
      }
      if (header.startsWith("Bearer ")) return verifyToken(header.slice(7).trim());
      const cookie = cookieOf(req, SESSION_COOKIE);
      if (cookie) return verifyToken(cookie);
      throw new RefusalError("UNAUTHENTICATED", "sign in: the monitor's user and password, or an admin or moderator token");
    },
    checkCsrf(req, identity) {
      const sent = req.get("x-csrf-token") ?? "";
      if (!sameText(sent, csrfTokenFor(identity))) throw new RefusalError("FORBIDDEN", "missing or wrong CSRF token: reload the console");
    },
  };
}

/** FORBIDDEN unless the operator has one of `roles`. */
export function requireOperatorRole(identity: Identity, roles: ReadonlyArray<"admin" | "moderator">): void {
  if (!identity.roles.some((role) => (roles as readonly string[]).includes(role))) throw new RefusalError("FORBIDDEN", `needs role ${roles.join(" or ")}`);
}

/** Compare secrets in constant time (for equal lengths; a length mismatch is simply false). */
function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

function cookieOf(req: Request, name: string): string | undefined {
  for (const part of (req.get("cookie") ?? "").split(";")) {
    const [key, ...value] = part.trim().split("=");
    if (key === name) return decodeURIComponent(value.join("="));
  }
  return undefined;
}
