/**
 * Load scenario for people: seat clients in conversations on a running Parley node (or several
 * nodes of a cluster), send at a fixed open-loop rate, show progress every second, then summarise.
 *
 *   npm run loadtest -- --clients 500 --rooms 50 --rate 500 [--duration 30] [--bytes 100]
 *                       [--endpoint http://127.0.0.1:2567[,http://other:2567]]
 *
 * Clients use the resilient client kit (client/: rejoin, outbox, exactly-once delivery), or with
 * `--client sdk` the bare stock @colyseus/sdk 0.18, and development identities (join options
 * userId, name), so the node must run without JWT_SECRET, with SEND_RATE_PER_SEC above
 * rate / clients. Ctrl-C stops sending early and still prints the summary.
 */
import { parseArgs } from "node:util";
import { colyseusConnector, parleyChat } from "./clients/colyseus.ts";
import { kitConnector } from "./clients/kit.ts";
import { closeMembers, seatMembers } from "./sweep.ts";
import { createMeter, drain, percentilesMs, sendOpenLoop } from "./workload.ts";

const { values } = parseArgs({
  options: {
    endpoint: { type: "string", default: "http://127.0.0.1:2567" },
    clients: { type: "string", default: "500" },
    rooms: { type: "string", default: "50" },
    rate: { type: "string", default: "500" },
    duration: { type: "string", default: "30" },
    bytes: { type: "string", default: "100" },
    "ack-timeout": { type: "string", default: "10000" },
    client: { type: "string", default: "kit" },
  },
});
const clients = Number(values.clients);
const rooms = Number(values.rooms);
const ratePerSec = Number(values.rate);
const durationMs = Number(values.duration) * 1000;
for (const [name, value] of Object.entries({ clients, rooms, rate: ratePerSec, duration: durationMs })) {
  if (!(value > 0)) throw new Error(`--${name} must be a positive number`);
}
const endpoints = values.endpoint.split(",").map((url) => url.trim());

const meter = createMeter();
if (values.client !== "kit" && values.client !== "sdk") throw new Error("--client must be kit or sdk");
const connector = values.client === "kit" ? kitConnector(endpoints, Number(values["ack-timeout"])) : colyseusConnector(endpoints, parleyChat, Number(values["ack-timeout"]));
console.log(`seating ${clients} clients (${values.client === "kit" ? "client kit" : "bare SDK"}) in ${rooms} conversations on ${endpoints.join(", ")}`);
const joinStarted = performance.now();
const seating = await seatMembers(connector, rooms, Math.ceil(clients / rooms), meter.events);
const seated = seating.flat().length;
const joinErrors = Object.fromEntries(meter.errors);
console.log(`seated ${seated} in ${((performance.now() - joinStarted) / 1000).toFixed(1)} s${seated < clients ? `; join errors ${JSON.stringify(joinErrors)}` : ""}`);
if (seated === 0) process.exit(1);

const stop = new AbortController();
process.once("SIGINT", () => stop.abort());
const fmt = (ms: number) => (Number.isNaN(ms) ? "–" : ms.toFixed(1));
let last = { sent: 0, delivered: 0, at: performance.now() };
const progress = setInterval(() => {
  const now = performance.now();
  const seconds = (now - last.at) / 1000;
  const d = percentilesMs(meter.delivery);
  const errors = [...meter.errors.values()].reduce((sum, n) => sum + n, 0);
  console.log(
    `${((now - meter.windowStart) / 1000).toFixed(0).padStart(4)} s  sent ${((meter.sent - last.sent) / seconds).toFixed(0).padStart(6)}/s  ` +
      `delivered ${((meter.delivered - last.delivered) / seconds).toFixed(0).padStart(7)}/s  delivery p50 ${fmt(d.p50)} p99 ${fmt(d.p99)} ms  ` +
      `ack p99 ${fmt(percentilesMs(meter.ack).p99)} ms  errors ${errors}`,
  );
  last = { sent: meter.sent, delivered: meter.delivered, at: now };
}, 1000);

meter.reset();
await sendOpenLoop(seating, meter, { ratePerSec, durationMs, textBytes: Number(values.bytes), signal: stop.signal });
const sendSeconds = (performance.now() - meter.windowStart) / 1000;
await drain(meter, 5000);
clearInterval(progress);

const delivery = percentilesMs(meter.delivery);
const ack = percentilesMs(meter.ack);
const line = (name: string, p: typeof delivery) => `${name.padEnd(9)} p50 ${fmt(p.p50)}  p95 ${fmt(p.p95)}  p99 ${fmt(p.p99)}  max ${fmt(p.max)} ms`;
console.log(
  [
    "",
    `summary: ${seated} clients, ${rooms} conversations, ${meter.sent} messages sent in ${sendSeconds.toFixed(1)} s (${(meter.sent / sendSeconds).toFixed(0)}/s)`,
    `deliveries ${(meter.delivered / sendSeconds).toFixed(0)}/s; ${meter.delivered} of ${meter.expected} expected (${((meter.delivered / Math.max(1, meter.expected)) * 100).toFixed(3)} %)`,
    line("ack", ack) + `  (${meter.acked} acked)`,
    line("delivery", delivery),
    `errors by code: ${meter.errors.size === 0 && seated === clients ? "none" : JSON.stringify({ ...joinErrors, ...Object.fromEntries(meter.errors) })}`,
  ].join("\n"),
);
await closeMembers(seating.flat());
process.exit(0);
