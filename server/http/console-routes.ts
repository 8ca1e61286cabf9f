/**
 * The ops console at /admin (roles `all` and `api`): the page, sign-in with a token, and the guards
 * in front of its private JSON API (console-api.ts). Not part of the public protocol: the API
 * answers only the console's own page and may change with it.
 *
 * Guards, in order: security headers (strict CSP, no framing, no caching) on every answer; any
 * /admin/api call or POST from another site's page refused 403; then, per route, authentication
 * (console-auth.ts), the role, and on every POST the operator's CSRF token.
 */
import express, { type Application, type NextFunction, type Request, type Response, Router } from "express";
import { RefusalError, httpStatusOf } from "../../schema/codes.ts";
import type { ClusterView } from "../console/cluster-view.ts";
import { type ConsoleAuth, SESSION_COOKIE } from "./console-auth.ts";
import { mountConsoleApi } from "./console-api.ts";
import { isCrossSite } from "./monitor.ts";
import { pageAssets, pageShell, sendAsset, setPageHeaders } from "./pages.ts";
import type { HttpDeps } from "./routes.ts";

export type ConsoleDeps = HttpDeps & {
  auth: ConsoleAuth;
  cluster: ClusterView;
  /** Whether /monitor is mounted here (the console links to it). */
  monitorMounted: boolean;
};

/** Mount /admin (before the app's 404 fallback). Does nothing when no sign-in is configured. */
export function mountConsole(app: Application, deps: ConsoleDeps): void {
  if (!deps.auth.enabled) return;
  const router = Router();
  const assets = pageAssets("console");

  router.use((req, res, next) => {
    setPageHeaders(res);
    if ((req.path.startsWith("/api") || req.method !== "GET") && isCrossSite(req)) return refuse(res, new RefusalError("FORBIDDEN", "the console answers its own page only"));
    next();
  });

  // The page and its assets: only for a signed-in operator; anyone else gets the sign-in page.
  router.get(["/", "/assets/:name"], async (req, res) => {
    try {
      await deps.auth.identify(req);
    } catch (error) {
      return signInPage(res, deps.auth, error instanceof RefusalError ? error.refusal.message : "sign in");
    }
    if (req.params.name === undefined) return void res.type("html").send(pageShell("Parley console", "/admin"));
    await sendAsset(res, assets, String(req.params.name)).catch((error: unknown) => {
      deps.logger.error({ err: String(error) }, "cannot bundle the console page");
      res.status(503).json({ error: { code: "UNAVAILABLE", message: "the console page could not be built" } });
    });
  });

  // Sign-in with a JWT (moderators and admins of the identity service): kept in an HttpOnly cookie.
  router.post("/session", express.urlencoded({ extended: false, limit: "16kb" }), async (req, res) => {
    const token = typeof req.body?.token === "string" ? req.body.token.trim() : "";
    try {
      await deps.auth.verifyToken(token);
    } catch (error) {
      return signInPage(res, deps.auth, error instanceof RefusalError ? error.refusal.message : "that token was refused");
    }
    const secure = req.secure || req.get("x-forwarded-proto") === "https" ? "; Secure" : "";
    res.set("Set-Cookie", `${SESSION_COOKIE}=${encodeURIComponent(token)}; Path=/admin; HttpOnly; SameSite=Strict${secure}`);
    res.redirect(303, "/admin");
  });

  mountConsoleApi(router, deps);
  router.use("/api", (_req: Request, res: Response) => refuse(res, new RefusalError("NOT_FOUND", "no such console route")));
  router.use((error: { status?: number; type?: string }, _req: Request, res: Response, next: NextFunction) => {
    if (error.status === undefined || error.status >= 500) return next(error);
    refuse(res, new RefusalError("INVALID", error.type === "entity.too.large" ? "body is too large" : "body must be JSON"));
  });
  app.use("/admin", router);
}

function refuse(res: Response, error: RefusalError): void {
  res.status(httpStatusOf[error.refusal.code]).json({ error: { code: error.refusal.code, message: error.refusal.message } });
}

/** 401 with the browser's basic-auth prompt (when offered) and, behind it, a token form. No script. */
function signInPage(res: Response, auth: ConsoleAuth, why: string): void {
  if (auth.basic) res.set("WWW-Authenticate", 'Basic realm="Parley console", charset="UTF-8"');
  res
    .status(401)
    .type("html")
    .send(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in: Parley console</title></head>
<body><main class="sign-in"><h1>Parley console</h1><p role="alert">${escapeHtml(why)}</p>
${auth.basic ? "<p>Operators: reload the page and give the monitor's user and password.</p>" : ""}
<form method="post" action="/admin/session"><label for="token">Moderator or admin token (JWT)</label>
<input id="token" name="token" type="password" autocomplete="off" required><button type="submit">Sign in</button></form></main></body></html>`);
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}
