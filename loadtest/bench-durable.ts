/**
 * Benchmark: acknowledged messages per second and ack latency on one node with 100 conversations
 * against a MongoDB-wire server, with group commit on and off, side by side in one run.
 *
 *   npm run bench:durable -- [--seconds 15] [--conversations 100] [--senders 2] [--window 2]
 *
 * The node runs pinned to CPU 0 and this load generator to CPU 1 (taskset, when available). Each
 * sender runs closed-loop (one send in flight), so throughput is what the node and store sustain.
 * Numbers are printed, never asserted.
 */
import { spawnSync } from "node:child_process";
import os from "node:os";
import { commandLine } from "../deploy/cli.ts";
import { Client } from "@colyseus/sdk";
import { startNode } from "../deploy/node-process.ts";
import { startMongoWire, withDatabase } from "../deploy/services.ts";

const values = commandLine({
  usage: "npm run bench:durable --",
  summary: "Acknowledged messages per second and ack latency on one node with a MongoDB-wire store, group commit on and off, side by side. Closed-loop senders; numbers are printed, never asserted.",
  options: {
    seconds: { kind: "number", default: 15, min: 1, help: "seconds per measurement" },
    conversations: { kind: "integer", default: 100, min: 1, help: "conversations" },
    senders: { kind: "integer", default: 2, min: 1, help: "closed-loop senders per conversation" },
    window: { kind: "integer", default: 2, min: 1, max: 1000, help: "group-commit window in ms for the 'on' side" },
    runs: { kind: "integer", default: 3, min: 1, help: "runs of each side" },
    "store-timeout": { kind: "integer", default: 5000, min: 10, help: "STORE_TIMEOUT_MS of the node" },
  },
});
const seconds = Number(values.seconds);
const conversations = Number(values.conversations);
const sendersPerConversation = Number(values.senders);
const runs = Number(values.runs);

const hasTaskset = spawnSync("sh", ["-c", "command -v taskset"]).status === 0;
if (hasTaskset) spawnSync("taskset", ["-p", "-c", "1", String(process.pid)], { stdio: "ignore" });

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function measure(mongoUrl: string, windowMs: number) {
  const node = await startNode({
    MONGO_URL: mongoUrl,
    GROUP_COMMIT_WINDOW_MS: String(windowMs),
    LOG_LEVEL: "warn",
    SEND_RATE_PER_SEC: "100000",
    SEND_BURST: "100000",
    REQUEST_RATE_PER_SEC: "100000",
    MAX_PENDING_SENDS_PER_ROOM: "100000",
    STORE_TIMEOUT_MS: String(values["store-timeout"]),
  });
  if (hasTaskset) spawnSync("taskset", ["-p", "-c", "0", String(node.child.pid)], { stdio: "ignore" });
  try {
    const client = new Client(node.httpUrl);
    const rooms = [];
    for (let c = 0; c < conversations; c++) {
      for (let s = 0; s < sendersPerConversation; s++) {
        const room = await client.joinOrCreate("chat", { conversationId: `channel:bench${c}`, userId: `u${c}_${s}` });
        room.onMessage("message", () => {});
        rooms.push(room);
      }
    }
    const latencies: number[] = [];
    let errors = 0;
    let counter = 0;
    const cpuBefore = process.cpuUsage();
    const warmupEnd = Date.now() + 2000;
    const end = warmupEnd + seconds * 1000;
    await Promise.all(
      rooms.map(async (room) => {
        while (Date.now() < end) {
          const started = performance.now();
          try {
            await room.request("send", { clientMsgId: `b${counter++}`, text: "x".repeat(100) });
            if (Date.now() >= warmupEnd) latencies.push(performance.now() - started);
          } catch {
            errors++;
          }
        }
      }),
    );
    const cpu = process.cpuUsage(cpuBefore);
    latencies.sort((a, b) => a - b);
    for (const room of rooms) await room.leave().catch(() => undefined);
    return {
      windowMs,
      ackedPerSec: latencies.length / seconds,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      errors,
      loadgenCpuPct: ((cpu.user + cpu.system) / 1000 / ((seconds + 2) * 1000)) * 100,
    };
  } finally {
    await node.stop();
    const warnings = node
      .output()
      .split("\n")
      .filter((line) => /"level":(40|50|60)/.test(line) && !line.includes("embeddedDefault"));
    const byMessage = new Map<string, number>();
    for (const line of warnings) {
      const msg = (JSON.parse(line) as { msg: string }).msg;
      byMessage.set(msg, (byMessage.get(msg) ?? 0) + 1);
    }
    if (warnings.length > 0) console.log(`node warnings: ${JSON.stringify(Object.fromEntries(byMessage))}`);
  }
}

const mongo = process.env.MONGO_URL ? { url: process.env.MONGO_URL, kind: "given", stop: async () => {} } : await startMongoWire(console.log);
if (hasTaskset && "port" in mongo) spawnSync("sh", ["-c", `taskset -a -p -c 0 $(pgrep -f "listen-addr=127.0.0.1:${(mongo as { port: number }).port}")`], { stdio: "ignore" });
const results: Array<Awaited<ReturnType<typeof measure>>> = [];
try {
  for (let run = 0; run < runs; run++) {
    for (const windowMs of [Number(values.window), 0]) {
      const result = await measure(withDatabase(mongo.url, `parley_bench_${Date.now()}_${run}_${windowMs}`), windowMs);
      results.push(result);
      console.log(JSON.stringify({ run, ...result }));
    }
  }
} finally {
  await mongo.stop();
}

const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const summary = (windowMs: number) => {
  const rows = results.filter((r) => r.windowMs === windowMs);
  return {
    ackedPerSec: median(rows.map((r) => r.ackedPerSec)),
    p50: median(rows.map((r) => r.p50)),
    p99: median(rows.map((r) => r.p99)),
    errors: rows.reduce((s, r) => s + r.errors, 0),
    loadgenCpuPct: median(rows.map((r) => r.loadgenCpuPct)),
  };
};
const on = summary(Number(values.window));
const off = summary(0);
console.log(
  `\nmachine: ${os.cpus()[0]?.model} x${os.cpus().length}, ${Math.round(os.totalmem() / 2 ** 30)} GiB; store: ${mongo.kind}; node on CPU 0${hasTaskset ? "" : " (no taskset)"}, load generator on CPU 1`,
);
console.log(`workload: ${conversations} conversations x ${sendersPerConversation} closed-loop senders, 100-byte texts, ${seconds} s after 2 s warm-up, median of ${runs} runs`);
console.log("| group commit | acked msgs/s | ack p50 ms | ack p99 ms | errors | load generator CPU % |");
console.log("|---|---|---|---|---|---|");
for (const [label, row] of [
  [`on (window ${values.window} ms)`, on],
  ["off (window 0)", off],
] as const) {
  console.log(`| ${label} | ${row.ackedPerSec.toFixed(0)} | ${row.p50.toFixed(1)} | ${row.p99.toFixed(1)} | ${row.errors} | ${row.loadgenCpuPct.toFixed(0)} |`);
}
console.log(`ratio on/off: throughput ${(on.ackedPerSec / off.ackedPerSec).toFixed(2)}x, p99 ${(on.p99 / off.p99).toFixed(2)}x`);
