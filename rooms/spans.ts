/**
 * Spans of a room's work (OpenTelemetry): a join, each request (a send from receipt to its
 * acknowledgement), each store write with links to the sends it carries, and each fan-out.
 *
 * Rooms use `@opentelemetry/api` only, the no-op API that libraries are meant to depend on; the
 * SDK, its exporters and its sampler are the server's (server/tracing.ts), configured by the
 * standard OTEL_* variables. While tracing is off nothing here allocates a span or enters a
 * context: `spansOn` is false and every helper returns at once.
 */
import { context, trace, SpanKind, SpanStatusCode, TraceFlags, type Attributes, type Context, type Link, type Span } from "@opentelemetry/api";

const tracer = trace.getTracer("parley.rooms");
let spansOn = false;

/** Turned on by the server once the tracing SDK runs. */
export function enableSpans(on = true): void {
  spansOn = on;
}

/**
 * The context a piece of queued work came from (a send waiting for its write), when its trace is
 * sampled; undefined otherwise, so unsampled work (99 % of it at 1 % sampling) costs no more.
 */
export function currentContext(): Context | undefined {
  if (!spansOn) return undefined;
  const active = context.active();
  return sampled(active) ? active : undefined;
}

function sampled(ctx: Context): boolean {
  const spanContext = trace.getSpanContext(ctx);
  return spanContext !== undefined && (spanContext.traceFlags & TraceFlags.SAMPLED) !== 0;
}

/**
 * Run `work` in a new span, active for everything `work` awaits (store calls, log lines): ended
 * with an error status when `work` throws or `failed` says its result is a refusal. `attributes`
 * is called only while tracing is on, so the message path builds nothing when it is off.
 */
export function inSpan<T>(name: string, attributes: () => Attributes, work: () => Promise<T>, failed?: (result: T) => string | undefined): Promise<T> {
  return spansOn ? traced(name, attributes(), work, failed) : work();
}

async function traced<T>(name: string, attributes: Attributes, work: () => Promise<T>, failed?: (result: T) => string | undefined): Promise<T> {
  const span = tracer.startSpan(name, { kind: SpanKind.INTERNAL, attributes });
  // Not sampled (99 % of sends at 1 %): nothing will record it or anything under it, so the work
  // runs without a context of its own. Its store and Redis calls then see no parent span and make
  // none (their instrumentations require one), which is what a non-recording parent would decide.
  if (!span.isRecording()) return work();
  try {
    const result = await context.with(trace.setSpan(context.active(), span), work);
    const refusal = failed?.(result);
    if (refusal !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: refusal });
    return result;
  } catch (error) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
    throw error;
  } finally {
    span.end();
  }
}

/**
 * A store write of a batch: a child of the first send's trace, linked to every other send it
 * carries (a batch serves many traces; links keep each send's trace complete).
 */
export function startWriteSpan<P extends { origin: Context | undefined }>(conversationId: string, batch: readonly P[]): { span: Span; context: Context } | undefined {
  if (!spansOn) return undefined;
  const origins = batch.map((pending) => pending.origin);
  const parent = origins.find((origin) => origin !== undefined);
  // No sampled send in the batch: no write span (the store's own spans follow whatever is active).
  if (parent === undefined) return undefined;
  const links: Link[] = [];
  for (const origin of origins) {
    const spanContext = origin && trace.getSpanContext(origin);
    if (spanContext && origin !== parent) links.push({ context: spanContext });
  }
  const span = tracer.startSpan("parley.store.write", { attributes: { "parley.conversation_id": conversationId, "parley.messages": origins.length }, links }, parent);
  return { span, context: trace.setSpan(parent, span) };
}

/** Run `work` with `ctx` active (a write span's context), or just run it while tracing is off. */
export function withContext<T>(ctx: Context | undefined, work: () => T): T {
  return ctx === undefined ? work() : context.with(ctx, work);
}

/** A span around synchronous work (a fan-out), child of the active context when that is sampled. */
export function inSyncSpan<T>(name: string, attributes: () => Attributes, work: () => T): T {
  if (!spansOn || !sampled(context.active())) return work();
  return tracer.startActiveSpan(name, { attributes: attributes() }, (span) => {
    try {
      return work();
    } finally {
      span.end();
    }
  });
}
