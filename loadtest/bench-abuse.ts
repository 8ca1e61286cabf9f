/**
 * Benchmark (issue #10): what one abusive user or stranger costs everyone else. A steady chat
 * workload runs on one node; each abuse runs beside it, and the other users' delivery p99 is
 * compared with a window of the same workload without abuse, side by side in one run, alternating.
 *
 *   npm run bench:abuse -- [--runs 3] [--seconds 8] [--conversations 20] [--room-size 5] [--rate 200]
 *
 * The node runs pinned to CPU 0, this process (workload and abuse) to CPU 1. Numbers are printed and
 * written to loadtest/results/abuse.md, never asserted.
 */
import "./clients/prefer-ws.ts";
import { writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import os from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Client, type Room } from "@colyseus/sdk";
import { WebSocket } from "ws";
import { colyseusConnector, parleyChat } from "./clients/colyseus.ts";
import { hasTaskset, pinProcess, startServer, type ServerProcess } from "./server-process.ts";
import { createMeter, drain, percentilesMs, sendOpenLoop, type Member, type Seating } from "./workload.ts";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "3" },
    seconds: { type: "string", default: "8" },
    conversations: { type: "string", default: "20" },
    "room-size": { type: "string", default: "5" },
    rate: { type: "string", default: "200" },
    out: { type: "string", default: join(import.meta.dirname, "results") },
  },
});
const runs = Number(values.runs);
const windowMs = Number(values.seconds) * 1000;
const conversations = Number(values.conversations);
const roomSize = Number(values["room-size"]);
const ratePerSec = Number(values.rate);

/** What an abuse got from the server: outcomes by code. */
type Outcomes = Map<string, number>;
const count = (outcomes: Outcomes, code: string) => outcomes.set(code, (outcomes.get(code) ?? 0) + 1);
const codeOf = (error: unknown) => /^([A-Z_]{3,})/.exec((error as Error).message ?? "")?.[1] ?? "ERROR";

/** An abuse: starts, runs until the signal, cleans up, and reports what it was answered. */
type Abuse = { name: string; what: string; run(endpoint: string, signal: AbortSignal): Promise<Outcomes> };

let abuser = 0;
const abuserId = () => `abuser${process.pid}_${abuser++}`;

const ABUSES: Abuse[] = [
  {
    name: "conversations",
    what: "one user joins 500 distinct channels as fast as answers come",
    async run(endpoint, signal) {
      const client = new Client(endpoint);
      const user = abuserId();
      const outcomes: Outcomes = new Map();
      const rooms: Room[] = [];
      for (let i = 0; i < 500 && !signal.aborted; i++) {
        try {
          rooms.push(await client.joinOrCreate("chat", { conversationId: `channel:${user}_${i}`, userId: user }));
          count(outcomes, "accepted");
        } catch (error) {
          count(outcomes, codeOf(error));
        }
      }
      await Promise.all(rooms.map((room) => room.leave().catch(() => undefined)));
      return outcomes;
    },
  },
  {
    name: "connections",
    what: "one user opens 200 connections to one channel",
    async run(endpoint, signal) {
      const client = new Client(endpoint);
      const user = abuserId();
      const outcomes: Outcomes = new Map();
      const rooms: Room[] = [];
      for (let i = 0; i < 200 && !signal.aborted; i++) {
        try {
          rooms.push(await client.joinOrCreate("chat", { conversationId: "channel:load0", userId: user }));
          count(outcomes, "accepted");
        } catch (error) {
          count(outcomes, codeOf(error));
        }
      }
      await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
      await Promise.all(rooms.map((room) => room.leave().catch(() => undefined)));
      return outcomes;
    },
  },
  {
    name: "reservations",
    what: "one user takes 1,000 seat reservations for distinct channels and never connects",
    async run(endpoint, signal) {
      const user = abuserId();
      const outcomes: Outcomes = new Map();
      for (let i = 0; i < 1000 && !signal.aborted; i++) {
        const response = await fetch(`${endpoint}/matchmake/joinOrCreate/chat`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ conversationId: `channel:${user}_${i}`, userId: user }),
        });
        const body = (await response.json()) as { error?: string };
        count(outcomes, response.ok ? "accepted" : codeOf(new Error(body.error)));
      }
      return outcomes;
    },
  },
  {
    name: "idle-sockets",
    what: "a stranger opens 200 TCP connections and sends nothing",
    async run(endpoint, signal) {
      const { port } = new URL(endpoint);
      const outcomes: Outcomes = new Map();
      const sockets: Socket[] = [];
      for (let i = 0; i < 200; i++) {
        const socket = connect({ port: Number(port), host: "127.0.0.1" });
        socket.on("error", () => undefined);
        socket.once("close", () => signal.aborted || count(outcomes, "closed by server"));
        sockets.push(socket);
      }
      await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
      const open = sockets.filter((socket) => !socket.destroyed).length;
      if (open > 0) outcomes.set("open at end", open);
      for (const socket of sockets) socket.destroy();
      return outcomes;
    },
  },
  {
    name: "oversize-frames",
    what: "a stranger opens 200 WebSockets, each sending 70 KB frames",
    async run(endpoint, signal) {
      const outcomes: Outcomes = new Map();
      const url = endpoint.replace("http", "ws");
      for (let i = 0; i < 200 && !signal.aborted; i++) {
        await new Promise<void>((resolve) => {
          const socket = new WebSocket(`${url}/`);
          socket.on("open", () => socket.send(Buffer.alloc(70 * 1024)));
          socket.on("close", (code) => resolve(void count(outcomes, `closed ${code}`)));
          socket.on("error", () => undefined);
        });
      }
      return outcomes;
    },
  },
];

if (hasTaskset) pinProcess(process.pid, 1);

async function seat(endpoint: string, meter: ReturnType<typeof createMeter>): Promise<Seating> {
  const connector = colyseusConnector([endpoint], parleyChat);
  const seating: Seating = [];
  for (let c = 0; c < conversations; c++) {
    const members: Member[] = [];
    for (let u = 0; u < roomSize; u++) members.push(await connector(c, u, meter.events));
    seating.push(members);
  }
  return seating;
}

/** One window of the workload, with `abuse` running beside it (or none). */
async function window(endpoint: string, seating: Seating, meter: ReturnType<typeof createMeter>, abuse?: Abuse) {
  meter.reset();
  const controller = new AbortController();
  const abused = abuse?.run(endpoint, controller.signal);
  await sendOpenLoop(seating, meter, { ratePerSec, durationMs: windowMs, textBytes: 100 });
  controller.abort();
  await drain(meter, 5000);
  const outcomes = (await abused) ?? new Map();
  return { ...percentilesMs(meter.delivery), lost: meter.expected - meter.delivered, errors: Object.fromEntries(meter.errors), outcomes: Object.fromEntries(outcomes) };
}

const median = (numbers: number[]) => [...numbers].sort((a, b) => a - b)[Math.floor(numbers.length / 2)]!;

const server: ServerProcess = await startServer(
  join(import.meta.dirname, "..", "server", "main.ts"),
  { LOG_LEVEL: "warn", SEND_RATE_PER_SEC: "1000", SEND_BURST: "1000", REQUEST_RATE_PER_SEC: "1000", HANDSHAKE_TIMEOUT_MS: "5000" },
  0,
);
const results: Array<{ abuse: string; what: string; baselineP99: number[]; abusedP99: number[]; baselineP50: number[]; abusedP50: number[]; lost: number; outcomes: Record<string, number> }> = [];
try {
  const meter = createMeter();
  const seating = await seat(server.endpoint, meter);
  await window(server.endpoint, seating, meter); // warm-up, not reported
  for (const abuse of ABUSES) {
    const row = { abuse: abuse.name, what: abuse.what, baselineP99: [] as number[], abusedP99: [] as number[], baselineP50: [] as number[], abusedP50: [] as number[], lost: 0, outcomes: {} as Record<string, number> };
    for (let run = 0; run < runs; run++) {
      const baseline = await window(server.endpoint, seating, meter);
      const abused = await window(server.endpoint, seating, meter, abuse);
      row.baselineP99.push(baseline.p99);
      row.baselineP50.push(baseline.p50);
      row.abusedP99.push(abused.p99);
      row.abusedP50.push(abused.p50);
      row.lost += baseline.lost + abused.lost;
      row.outcomes = abused.outcomes;
      console.log(`${abuse.name} run ${run + 1}: others' delivery p99 ${baseline.p99.toFixed(1)} ms without, ${abused.p99.toFixed(1)} ms with; abuse answered ${JSON.stringify(abused.outcomes)}`);
    }
    results.push(row);
  }
  await Promise.all(seating.flat().map((member) => member.close()));
} finally {
  await server.stop();
}

const machine = `${os.cpus()[0]?.model ?? "unknown CPU"}, ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
const lines = [
  "# What abuse costs other users (npm run bench:abuse)",
  "",
  `${new Date().toISOString()}. ${machine}. Node under test on CPU 0${hasTaskset ? "" : " (taskset missing: not pinned)"}, workload and abuse on CPU 1.`,
  `Workload: ${conversations} channels x ${roomSize} members, ${ratePerSec} messages/s open loop (${ratePerSec * roomSize} deliveries/s), windows of ${windowMs / 1000} s, in-memory store, default per-user bounds.`,
  `Each abuse window alternates with a window without abuse on the same node; medians of ${runs} pairs.`,
  "",
  "| abuse | others' p50 without / with (ms) | others' p99 without / with (ms) | p99 ratio | lost | what the abuser got (last run) |",
  "|---|---|---|---|---|---|",
  ...results.map((row) => {
    const [b99, a99, b50, a50] = [median(row.baselineP99), median(row.abusedP99), median(row.baselineP50), median(row.abusedP50)];
    return `| ${row.what} | ${b50.toFixed(1)} / ${a50.toFixed(1)} | ${b99.toFixed(1)} / ${a99.toFixed(1)} | ${(a99 / b99).toFixed(2)}x | ${row.lost} | ${Object.entries(row.outcomes).map(([code, n]) => `${code} ${n}`).join(", ")} |`;
  }),
  "",
];
writeFileSync(join(values.out!, "abuse.md"), lines.join("\n"));
writeFileSync(join(values.out!, "abuse.json"), JSON.stringify({ machine, conversations, roomSize, ratePerSec, windowMs, runs, results }, null, 2));
console.log(lines.join("\n"));
