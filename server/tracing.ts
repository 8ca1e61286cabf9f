/**
 * OpenTelemetry tracing, configured only by the standard OTEL_* variables and off when they ask
 * for no exporter. The SDK reads them itself (OTEL_TRACES_EXPORTER, OTEL_EXPORTER_OTLP_ENDPOINT,
 * OTEL_EXPORTER_OTLP_PROTOCOL, OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG, OTEL_SERVICE_NAME,
 * OTEL_RESOURCE_ATTRIBUTES, OTEL_BSP_*); `tracingWanted` only decides whether to start it at all.
 *
 * Must start before the modules it instruments load: server/start.ts starts it, then imports the
 * app.
 * Spans: HTTP routes (http, express), Redis (ioredis), MongoDB (mongodb, under mongoose), and the
 * rooms' own (rooms/spans.ts): a join, each request, each store write, each fan-out.
 */
import { createRequire } from "node:module";
import { enableSpans } from "../rooms/spans.ts";

export type Tracing = { shutdown(): Promise<void> };

type OtelEnv = Partial<Record<"OTEL_SDK_DISABLED" | "OTEL_TRACES_EXPORTER" | "OTEL_EXPORTER_OTLP_ENDPOINT" | "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", string>>;

/**
 * Tracing runs when an exporter is named (OTEL_TRACES_EXPORTER other than `none`) or an OTLP
 * endpoint is given, and OTEL_SDK_DISABLED is not `true`. Unset, nothing starts: no SDK, no
 * context manager, no span objects on the message path.
 */
export function tracingWanted(env: OtelEnv): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === "true") return false;
  const exporters = (env.OTEL_TRACES_EXPORTER ?? "")
    .split(",")
    .map((name) => name.trim())
    .filter((name) => name !== "");
  if (exporters.length > 0) return !exporters.every((name) => name === "none");
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

/** A MongoDB command's name (`insert`, `find`, ...), its first key: what a span needs, nothing it must not carry. */
export function commandName(command: Record<string, unknown>): string {
  for (const key in command) return key;
  return "";
}

/** Start the SDK with Parley's instrumentations; the rooms' spans turn on with it. */
export async function startTracing(serviceName: string): Promise<Tracing> {
  const [{ NodeSDK }, { HttpInstrumentation }, { ExpressInstrumentation }, { IORedisInstrumentation }, { MongoDBInstrumentation }] = await Promise.all([
    import("@opentelemetry/sdk-node"),
    import("@opentelemetry/instrumentation-http"),
    import("@opentelemetry/instrumentation-express"),
    import("@opentelemetry/instrumentation-ioredis"),
    import("@opentelemetry/instrumentation-mongodb"),
  ]);
  process.env.OTEL_SERVICE_NAME ??= serviceName;
  // Traces only, unless asked: metrics are Prometheus's (/metrics) and logs pino's. Unset, the SDK
  // would default both to OTLP, recording every instrumentation's metrics (a histogram per HTTP
  // request, a counter per pool change) and exporting them: measured as part of tracing's cost.
  process.env.OTEL_METRICS_EXPORTER ??= "none";
  process.env.OTEL_LOGS_EXPORTER ??= "none";
  const sdk = new NodeSDK({
    instrumentations: [
      // Probes and scrapes are polled every few seconds by machines: not worth a trace each.
      new HttpInstrumentation({ ignoreIncomingRequestHook: (request) => /^\/(?:healthz|readyz|metrics)(?:\?|$)/.test(request.url ?? "") }),
      new ExpressInstrumentation(),
      new IORedisInstrumentation(),
      // The statement is the command's name only: the default serialiser walks the whole command
      // (JSON.stringify with a replacer) for every call, sampled or not, and a group commit's
      // insert carries a batch of messages; their text must not reach a trace anyway. Store calls
      // outside any Parley span (the moderation reload, pool upkeep) are not traced.
      new MongoDBInstrumentation({ enhancedDatabaseReporting: false, requireParentSpan: true, dbStatementSerializer: commandName }),
    ],
  });
  sdk.start();
  // The instrumentations patch a module when it is first required (require-in-the-middle), but
  // express and ioredis are first imported from ESM here, which that hook does not see; and an
  // ESM loader hook (import-in-the-middle) makes two copies of ioredis's Redis class, breaking
  // RedisPresence's `instanceof Redis`. Requiring them once now patches their shared CommonJS
  // exports in place, which every later `import` gets.
  const require = createRequire(import.meta.url);
  for (const name of ["express", "ioredis"]) require(name);
  enableSpans();
  return {
    async shutdown() {
      enableSpans(false);
      await sdk.shutdown();
    },
  };
}
