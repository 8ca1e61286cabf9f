/**
 * The console's private JSON API, below /admin/api. Reads need role `moderator` or `admin`; every
 * change is a POST with the CSRF token and goes through the moderation service (`act`): enforced on
 * every node, idempotent by `actionId`, rate-limited per operator and written to the audit log,
 * exactly as POST /v1/moderation/actions. Console policy on top: `ban` and `unban` need `admin`.
 */
import express, { type Request, type Router } from "express";
import { z } from "zod";
import { isName, parseConversationId } from "../../rooms/conversation-id.ts";
import type { Identity } from "../../rooms/identity.ts";
import { RefusalError } from "../../schema/codes.ts";
import { ModerationActionTypes } from "../../schema/moderation.ts";
import { requireOperatorRole } from "./console-auth.ts";
import type { ConsoleDeps } from "./console-routes.ts";
import { firstIssue, handle, optionalLimit } from "./routes.ts";

/** Actions the console leaves to admins. */
const ADMIN_ONLY_ACTIONS = new Set(["ban", "unban"]);

const resolveBody = z.discriminatedUnion("outcome", [
  z.object({ outcome: z.literal("dismiss") }).strict(),
  z.object({ outcome: z.literal("act"), action: z.record(z.string(), z.unknown()) }).strict(),
]);

/** Mount the API routes on the console's router. */
export function mountConsoleApi(router: Router, deps: ConsoleDeps): void {
  const { auth, cluster, moderation, history } = deps;
  const json = express.json({ limit: "16kb" });

  /** A read: a signed-in operator (moderator or admin). */
  const read = (path: string, body: (req: Request, operator: Identity) => Promise<unknown>) =>
    router.get(`/api${path}`, (req, res) =>
      handle(`GET /admin/api${path}`, req, res, deps, async () => {
        const operator = await auth.identify(req);
        requireOperatorRole(operator, ["moderator", "admin"]);
        return body(req, operator);
      }),
    );

  /** A change: a signed-in operator, with the CSRF token. */
  const change = (path: string, body: (req: Request, operator: Identity) => Promise<unknown>) =>
    router.post(`/api${path}`, json, (req, res) =>
      handle(`POST /admin/api${path}`, req, res, deps, async () => {
        const operator = await auth.identify(req);
        requireOperatorRole(operator, ["moderator", "admin"]);
        auth.checkCsrf(req, operator);
        return body(req, operator);
      }),
    );

  /** A moderation action for `operator`, refused FORBIDDEN where the console keeps it for admins. */
  const act = async (operator: Identity, action: unknown) => {
    const type = (action as { type?: unknown } | null)?.type;
    if (typeof type === "string" && ADMIN_ONLY_ACTIONS.has(type)) requireOperatorRole(operator, ["admin"]);
    try {
      return await moderation.act(operator, action);
    } catch (error) {
      if (error instanceof RefusalError) deps.metrics.moderationRefused(error.refusal.code);
      throw error;
    }
  };

  read("/session", async (_req, operator) => ({
    userId: operator.userId,
    roles: operator.roles,
    csrfToken: auth.csrfTokenFor(operator),
    adminOnlyActions: [...ADMIN_ONLY_ACTIONS],
    actionTypes: ModerationActionTypes,
    monitor: deps.monitorMounted ? "/monitor/" : null,
  }));

  read("/cluster", async () => ({ nodes: await cluster.nodes(), at: new Date().toISOString() }));

  read("/conversations", async (req) => ({ conversations: await cluster.busiest(optionalLimit(req.query.limit, 20, 100)) }));

  read("/conversations/:id", async (req) => {
    const conversationId = conversationIdOf(req.params.id);
    const kind = conversationId.split(":")[0];
    return {
      conversationId,
      room: (await cluster.liveRoom(conversationId)) ?? null,
      recordedMembers: kind === "channel" ? null : await history.members(conversationId),
      lastSeq: await history.lastSeq(conversationId),
      slowModeMs: moderation.state.slowModeMs(conversationId),
    };
  });

  // Messages as stored: a moderator sees a shadow-muted user's text (with its sender) to judge it.
  read("/conversations/:id/messages", async (req) => {
    const conversationId = conversationIdOf(req.params.id);
    const afterSeq = seqOf(req.query.afterSeq, "afterSeq");
    const beforeSeq = seqOf(req.query.beforeSeq, "beforeSeq");
    if (afterSeq !== undefined && beforeSeq !== undefined) throw new RefusalError("INVALID", "give beforeSeq or afterSeq, not both");
    return afterSeq !== undefined
      ? history.listAfter(conversationId, afterSeq, optionalLimit(req.query.limit, 100, 500))
      : history.listBefore(conversationId, beforeSeq, optionalLimit(req.query.limit, 50, 100));
  });

  read("/users/:userId", async (req) => {
    const userId = String(req.params.userId);
    if (!isName(userId)) throw new RefusalError("INVALID", "userId must be 1..64 of A-Za-z0-9_-");
    const now = Date.now();
    // The whole snapshot is read to list one user's sanctions: bounded by the sanctions in force.
    const [live, conversations, state, audit] = await Promise.all([
      cluster.sessionsOfUser(userId),
      history.conversationsOf(userId, 100),
      moderation.store.loadState(now),
      moderation.store.listActions({ userId, limit: 50 }),
    ]);
    return {
      userId,
      sessions: live.sessions,
      unansweredNodes: live.unanswered,
      conversations,
      sanctions: state.sanctions
        .filter((sanction) => sanction.userId === userId)
        .map((sanction) => ({ ...sanction, until: sanction.until === undefined ? null : new Date(sanction.until).toISOString() })),
      audit,
    };
  });

  read("/reports", async (req) => {
    const reports = await moderation.store.listReports(optionalLimit(req.query.limit, 100, 500));
    return { reports: reports.map((report) => ({ ...report, resolution: report.resolution ?? null })) };
  });

  read("/audit", async (req) => {
    const { userId, conversationId } = req.query;
    if (userId !== undefined && !isName(userId)) throw new RefusalError("INVALID", "userId must be 1..64 of A-Za-z0-9_-");
    return {
      actions: await moderation.store.listActions({
        ...(userId !== undefined && { userId }),
        ...(conversationId !== undefined && { conversationId: conversationIdOf(conversationId) }),
        limit: optionalLimit(req.query.limit, 100, 500),
      }),
    };
  });

  change("/actions", async (req, operator) => act(operator, req.body));

  change("/reports/:reportId/resolve", async (req, operator) => {
    const reportId = String(req.params.reportId);
    if (!/^rep_[0-9a-f]{24}$/.test(reportId)) throw new RefusalError("INVALID", "reportId is not a report id");
    const body = resolveBody.safeParse(req.body);
    if (!body.success) throw new RefusalError("INVALID", firstIssue(body.error));
    // Resolved already (on any node): the first resolution stands and no action is taken, so a
    // report dismissed by one moderator is not acted on by another. The store keeps exactly one
    // resolution however many race; limit: an "act" racing another resolution on another node takes
    // its action (in the audit log) even when the other resolution is the one kept.
    const report = await moderation.store.findReport(reportId);
    if (!report) throw new RefusalError("NOT_FOUND", "no such report");
    if (report.resolution) return { reportId, resolution: report.resolution, action: null };
    const reply = body.data.outcome === "act" ? await act(operator, body.data.action) : undefined;
    const { resolution, duplicate } = await moderation.store.resolveReport(reportId, {
      outcome: reply ? "acted" : "dismissed",
      by: operator.userId,
      at: new Date().toISOString(),
      ...(reply && { actionId: reply.actionId }),
    });
    if (duplicate)
      deps.logger.warn({ reportId, outcome: resolution.outcome, by: resolution.by, lostBy: operator.userId, actionId: reply?.actionId }, "console: report resolved by another operator first");
    else deps.logger.info({ reportId, outcome: resolution.outcome, by: operator.userId, actionId: resolution.actionId }, "console: report resolved");
    return { reportId, resolution, action: reply ?? null };
  });
}

function conversationIdOf(value: unknown): string {
  if (typeof value !== "string") throw new RefusalError("INVALID", "conversationId is not a conversation id");
  const parsed = parseConversationId(value);
  if ("invalid" in parsed) throw new RefusalError("INVALID", parsed.invalid);
  return parsed.id;
}

function seqOf(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || !/^\d{1,15}$/.test(value)) throw new RefusalError("INVALID", `${name} must be a whole number`);
  return Number(value);
}
