/**
 * OpenTelemetry tracing (issue #14), end to end: a node started with only the standard OTEL_*
 * variables exports, over OTLP/HTTP JSON to a collector stand-in here, a trace per join and per
 * send that follows the message from receipt through the store write (Redis and MongoDB spans
 * inside) to its fan-out, with the conversation and clientMsgId as attributes; and the log lines of
 * that work carry its trace id. Without those variables the node starts no tracing at all.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tracingWanted } from "../../server/tracing.ts";
import { waitFor } from "../../deploy/wait-for.ts";
import { sdkClient, startNode, unique, type NodeProcess } from "../support/node-process.ts";

type OtlpValue = { stringValue?: string; intValue?: string | number; boolValue?: boolean };
type OtlpSpan = { traceId: string; spanId: string; parentSpanId?: string; name: string; attributes?: Array<{ key: string; value: OtlpValue }>; links?: Array<{ traceId: string; spanId: string }> };
type Span = { traceId: string; spanId: string; parentSpanId: string; name: string; scope: string; attributes: Record<string, string>; links: string[] };

/** A collector stand-in: takes OTLP/HTTP JSON trace exports and keeps their spans. */
async function startCollector(): Promise<{ url: string; spans: Span[]; server: Server }> {
  const spans: Span[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      if (req.url === "/v1/traces") {
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
          resourceSpans: Array<{ scopeSpans: Array<{ scope: { name: string }; spans: OtlpSpan[] }> }>;
        };
        for (const resource of body.resourceSpans)
          for (const scope of resource.scopeSpans)
            for (const span of scope.spans)
              spans.push({
                traceId: span.traceId,
                spanId: span.spanId,
                parentSpanId: span.parentSpanId ?? "",
                name: span.name,
                scope: scope.scope.name,
                attributes: Object.fromEntries((span.attributes ?? []).map(({ key, value }) => [key, String(value.stringValue ?? value.intValue ?? value.boolValue)])),
                links: (span.links ?? []).map((link) => link.spanId),
              });
      }
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, spans, server };
}

describe("tracing (OpenTelemetry)", function () {
  this.timeout(60_000);
  let collector: Awaited<ReturnType<typeof startCollector>>;
  let node: NodeProcess;

  before(async function () {
    collector = await startCollector();
    node = await startNode({
      REDIS_URL: process.env.REDIS_URL ?? "",
      MONGO_URL: process.env.MONGO_URL ?? "",
      OTEL_TRACES_EXPORTER: "otlp",
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
      OTEL_BSP_SCHEDULE_DELAY: "100",
      OTEL_SERVICE_NAME: "parley-test",
    });
  });
  after(async () => {
    await node?.stop();
    collector?.server.close();
  });

  it("is off unless an exporter or an OTLP endpoint is named, and OTEL_SDK_DISABLED wins", () => {
    assert.equal(tracingWanted({}), false);
    assert.equal(tracingWanted({ OTEL_TRACES_EXPORTER: "none" }), false);
    assert.equal(tracingWanted({ OTEL_TRACES_EXPORTER: "otlp" }), true);
    assert.equal(tracingWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" }), true);
    assert.equal(tracingWanted({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://collector:4318/v1/traces", OTEL_SDK_DISABLED: "true" }), false);
  });

  it("traces a send from receipt through the store write to its fan-out, with its ids as attributes", async function () {
    const conversationId = `channel:${unique("trace")}`;
    const clientMsgId = unique("msg");
    // One after the other: two first joins at once may race to create the room (one then moves).
    const alice = await sdkClient(node).joinOrCreate("chat", { conversationId, userId: unique("alice") });
    const bob = await sdkClient(node).joinOrCreate("chat", { conversationId, userId: unique("bob") });
    bob.onMessage("*", () => undefined);
    const received = new Promise<void>((resolve) => bob.onMessage("message", () => resolve()));
    alice.onMessage("*", () => undefined);
    await alice.request("send", { clientMsgId, text: "hello, traced" });
    await received;

    const send = await waitFor(() => collector.spans.find((span) => span.name === "parley.send" && span.attributes["parley.client_msg_id"] === clientMsgId), { what: "the send's span" });
    assert.equal(send.attributes["parley.conversation_id"], conversationId);
    const inTrace = () => collector.spans.filter((span) => span.traceId === send.traceId);
    const write = await waitFor(() => inTrace().find((span) => span.name === "parley.store.write" && span.parentSpanId === send.spanId), { what: "the store write, a child of the send" });
    assert.equal(write.attributes["parley.conversation_id"], conversationId);
    const fanout = await waitFor(() => inTrace().find((span) => span.name === "parley.fanout" && span.parentSpanId === write.spanId), { what: "the fan-out, a child of the write" });
    assert.equal(fanout.attributes["parley.recipients"], "2");
    await waitFor(() => inTrace().find((span) => span.scope.includes("mongodb") && span.name.includes("insert")), { what: "the MongoDB insert inside the send's trace" });

    const join = collector.spans.find((span) => span.name === "parley.join" && span.attributes["parley.conversation_id"] === conversationId);
    assert.ok(join, "each join has a span naming its conversation");
    const joinTrace = collector.spans.filter((span) => span.traceId === join.traceId);
    assert.ok(
      joinTrace.some((span) => span.scope.includes("http") && span.parentSpanId === ""),
      "the join sits under the matchmaking HTTP request's span",
    );
    assert.ok(
      collector.spans.some((span) => span.scope.includes("ioredis")),
      "Redis commands are traced",
    );

    // The log lines of a traced piece of work carry its trace id: the room created for the first
    // join, and the access log line of the matchmaking request, name the join's trace.
    const created = node
      .output()
      .split("\n")
      .filter((line) => line.includes("conversation room created") && line.includes(conversationId));
    assert.equal(created.length, 1);
    const entry = JSON.parse(created[0]!) as { trace_id?: string; span_id?: string };
    assert.match(entry.trace_id ?? "", /^[0-9a-f]{32}$/);
    assert.ok(
      collector.spans.some((span) => span.traceId === entry.trace_id && span.name === "parley.join"),
      "the log line's trace id is a join's trace",
    );
    await Promise.all([alice.leave(), bob.leave()]);
  });

  it("leaves health checks and scrapes untraced", async function () {
    for (const path of ["/healthz", "/readyz", "/metrics"]) await fetch(`${node.httpUrl}${path}`);
    const marker = unique("probe");
    await fetch(`${node.httpUrl}/v1/conversations/channel:${marker}/messages?userId=u1`);
    await waitFor(() => collector.spans.find((span) => Object.values(span.attributes).some((value) => value.includes(marker))), { what: "the traced API call" });
    assert.ok(!collector.spans.some((span) => Object.values(span.attributes).some((value) => /\/(healthz|readyz|metrics)$/.test(value))), "no span for a probe or a scrape");
  });
});
