/**
 * The Colyseus monitor panel (`@colyseus/monitor`), kept to what an operator may do to a chat node.
 *
 * The stock panel answers five GET routes under its mount: `/` and static files (the page),
 * `/api` (room list), `/api/room?roomId=` (one room's clients) and `/api/room/call?roomId=&method=
 * &args=`, which runs ANY method of a room, anywhere in the cluster, with arguments of the caller's
 * choosing: Send (`_sendMessageToClient`) and Broadcast (`broadcast`) put frames on sockets outside
 * the conversation's log, `serviceSend` writes as any sender, `_editStateProperty` and others
 * change a room's insides, and all of it as a GET that a link or an image can trigger. Here:
 * - the page, `/api` and `/api/room` are passed to the stock panel, GET only;
 * - `/api/room/call` is refused 403 FORBIDDEN, whatever the method;
 * - the two operator actions worth keeping are DELETEs of our own: close a room
 *   (`DELETE /api/rooms/:roomId`: it finishes accepted writes, closes its clients and goes, as
 *   when idle) and close one client (`DELETE /api/rooms/:roomId/clients/:sessionId`);
 * - API calls from another site are refused 403: Colyseus answers every preflight with the
 *   caller's origin and credentials allowed, so a browser holding the panel's basic-auth
 *   credentials would otherwise let any page read the panel or send it a DELETE.
 * Anything else goes on to the app's routes (404). Authentication stays in front (basic auth).
 * The stock page's Send, Broadcast, Dispose, Disconnect and state-edit buttons fail with 403.
 */
import { matchMaker } from "@colyseus/core";
import { monitor, type MonitorOptions } from "@colyseus/monitor";
import { Router, type NextFunction, type Request, type Response } from "express";
import type { Logger } from "../logger.ts";

export type MonitorPanelOptions = {
  /** Columns of the room list. */
  columns?: MonitorOptions["columns"];
  /** Where the panel is mounted (`app.use(mountPath, ..., monitorPanel(...))`). @default "/monitor" */
  mountPath?: string;
  /** Operator actions (a room or a client closed) are logged at info, with the basic-auth user. */
  logger: Pick<Logger, "info" | "warn">;
};

/** Paths (below the mount) passed to the stock panel on GET: the page, its assets, the two reads. */
const READ_ONLY_PATH = /^\/(?:|index\.html|assets\/[A-Za-z0-9._-]+|api|api\/room)$/;
/** Room and session ids as Colyseus makes them. */
const ID = /^[A-Za-z0-9_-]{1,64}$/;

/** The monitor panel, read-only but for closing a room or a client by DELETE; mount behind basic auth. */
export function monitorPanel(options: MonitorPanelOptions): Router {
  const { mountPath = "/monitor", logger } = options;
  const stock = monitor({ prefix: mountPath, ...(options.columns && { columns: options.columns }) });
  const router = Router();

  router.use((req, res, next) => {
    const path = canonicalPath(req.path);
    if (path.startsWith("/api/room/call")) return refuse(res, 403, "FORBIDDEN", "room method calls (send, broadcast, any method) are disabled on Parley's monitor");
    if ((path.startsWith("/api") || req.method !== "GET") && isCrossSite(req)) return refuse(res, 403, "FORBIDDEN", "the monitor's API answers its own page only");
    next();
  });

  router.delete("/api/rooms/:roomId", async (req, res) => {
    const roomId = String(req.params.roomId);
    if (!(await roomExists(res, roomId))) return;
    await callRoom(res, roomId, "disconnect", [], () => {
      logger.info({ roomId, user: operatorOf(req) }, "monitor: room closed by an operator");
      res.status(204).end();
    });
  });

  router.delete("/api/rooms/:roomId/clients/:sessionId", async (req, res) => {
    const roomId = String(req.params.roomId);
    const sessionId = String(req.params.sessionId);
    if (!ID.test(sessionId)) return refuse(res, 400, "INVALID", "sessionId must be 1..64 of A-Za-z0-9_-");
    if (!(await roomExists(res, roomId))) return;
    // Colyseus's operator call: closes that client with 4000 (consented leave), a no-op if it is gone.
    await callRoom(res, roomId, "kickClient", [sessionId], () => {
      logger.info({ roomId, sessionId, user: operatorOf(req) }, "monitor: client closed by an operator");
      res.status(204).end();
    });
  });

  router.get(READ_ONLY_PATH, (req: Request, res: Response, next: NextFunction) => stock(req, res, next));

  return router;

  async function callRoom(res: Response, roomId: string, method: string, args: unknown[], done: () => void): Promise<void> {
    try {
      await matchMaker.remoteRoomCall(roomId, method, args);
    } catch (error) {
      logger.warn({ roomId, method, err: error instanceof Error ? error.message : String(error) }, "monitor: room call failed");
      return refuse(res, 503, "UNAVAILABLE", "the room did not answer in time; it may still be closing: look at the room list");
    }
    done();
  }
}

/** False (and a 400 or 404 answered) unless `roomId` names a listed room. */
async function roomExists(res: Response, roomId: string): Promise<boolean> {
  if (!ID.test(roomId)) {
    refuse(res, 400, "INVALID", "roomId must be 1..64 of A-Za-z0-9_-");
    return false;
  }
  const listing = await matchMaker.driver.findOne({ roomId });
  if (listing) return true;
  refuse(res, 404, "NOT_FOUND", `no room ${roomId}`);
  return false;
}

/** Decoded, lower case, repeated and trailing slashes collapsed: so no spelling slips past a prefix test. */
function canonicalPath(path: string): string {
  let decoded = path;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    // Malformed escapes: test the raw path; it names no route the stock panel knows.
  }
  return decoded
    .toLowerCase()
    .replace(/\/{2,}/g, "/")
    .replace(/(?<=.)\/$/, "");
}

/** A browser request made by another site's page (Fetch metadata, else Origin against Host). */
export function isCrossSite(req: Request): boolean {
  const site = req.get("sec-fetch-site");
  if (site !== undefined) return site !== "same-origin" && site !== "none";
  const origin = req.get("origin");
  if (origin === undefined) return false;
  try {
    return new URL(origin).host !== req.get("host");
  } catch {
    return true;
  }
}

/** The basic-auth user express-basic-auth put on the request, for the audit line. */
function operatorOf(req: Request): string | undefined {
  return (req as Request & { auth?: { user?: string } }).auth?.user;
}

function refuse(res: Response, status: number, code: string, message: string): void {
  res.status(status).json({ error: { code, message } });
}
