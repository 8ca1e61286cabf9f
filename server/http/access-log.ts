/**
 * The HTTP access log (pino-http): one line per API request with its request id, method, route,
 * status and time. An `X-Request-Id` from the caller (1..128 of A-Za-z0-9_.:-) is kept and echoed,
 * else one is made. Health, readiness and metrics scrapes are not logged (they come every few
 * seconds); bodies and headers never are.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { pinoHttp } from "pino-http";
import type { Logger } from "../logger.ts";

const REQUEST_ID = /^[A-Za-z0-9_.:-]{1,128}$/;
const QUIET = new Set(["/healthz", "/readyz", "/metrics"]);

/** Express middleware writing the access log through `logger`. */
export function accessLog(logger: Logger) {
  return pinoHttp({
    logger,
    genReqId(req: IncomingMessage, res: ServerResponse) {
      const given = req.headers["x-request-id"];
      const id = typeof given === "string" && REQUEST_ID.test(given) ? given : randomUUID();
      res.setHeader("x-request-id", id);
      return id;
    },
    autoLogging: { ignore: (req) => QUIET.has((req.url ?? "").split("?")[0]!) },
    customLogLevel: (_req, res, error) => (error || res.statusCode >= 500 ? "error" : res.statusCode >= 400 ? "warn" : "info"),
    customSuccessMessage: () => "http request",
    customErrorMessage: () => "http request failed",
    serializers: {
      req: (req: { id: unknown; method: string; url: string }) => ({ id: req.id, method: req.method, path: req.url.split("?")[0] }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
  });
}
