/**
 * The moderation HTTP API (protocol 1.1): actions, the audit log, reports and blocks. Every
 * state-changing call is a POST, PUT or DELETE, authenticated, authorised by role, idempotent and
 * audited; bodies are checked against the catalogue's schemas.
 */
import express, { type Application } from "express";
import { isName, parseConversationId } from "../../rooms/conversation-id.ts";
import { RefusalError } from "../../schema/codes.ts";
import { handle, identify, optionalLimit, requireRole, type HttpDeps } from "./routes.ts";

/** Mount the moderation routes (before the 404 fallback). */
export function mountModerationRoutes(app: Application, deps: HttpDeps): void {
  app.post("/v1/moderation/actions", express.json({ limit: "16kb" }), async (req, res) => {
    await handle("POST /v1/moderation/actions", req, res, deps, async () => {
      const identity = await identify(req, deps);
      try {
        requireRole(identity, ["moderator", "admin", "service"]);
        return await deps.moderation.act(identity, req.body);
      } catch (error) {
        if (error instanceof RefusalError) deps.metrics.moderationRefused(error.refusal.code);
        throw error;
      }
    });
  });

  app.get("/v1/moderation/actions", async (req, res) => {
    await handle("GET /v1/moderation/actions", req, res, deps, async () => {
      requireRole(await identify(req, deps), ["moderator", "admin"]);
      const { userId, conversationId } = req.query;
      if (userId !== undefined && !isName(userId)) throw new RefusalError("INVALID", "userId must be 1..64 of A-Za-z0-9_-");
      if (conversationId !== undefined && (typeof conversationId !== "string" || "invalid" in parseConversationId(conversationId)))
        throw new RefusalError("INVALID", "conversationId is not a conversation id");
      const actions = await deps.moderation.store.listActions({
        ...(userId !== undefined && { userId }),
        ...(conversationId !== undefined && { conversationId: conversationId as string }),
        limit: optionalLimit(req.query.limit, 100, 500),
      });
      return { actions };
    });
  });

  app.get("/v1/moderation/reports", async (req, res) => {
    await handle("GET /v1/moderation/reports", req, res, deps, async () => {
      requireRole(await identify(req, deps), ["moderator", "admin"]);
      const reports = await deps.moderation.store.listReports(optionalLimit(req.query.limit, 100, 500));
      // The console's resolution is not part of protocol 1.1's listing.
      return { reports: reports.map(({ resolution: _consoleOnly, ...report }) => report) };
    });
  });

  for (const method of ["put", "delete"] as const) {
    app[method]("/v1/users/:userId/blocks/:blockedId", async (req, res) => {
      await handle(`${method.toUpperCase()} /v1/users/:userId/blocks/:blockedId`, req, res, deps, async () => {
        const identity = await identify(req, deps);
        const { userId, blockedId } = req.params as { userId: string; blockedId: string };
        if (!isName(userId) || !isName(blockedId)) throw new RefusalError("INVALID", "user ids are 1..64 of A-Za-z0-9_-");
        if (identity.userId !== userId) throw new RefusalError("FORBIDDEN", "only that user may change their blocks");
        if (blockedId === userId) throw new RefusalError("INVALID", "a user cannot block themself");
        const blocked = method === "put";
        await deps.moderation.setBlock(userId, blockedId, blocked);
        return { userId, blockedId, blocked };
      });
    });
  }
}
