/**
 * What operators read off a node's /metrics (issue #14): deliveries, connections opened and closed
 * by close code, readiness, and a `node` label on every series; and the `node` field of every log
 * line.
 */
import assert from "node:assert/strict";
import { metricOf } from "../support/cluster-helpers.ts";
import { sdkClient, startNode, unique, type NodeProcess } from "../support/node-process.ts";
import { freePort } from "../../deploy/services.ts";
import { waitFor } from "../../deploy/wait-for.ts";

describe("node metrics and log identity", function () {
  let node: NodeProcess;
  let address = "";
  before(async () => {
    const port = await freePort();
    address = `127.0.0.1:${port}`;
    node = await startNode({ PORT: String(port), PUBLIC_ADDRESS: address, SEND_RATE_PER_SEC: "1000", SEND_BURST: "1000" });
  });
  after(async () => node?.stop());

  it("counts deliveries as messages x recipients, and connections opened and closed by close code", async function () {
    const conversationId = `channel:${unique("m")}`;
    const [before, closedBefore] = [await metricOf(node, "parley_chat_deliveries_total"), await metricOf(node, "parley_connections_closed_total", 'code="4000"')];
    const rooms = await Promise.all([0, 1, 2].map((i) => sdkClient(node).joinOrCreate("chat", { conversationId, userId: unique(`u${i}`) })));
    for (const room of rooms) room.onMessage("*", () => undefined);
    await rooms[0]!.request("send", { clientMsgId: "one", text: "to three" });
    await waitFor(async () => (await metricOf(node, "parley_chat_deliveries_total")) === before + 3, { what: "3 deliveries counted" });
    assert.ok((await metricOf(node, "parley_connections_opened_total", 'room="chat"')) >= 3);
    await rooms[0]!.leave();
    await waitFor(async () => (await metricOf(node, "parley_connections_closed_total", 'code="4000"')) === closedBefore + 1, { what: "a consented close counted with code 4000" });
    await Promise.all(rooms.slice(1).map((room) => room.leave()));
  });

  it("counts a rejoin when a seat's first sync resumes above seq 0, and not a first join's", async function () {
    const conversationId = `channel:${unique("r")}`;
    const userId = unique("u");
    const before = await metricOf(node, "parley_rejoins_total", 'room="chat"');
    const first = await sdkClient(node).joinOrCreate("chat", { conversationId, userId });
    first.onMessage("*", () => undefined);
    await first.request("sync", { afterSeq: 0 });
    const { seq } = (await first.request("send", { clientMsgId: "one", text: "before the drop" })) as { seq: number };
    await first.leave();
    assert.equal(await metricOf(node, "parley_rejoins_total", 'room="chat"'), before, "a first join's sync from 0 is no rejoin");
    const again = await sdkClient(node).joinOrCreate("chat", { conversationId, userId });
    again.onMessage("*", () => undefined);
    await again.request("sync", { afterSeq: seq });
    await again.request("sync", { afterSeq: seq });
    assert.equal(await metricOf(node, "parley_rejoins_total", 'room="chat"'), before + 1, "one rejoin, counted once per seat");
    await again.leave();
  });

  it("reports readiness as a gauge and labels every Parley series with its node", async function () {
    assert.equal((await fetch(`${node.httpUrl}/readyz`)).status, 200);
    assert.equal(await metricOf(node, "parley_node_ready"), 1);
    const text = await (await fetch(`${node.httpUrl}/metrics`)).text();
    const samples = text.split("\n").filter((line) => line.startsWith("parley_"));
    assert.ok(samples.length > 10);
    for (const sample of samples) assert.ok(sample.includes(`node="${address}"`), `${sample.slice(0, 80)} carries node`);
  });

  it("counts open file descriptors, one for every connection, and lists no socket per scrape", async function () {
    const conversationId = `channel:${unique("fd")}`;
    const rooms = await Promise.all(Array.from({ length: 20 }, (_, i) => sdkClient(node).joinOrCreate("chat", { conversationId, userId: unique(`f${i}`) })));
    for (const room of rooms) room.onMessage("*", () => undefined);
    const open = await metricOf(node, "process_open_fds");
    assert.ok(open > 20, "process_open_fds is reported");
    const text = await (await fetch(`${node.httpUrl}/metrics`)).text();
    assert.doesNotMatch(text, /^nodejs_active_(handles|resources)/m, "no series that lists every socket of the node");
    assert.match(text, /^nodejs_eventloop_lag_p99_seconds/m, "the other defaults stay");
    // Counted down, not up: a connection an earlier test closed can only leave meanwhile.
    await Promise.all(rooms.map((room) => room.leave()));
    await waitFor(async () => (await metricOf(node, "process_open_fds")) <= open - 20, { what: "20 descriptors fewer once the 20 connections closed" });
  });

  it("writes an HTTP access log line with the caller's X-Request-Id, echoed back, and none for health checks", async function () {
    const response = await fetch(`${node.httpUrl}/v1/conversations/channel:x/messages?userId=u1`, { headers: { "x-request-id": "req-trace-42" } });
    assert.equal(response.headers.get("x-request-id"), "req-trace-42");
    const made = await fetch(`${node.httpUrl}/v1/conversations/channel:x/messages?userId=u1`, { headers: { "x-request-id": "not valid!" } });
    assert.match(made.headers.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/, "an invalid id is replaced");
    await fetch(`${node.httpUrl}/healthz`);
    const line = await waitFor(
      () =>
        node
          .output()
          .split("\n")
          .find((entry) => entry.includes('"req-trace-42"')),
      { what: "the access log line" },
    );
    const entry = JSON.parse(line) as { msg: string; req: { id: string; method: string; path: string }; res: { statusCode: number }; responseTime: number };
    assert.deepEqual([entry.msg, entry.req.method, entry.req.path, entry.res.statusCode], ["http request", "GET", "/v1/conversations/channel:x/messages", 200]);
    assert.ok(!node.output().includes('"path":"/healthz"'), "health checks are not logged");
  });

  it("names its node in every log line", async function () {
    const lines = node
      .output()
      .split("\n")
      .filter((line) => line.startsWith("{"));
    assert.ok(lines.length > 0);
    for (const line of lines) assert.equal((JSON.parse(line) as { node?: string }).node, address, line.slice(0, 120));
  });
});
