/**
 * Benchmark (issue #14): what tracing costs. The same chat workload runs on a node with tracing
 * off and on (OpenTelemetry, parent-based trace-id ratio sampling, 1 % unless told), durable
 * history on the MongoDB-wire store and routing on Redis so every instrumentation is in play; the
 * spans go over OTLP/HTTP to a sink in this process. Modes alternate, a fresh node each window, in
 * one run; the node's CPU time per delivery is the figure (goal: tracing at 1 % within 10 % of off).
 *
 *   npm run bench:tracing -- [--runs 3] [--seconds 10] [--conversations 20] [--room-size 5] [--rate 200] [--ratios 0.01,1]
 *
 * The node runs pinned to CPU 0; the load generator, Redis and the store share CPU 1. Printed and
 * written to loadtest/results/tracing.md, never asserted.
 */
import "./clients/prefer-ws.ts";
import { appendFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import { join } from "node:path";
import { commandLine, failUsage, positiveList } from "../deploy/cli.ts";
import { startMongoWire, startRedis, withDatabase, type Service } from "../deploy/services.ts";
import { colyseusConnector, parleyChatNamed } from "./clients/colyseus.ts";
import { cpuMicros, hasTaskset, startServer } from "./server-process.ts";
import { createMeter, drain, percentilesMs, sendOpenLoop, type Member, type Seating } from "./workload.ts";

const values = commandLine({
  usage: "npm run bench:tracing --",
  summary: "Node CPU per delivery with tracing off and on (OpenTelemetry, sampled), alternating windows on fresh nodes in one run. Results go to --out/tracing.md.",
  options: {
    runs: { kind: "integer", default: 3, min: 1, help: "windows per mode" },
    seconds: { kind: "number", default: 10, min: 1, help: "seconds per measured window (after a warm-up window of the same length)" },
    conversations: { kind: "integer", default: 20, min: 1, help: "channels of the workload" },
    "room-size": { kind: "integer", default: 5, min: 1, help: "members per channel" },
    rate: { kind: "integer", default: 200, min: 1, help: "messages per second" },
    ratios: { kind: "string", default: "0.01", help: "comma-separated sampling ratios to run beside tracing off" },
    out: { kind: "string", default: join(import.meta.dirname, "results"), help: "results folder" },
  },
});
const command = { usage: "npm run bench:tracing --" };
const windowMs = Number(values.seconds) * 1000;
const ratios = positiveList(command, "--ratios", String(values.ratios));
if (ratios.some((ratio) => ratio > 1)) failUsage(command, "--ratios: sampling ratios are in (0, 1]");

// The collector stand-in: accepts every export, counts them.
let exports = 0;
const sink = createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    exports++;
    res.writeHead(200, { "content-type": "application/json" }).end("{}");
  });
});
await new Promise<void>((resolve) => sink.listen(0, "127.0.0.1", resolve));
const sinkUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;

const services: Service[] = [];
const redisBase = process.env.REDIS_URL ?? services[services.push(await startRedis()) - 1]!.url;
const mongoUrl = process.env.MONGO_URL ?? services[services.push(await startMongoWire()) - 1]!.url;

type Mode = { name: string; env: Record<string, string> };
const modes: Mode[] = [
  { name: "off", env: {} },
  ...ratios.map((ratio) => ({
    name: `on, ${ratio * 100} % sampled`,
    env: {
      OTEL_TRACES_EXPORTER: "otlp",
      OTEL_EXPORTER_OTLP_ENDPOINT: sinkUrl,
      OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
      OTEL_TRACES_SAMPLER_ARG: String(ratio),
    },
  })),
];

type Window = { cpuPerDeliveryUs: number; p50: number; p99: number; lost: number; delivered: number };
const results = new Map<string, Window[]>(modes.map((mode) => [mode.name, []]));

let windowIndex = 0;
async function measure(mode: Mode): Promise<Window> {
  const index = windowIndex++;
  const server = await startServer(
    join(import.meta.dirname, "..", "server", "main.ts"),
    {
      LOG_LEVEL: "warn",
      SEND_RATE_PER_SEC: "1000",
      SEND_BURST: "1000",
      REQUEST_RATE_PER_SEC: "1000",
      // One load generator is one address: lift the per-address bounds, as bench does.
      MAX_CONNECTIONS_PER_IP: "1000000",
      JOINS_PER_SEC_PER_IP: "1000000",
      REDIS_URL: withDatabase(redisBase, String((index % 15) + 1)),
      MONGO_URL: mongoUrl,
      ...mode.env,
    },
    0,
  );
  try {
    const meter = createMeter();
    const connector = colyseusConnector([server.endpoint], parleyChatNamed({ conversationPrefix: `tracing${Date.now().toString(36)}w${index}` }));
    const seating: Seating = [];
    for (let c = 0; c < Number(values.conversations); c++) {
      const members: Member[] = [];
      for (let u = 0; u < Number(values["room-size"]); u++) members.push(await connector(c, u, meter.events));
      seating.push(members);
    }
    const run = async () => {
      meter.reset();
      const before = cpuMicros(server.pid);
      await sendOpenLoop(seating, meter, { ratePerSec: Number(values.rate), durationMs: windowMs, textBytes: 100 });
      await drain(meter, 5000);
      return { cpuUs: cpuMicros(server.pid) - before, ...percentilesMs(meter.delivery), delivered: meter.delivered, lost: meter.expected - meter.delivered };
    };
    await run(); // warm-up: JIT, connection pools, the rooms' first writes
    const measured = await run();
    await Promise.all(seating.flat().map((member) => member.close()));
    return { cpuPerDeliveryUs: measured.cpuUs / Math.max(1, measured.delivered), p50: measured.p50, p99: measured.p99, lost: measured.lost, delivered: measured.delivered };
  } finally {
    await server.stop();
  }
}

try {
  for (let run = 0; run < Number(values.runs); run++) {
    // Alternate the order each run so drift (the store's growing files, a warming machine) falls on every mode alike.
    const order = run % 2 === 0 ? modes : [...modes].reverse();
    for (const mode of order) {
      const window = await measure(mode);
      results.get(mode.name)!.push(window);
      console.log(
        `run ${run + 1}, tracing ${mode.name}: ${window.cpuPerDeliveryUs.toFixed(1)} us CPU per delivery, p50 ${window.p50.toFixed(1)} ms, p99 ${window.p99.toFixed(1)} ms, lost ${window.lost}`,
      );
    }
  }
} finally {
  sink.close();
  await Promise.all(services.map((service) => service.stop()));
}

const median = (numbers: number[]) => [...numbers].sort((a, b) => a - b)[Math.floor(numbers.length / 2)]!;
const offCpu = median(results.get("off")!.map((window) => window.cpuPerDeliveryUs));
const machine = `${os.cpus()[0]?.model ?? "unknown CPU"}, ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
const lines = [
  `## Tracing cost, ${new Date().toISOString()} (npm run bench:tracing -- --runs ${values.runs} --seconds ${values.seconds} --ratios ${values.ratios})`,
  "",
  `${machine}. Node under test on CPU 0${hasTaskset ? "" : " (taskset missing: not pinned)"}; load generator, Redis and the store (${process.env.MONGO_URL ? "MONGO_URL" : "FerretDB on SQLite"}) on CPU 1.`,
  `Workload: ${values.conversations} channels x ${values["room-size"]} members, ${values.rate} messages/s open loop, 100-byte texts; a fresh node per window (warm-up window, then ${windowMs / 1000} s measured); modes alternate, medians of ${values.runs}. Spans exported over OTLP/HTTP to a sink (${exports} export calls in all).`,
  "",
  "| tracing | node CPU per delivery (us), median | against off | p50 ms | p99 ms | lost |",
  "|---|---|---|---|---|---|",
  ...modes.map((mode) => {
    const windows = results.get(mode.name)!;
    const cpu = median(windows.map((window) => window.cpuPerDeliveryUs));
    return `| ${mode.name} | ${cpu.toFixed(1)} (${windows.map((window) => window.cpuPerDeliveryUs.toFixed(1)).join(", ")}) | ${mode.name === "off" ? "1.00x" : `${(cpu / offCpu).toFixed(2)}x`} | ${median(windows.map((window) => window.p50)).toFixed(1)} | ${median(windows.map((window) => window.p99)).toFixed(1)} | ${windows.reduce((sum, window) => sum + window.lost, 0)} |`;
  }),
  "",
];
writeFileSync(join(values.out!, "tracing.md"), `${lines.join("\n")}\n`);
appendFileSync(join(values.out!, "history.md"), `${lines.join("\n")}\n`);
console.log(lines.join("\n"));
