/**
 * The message path's metrics are kept as numbers and handed to prom-client at each scrape: a
 * scrape must still show every observation made before it, once.
 */
import assert from "node:assert/strict";
import { createMetrics } from "../../server/metrics.ts";

/** The value of one series in the registry's text, by name and the labels it must carry (e.g. `le="0.001",request="send"`). */
async function sample(metrics: ReturnType<typeof createMetrics>, name: string, labels = ""): Promise<number | undefined> {
  const text = await metrics.registry.metrics();
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (labels && !labels.split(",").every((label) => line.includes(label))) continue;
    return Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return undefined;
}

describe("message path metrics", () => {
  it("shows every request timing made before a scrape, by request type and bucket, past the deferred buffer's size", async () => {
    const metrics = createMetrics("n1");
    for (let i = 0; i < 2500; i++) metrics.requestLatency("send", i % 2 === 0 ? 0.0002 : 0.003);
    metrics.requestLatency("sync", 0.2);
    assert.equal(await sample(metrics, "parley_chat_request_duration_seconds_count", 'request="send"'), 2500);
    assert.equal(await sample(metrics, "parley_chat_request_duration_seconds_bucket", 'le="0.0005",request="send"'), 1250);
    assert.equal(await sample(metrics, "parley_chat_request_duration_seconds_bucket", 'le="0.005",request="send"'), 2500);
    assert.ok(Math.abs((await sample(metrics, "parley_chat_request_duration_seconds_sum", 'request="send"'))! - (1250 * 0.0002 + 1250 * 0.003)) < 1e-9);
    assert.equal(await sample(metrics, "parley_chat_request_duration_seconds_count", 'request="sync"'), 1);
    metrics.requestLatency("send", 0.0002);
    assert.equal(await sample(metrics, "parley_chat_request_duration_seconds_count", 'request="send"'), 2501, "a second scrape adds only what came since");
    assert.equal(await sample(metrics, "parley_chat_request_duration_seconds_count", 'request="send"'), 2501, "and a scrape with nothing new changes nothing");
  });

  it("counts deliveries, accepted messages and store batches once each across scrapes", async () => {
    const metrics = createMetrics("n1");
    metrics.fanout(10);
    metrics.fanout(3);
    metrics.messageAccepted();
    metrics.historyBatch(4, 0.002);
    assert.equal(await sample(metrics, "parley_chat_deliveries_total"), 13);
    assert.equal(await sample(metrics, "parley_chat_messages_accepted_total"), 1);
    assert.equal(await sample(metrics, "parley_chat_fanout_recipients_count"), 2);
    assert.equal(await sample(metrics, "parley_history_batch_messages_sum"), 4);
    assert.equal(await sample(metrics, "parley_history_write_duration_seconds_count"), 1);
    metrics.fanout(5);
    metrics.messageAccepted();
    assert.equal(await sample(metrics, "parley_chat_deliveries_total"), 18);
    assert.equal(await sample(metrics, "parley_chat_messages_accepted_total"), 2);
    assert.equal(await sample(metrics, "parley_chat_fanout_recipients_bucket", 'le="5"'), 2);
  });

  it("leaves out a timing that is not a finite number, and scrapes on", async () => {
    const metrics = createMetrics("n1");
    metrics.requestLatency("send", Number.NaN);
    metrics.requestLatency("send", 0.001);
    assert.equal(await sample(metrics, "parley_chat_request_duration_seconds_count", 'request="send"'), 1);
    assert.equal(await sample(metrics, "parley_chat_request_duration_seconds_count", 'request="send"'), 1);
  });

  it("reports the sends waiting for the store as they stand at the scrape", async () => {
    const metrics = createMetrics("n1");
    metrics.pendingSends(1);
    metrics.pendingSends(1);
    assert.equal(await sample(metrics, "parley_chat_pending_sends"), 2);
    metrics.pendingSends(-1);
    assert.equal(await sample(metrics, "parley_chat_pending_sends"), 1);
  });
});
