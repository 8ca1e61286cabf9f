/**
 * Structured JSON logs (pino). Context goes in child loggers; message bodies and tokens never go in
 * a log line (redacted if they ever reach one by accident).
 */
import { hostname } from "node:os";
import { pino, type Logger } from "pino";
import type { Config } from "./config.ts";

export type { Logger };

/** The node's root logger. */
export function createLogger(config: Pick<Config, "logLevel"> & Partial<Pick<Config, "publicAddress">>, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level: config.logLevel,
      // `node` tells nodes apart where every process is pid 1 (containers).
      base: { service: "parley", node: config.publicAddress ?? hostname(), pid: process.pid },
      redact: { paths: ["text", "*.text", "token", "*.token", "authorization", "*.authorization", "req.headers.authorization"], censor: "[redacted]" },
    },
    destination as pino.DestinationStream | undefined,
  );
}

/** Colyseus's logger interface (console-like, variadic) routed through pino. */
export function colyseusLogger(logger: Logger) {
  const child = logger.child({ component: "colyseus" });
  const line = (args: unknown[]) => args.map((arg) => (arg instanceof Error ? (arg.stack ?? arg.message) : typeof arg === "string" ? arg : JSON.stringify(arg))).join(" ");
  return {
    debug: (...args: unknown[]) => child.debug(line(args)),
    info: (...args: unknown[]) => child.info(line(args)),
    log: (...args: unknown[]) => child.info(line(args)),
    warn: (...args: unknown[]) => child.warn(line(args)),
    error: (...args: unknown[]) => child.error(line(args)),
    trace: (...args: unknown[]) => child.trace(line(args)),
  };
}
