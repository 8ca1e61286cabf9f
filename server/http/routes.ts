/**
 * The HTTP surface of a node: health, readiness, metrics and the v1 API.
 */
import type { Application, Request, Response } from "express";
import { authorizeConversation } from "../../rooms/access.ts";
import { httpStatusOf, RefusalError } from "../../rooms/chat-errors.ts";
import { withTimeout } from "../../rooms/timeout.ts";
import type { HistoryStore } from "../../rooms/history-store.ts";
import type { Authenticator } from "../../rooms/identity.ts";
import type { Logger } from "../logger.ts";
import type { Metrics } from "../metrics.ts";

export type HttpDeps = {
  history: HistoryStore;
  authenticator: Authenticator;
  metrics: Metrics;
  logger: Logger;
  /** True once the node started draining. */
  isDraining: () => boolean;
  /** Extra readiness checks by name (Redis, ...); each rejects when its dependency is down. */
  readinessChecks: Record<string, () => Promise<void>>;
  storeTimeoutMs: number;
};

/** Mount every route on the Colyseus express app. */
export function mountRoutes(app: Application, deps: HttpDeps): void {
  app.disable("x-powered-by");

  app.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });

  app.get("/readyz", async (_req, res) => {
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
    res.status(ready ? 200 : 503).json({ ready, checks });
  });

  app.get("/metrics", async (_req, res) => {
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });

  app.get("/v1/conversations/:id/messages", async (req, res) => {
    await handle("GET /v1/conversations/:id/messages", req, res, deps, async () => {
      const identity = await deps.authenticator.authenticate(bearerToken(req), { userId: req.query.userId });
      const conversation = authorizeConversation(identity, req.params.id);
      const beforeSeq = optionalSeq(req.query.beforeSeq, "beforeSeq");
      const afterSeq = optionalSeq(req.query.afterSeq, "afterSeq");
      if (beforeSeq !== undefined && afterSeq !== undefined) throw new RefusalError("INVALID", "give beforeSeq or afterSeq, not both");
      if (afterSeq !== undefined) {
        return deps.history.listAfter(conversation.id, afterSeq, optionalLimit(req.query.limit, 500, 500));
      }
      return deps.history.listBefore(conversation.id, beforeSeq, optionalLimit(req.query.limit, 50, 100));
    });
  });

  app.use((_req: Request, res: Response) => {
    res.status(404).json({ error: { code: "NOT_FOUND", message: "no such route" } });
  });
}

/** Run a JSON handler: a RefusalError becomes `{ error: { code, message } }` with its status. */
async function handle(route: string, req: Request, res: Response, deps: HttpDeps, body: () => Promise<unknown>): Promise<void> {
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

function bearerToken(req: Request): string | undefined {
  const header = req.headers.authorization;
  return header?.startsWith("Bearer ") ? header.slice("Bearer ".length).trim() : undefined;
}

function optionalSeq(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || !/^\d{1,15}$/.test(value)) throw new RefusalError("INVALID", `${name} must be a whole number`);
  return Number(value);
}

function optionalLimit(value: unknown, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "string" || !/^\d{1,4}$/.test(value) || Number(value) < 1 || Number(value) > max) {
    throw new RefusalError("INVALID", `limit must be 1..${max}`);
  }
  return Number(value);
}
