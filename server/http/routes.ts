/**
 * The HTTP surface of a node: health, readiness, metrics and the v1 API.
 */
import express, { type Application, type Request, type Response } from "express";
import { z } from "zod";
import { authorizeConversation } from "../../rooms/access.ts";
import type { MembershipChange } from "../../rooms/channels.ts";
import type { ServiceSend } from "../../rooms/chat-room.ts";
import { isName, parseConversationId } from "../../rooms/conversation-id.ts";
import type { Identity, Role } from "../../rooms/identity.ts";
import { httpStatusOf, RefusalError } from "../../schema/codes.ts";
import { withTimeout } from "../../rooms/timeout.ts";
import type { HistoryStore } from "../../rooms/history-store.ts";
import type { Authenticator } from "../../rooms/identity.ts";
import type { Logger } from "../logger.ts";
import type { Metrics } from "../metrics.ts";
import type { Moderation } from "../moderation.ts";
import { viewFor } from "../../rooms/moderation.ts";
import { mountModerationRoutes } from "./moderation-routes.ts";

export type HttpDeps = {
  history: HistoryStore;
  authenticator: Authenticator;
  metrics: Metrics;
  logger: Logger;
  /** True once the node started draining. */
  isDraining: () => boolean;
  /** Send into a conversation through its live room, wherever it runs (created if needed). */
  sendToConversation(conversationId: string, send: ServiceSend): Promise<unknown>;
  /** Tell the group's live room, wherever it runs, that a member was added or removed. */
  publishMembership(conversationId: string, change: MembershipChange): Promise<void>;
  /** Extra readiness checks by name (Redis, ...); each rejects when its dependency is down. */
  readinessChecks: Record<string, () => Promise<void>>;
  storeTimeoutMs: number;
  moderation: Moderation;
};

/**
 * Whether the node serves: the store and Redis answer within min(STORE_TIMEOUT_MS, 2 s) and it is
 * not draining. Also sets the `parley_node_ready` gauge (called by /readyz and a periodic self-check).
 */
export async function readiness(deps: Pick<HttpDeps, "history" | "readinessChecks" | "storeTimeoutMs" | "isDraining" | "metrics">): Promise<{ ready: boolean; checks: Record<string, string> }> {
  const checks: Record<string, string> = {};
  const all = { history: () => deps.history.ping(), ...deps.readinessChecks };
  await Promise.all(
    Object.entries(all).map(async ([name, check]) => {
      try {
        await withTimeout(check(), Math.min(deps.storeTimeoutMs, 2000));
        checks[name] = "ok";
      } catch (error) {
        checks[name] = error instanceof Error ? error.message : "down";
      }
    }),
  );
  if (deps.isDraining()) checks.node = "draining";
  const ready = Object.values(checks).every((value) => value === "ok");
  deps.metrics.nodeReady(ready);
  return { ready, checks };
}

/** Mount every route on the Colyseus express app. */
export function mountRoutes(app: Application, deps: HttpDeps): void {
  app.disable("x-powered-by");

  app.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });

  app.get("/readyz", async (_req, res) => {
    const { ready, checks } = await readiness(deps);
    res.status(ready ? 200 : 503).json({ ready, checks });
  });

  app.get("/metrics", async (_req, res) => {
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });

  app.get("/v1/conversations/:id/messages", async (req, res) => {
    await handle("GET /v1/conversations/:id/messages", req, res, deps, async () => {
      const identity = await identify(req, deps);
      const conversation = await authorizeConversation(identity, req.params.id, (groupId) => deps.history.members(groupId));
      const beforeSeq = optionalSeq(req.query.beforeSeq, "beforeSeq");
      const afterSeq = optionalSeq(req.query.afterSeq, "afterSeq");
      if (beforeSeq !== undefined && afterSeq !== undefined) throw new RefusalError("INVALID", "give beforeSeq or afterSeq, not both");
      const page =
        afterSeq !== undefined
          ? await deps.history.listAfter(conversation.id, afterSeq, optionalLimit(req.query.limit, 500, 500))
          : await deps.history.listBefore(conversation.id, beforeSeq, optionalLimit(req.query.limit, 50, 100));
      // A shadow-muted sender's messages are tombstones to every reader but them.
      return { messages: page.messages.map((message) => viewFor(message, identity.userId)), hasMore: page.hasMore };
    });
  });

  app.post("/v1/conversations/:id/messages", express.json({ limit: "64kb" }), async (req, res) => {
    await handle("POST /v1/conversations/:id/messages", req, res, deps, async () => {
      const identity = await identify(req, deps);
      requireRole(identity, ["service"]);
      const conversation = parseConversationId(req.params.id);
      if ("invalid" in conversation) throw new RefusalError("INVALID", conversation.invalid);
      const body = serviceSendBody.safeParse(req.body);
      if (!body.success) throw new RefusalError("INVALID", firstIssue(body.error));
      const { clientMsgId, text, senderName } = body.data;
      const reply = await deps.sendToConversation(conversation.id, { senderId: identity.userId, senderName: senderName ?? identity.name, clientMsgId, text });
      if (typeof reply === "object" && reply !== null && "refusal" in reply) {
        const { code, message, retryAfterMs } = (reply as { refusal: { code: keyof typeof httpStatusOf; message: string; retryAfterMs?: number } }).refusal;
        throw new RefusalError(code, message, retryAfterMs);
      }
      return reply;
    });
  });

  for (const method of ["put", "delete"] as const) {
    app[method]("/v1/groups/:id/members/:userId", async (req, res) => {
      await handle(`${method.toUpperCase()} /v1/groups/:id/members/:userId`, req, res, deps, async () => {
        const identity = await identify(req, deps);
        requireRole(identity, ["service", "admin"]);
        const { id, userId } = req.params as { id: string; userId: string };
        if (!isName(id) || !isName(userId)) throw new RefusalError("INVALID", "group id and user id are 1..64 of A-Za-z0-9_-");
        const conversationId = `group:${id}`;
        const member = method === "put";
        await deps.history.setMember(conversationId, userId, member);
        // Stored first; a failed publish answers 503 and the caller repeats the (idempotent) call.
        await deps.publishMembership(conversationId, { userId, member });
        deps.logger.info({ conversationId, userId, member, by: identity.userId }, "group membership changed");
        return { conversationId, userId, member };
      });
    });
  }

  mountModerationRoutes(app, deps);

  app.use((_req: Request, res: Response) => {
    res.status(404).json({ error: { code: "NOT_FOUND", message: "no such route" } });
  });

  // A body express.json cannot parse (or too large) is the caller's mistake: a typed 400.
  app.use((error: { status?: number; type?: string }, _req: Request, res: Response, next: (error?: unknown) => void) => {
    if (error.status === undefined || error.status >= 500) return next(error);
    res.status(400).json({ error: { code: "INVALID", message: error.type === "entity.too.large" ? "body is too large" : "body must be JSON" } });
  });
}

/** Run a JSON handler: a RefusalError becomes `{ error: { code, message } }` with its status. */
export async function handle(route: string, _req: Request, res: Response, deps: HttpDeps, body: () => Promise<unknown>): Promise<void> {
  const started = performance.now();
  let status = 200;
  try {
    res.json(await withTimeout(body(), deps.storeTimeoutMs));
  } catch (error) {
    if (error instanceof RefusalError) {
      status = httpStatusOf[error.refusal.code];
      res.status(status).json({ error: { code: error.refusal.code, message: error.refusal.message } });
    } else {
      status = 503;
      deps.logger.warn({ route, err: error instanceof Error ? error.message : String(error) }, "http request failed");
      res.status(status).json({ error: { code: "UNAVAILABLE", message: "the history store cannot answer now; try again" } });
    }
  } finally {
    deps.metrics.httpRequest(route, status, (performance.now() - started) / 1000);
  }
}

const serviceSendBody = z.object({
  clientMsgId: z.string().regex(/^[A-Za-z0-9_\-.:]{1,64}$/, "clientMsgId must be 1..64 of A-Za-z0-9_-.:"),
  text: z.string().max(100_000, "text is far too long"),
  senderName: z.string().trim().min(1).max(64).optional(),
});

export function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  return `${issue?.path.join(".") || "body"}: ${issue?.message ?? "invalid"}`;
}

/**
 * The caller: a bearer JWT, or in development `?userId=&roles=`, or the `X-Parley-User` and
 * `X-Parley-Roles` headers (for routes whose own query has a `userId` filter).
 */
export function identify(req: Request, deps: HttpDeps): Promise<Identity> {
  const headerUser = req.get("x-parley-user");
  const rolesText = headerUser !== undefined ? req.get("x-parley-roles") : req.query.roles;
  const roles = typeof rolesText === "string" ? rolesText.split(",") : [];
  return deps.authenticator.authenticate(bearerToken(req), { userId: headerUser ?? req.query.userId, roles });
}

export function requireRole(identity: Identity, allowed: readonly Role[]): void {
  if (!identity.roles.some((role) => allowed.includes(role))) throw new RefusalError("FORBIDDEN", `needs role ${allowed.join(" or ")}`);
}

function bearerToken(req: Request): string | undefined {
  const header = req.headers.authorization;
  return header?.startsWith("Bearer ") ? header.slice("Bearer ".length).trim() : undefined;
}

function optionalSeq(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || !/^\d{1,15}$/.test(value)) throw new RefusalError("INVALID", `${name} must be a whole number`);
  return Number(value);
}

export function optionalLimit(value: unknown, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "string" || !/^\d{1,4}$/.test(value) || Number(value) < 1 || Number(value) > max) {
    throw new RefusalError("INVALID", `limit must be 1..${max}`);
  }
  return Number(value);
}
