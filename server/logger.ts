/**
 * Structured JSON logs (pino). Context goes in child loggers; message bodies and tokens never go in
 * a log line (redacted if they ever reach one by accident).
 */
import { hostname } from "node:os";
import { context, isSpanContextValid, trace } from "@opentelemetry/api";
import { pino, type Logger } from "pino";
import type { Config } from "./config.ts";

export type { Logger };

/** The node's root logger; with `traceIds`, each line written inside a span names its trace and span. */
export function createLogger(config: Pick<Config, "logLevel"> & Partial<Pick<Config, "publicAddress">>, destination?: NodeJS.WritableStream, options: { traceIds?: boolean } = {}): Logger {
  return pino(
    {
      level: config.logLevel,
      ...(options.traceIds && { mixin: traceFields }),
      // `node` tells nodes apart where every process is pid 1 (containers).
      base: { service: "parley", node: config.publicAddress ?? hostname(), pid: process.pid },
      redact: { paths: ["text", "*.text", "token", "*.token", "authorization", "*.authorization", "req.headers.authorization"], censor: "[redacted]" },
    },
    destination as pino.DestinationStream | undefined,
  );
}

/** trace_id and span_id of the active span (the OpenTelemetry log correlation field names), if any. */
function traceFields(): Record<string, string> {
  const span = trace.getSpanContext(context.active());
  if (span === undefined || !isSpanContextValid(span)) return {};
  return { trace_id: span.traceId, span_id: span.spanId, trace_flags: `0${span.traceFlags.toString(16)}` };
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
