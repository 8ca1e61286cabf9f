/**
 * Benchmark (issue #10): what one abusive user or stranger costs everyone else. A steady chat
 * workload runs on one node; each abuse runs beside it, and the other users' delivery p99 is
 * compared with a window of the same workload without abuse, side by side in one run, alternating.
 *
 *   npm run bench:abuse -- [--runs 3] [--seconds 8] [--conversations 20] [--room-size 5] [--rate 200]
 *
 * The node runs pinned to CPU 0; the workload's clients and, in a process of its own, the abuse
 * run on CPU 1, so the abuser's work never blocks the event loop that timestamps deliveries. Beside
 * latency, the node's own CPU per delivery in each window says what the abuse cost the server.
 * Numbers are printed and written to loadtest/results/abuse.md, never asserted.
 */
import "./clients/prefer-ws.ts";
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { connect, type Socket } from "node:net";
import os from "node:os";
import { join } from "node:path";
import { commandLine } from "../deploy/cli.ts";
import { Client, type Room } from "@colyseus/sdk";
import { WebSocket } from "ws";
import { colyseusConnector, parleyChat } from "./clients/colyseus.ts";
import { cpuMicros, hasTaskset, pinProcess, startServer, type ServerProcess } from "./server-process.ts";
import { createMeter, drain, percentilesMs, seatAll, sendOpenLoop, type Seating } from "./workload.ts";

const values = commandLine({
  usage: "npm run bench:abuse --",
  summary:
    "What one abusive user or stranger costs everyone else: a steady chat workload on one node, each abuse beside it, against windows of the same workload without it, alternating. Results go to --out/abuse.md.",
  options: {
    runs: { kind: "integer", default: 3, min: 1, help: "pairs of windows (without, with) per abuse" },
    seconds: { kind: "number", default: 8, min: 1, help: "seconds per window" },
    conversations: { kind: "integer", default: 20, min: 1, help: "channels of the workload" },
    "room-size": { kind: "integer", default: 5, min: 1, help: "members per channel" },
    rate: { kind: "integer", default: 200, min: 1, help: "workload messages per second" },
    out: { kind: "string", default: join(import.meta.dirname, "results"), help: "results folder" },
    abuses: { kind: "string", help: "comma-separated abuses to run (default all): conversations, connections, reservations, idle-sockets, oversize-frames, address-connections, address-joins" },
    abuse: { kind: "string", help: "internal: run one abuse in this process (the benchmark starts itself this way)" },
    endpoint: { kind: "string", help: "internal: the node the abuse targets" },
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
const quiet = (room: Room) => {
  room.onMessage("*", () => undefined);
  return room;
};

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
          rooms.push(quiet(await client.joinOrCreate("chat", { conversationId: `channel:${user}_${i}`, userId: user })));
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
          rooms.push(quiet(await client.joinOrCreate("chat", { conversationId: "channel:load0", userId: user })));
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
  {
    name: "address-connections",
    what: "one other address (127.0.0.2) opens 1,000 TCP connections as fast as it can",
    async run(endpoint, signal) {
      const { port } = new URL(endpoint);
      const outcomes: Outcomes = new Map();
      const sockets: Socket[] = [];
      for (let i = 0; i < 1000 && !signal.aborted; i++) {
        const socket = connect({ port: Number(port), host: "127.0.0.1", localAddress: ABUSER_ADDRESS });
        socket.on("error", () => undefined);
        // A connection the per-address cap refuses is closed within moments; later ones by the handshake timeout.
        const opened = Date.now();
        socket.once("close", () => signal.aborted || count(outcomes, Date.now() - opened < 1000 ? "closed at once" : "closed later"));
        sockets.push(socket);
        if (i % 100 === 99) await new Promise((resolve) => setImmediate(resolve));
      }
      await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
      const open = sockets.filter((socket) => !socket.destroyed).length;
      if (open > 0) outcomes.set("open at end", open);
      for (const socket of sockets) socket.destroy();
      return outcomes;
    },
  },
  {
    name: "address-joins",
    what: "one other address (127.0.0.2) starts 1,000 joins for distinct users as fast as answers come",
    async run(endpoint, signal) {
      const outcomes: Outcomes = new Map();
      const { hostname, port } = new URL(endpoint);
      const prefix = abuserId();
      for (let i = 0; i < 1000 && !signal.aborted; i++) {
        const body = JSON.stringify({ conversationId: `channel:${prefix}_${i % 20}`, userId: `${prefix}_${i}` });
        const answer = await new Promise<{ status: number; text: string }>((resolve) => {
          const request = httpRequest(
            {
              host: hostname,
              port: Number(port),
              path: "/matchmake/joinOrCreate/chat",
              method: "POST",
              localAddress: ABUSER_ADDRESS,
              headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
            },
            (response) => {
              let text = "";
              response.on("data", (chunk: Buffer) => void (text += chunk.toString()));
              response.on("end", () => resolve({ status: response.statusCode ?? 0, text }));
            },
          );
          request.on("error", () => resolve({ status: 0, text: "" }));
          request.end(body);
        });
        count(outcomes, answer.status === 200 ? "accepted" : codeOf(new Error((JSON.parse(answer.text || "{}") as { error?: string }).error ?? `status ${answer.status}`)));
      }
      return outcomes;
    },
  },
];

/** The address the per-address abuses come from: another loopback address than the workload's. */
const ABUSER_ADDRESS = "127.0.0.2";

if (hasTaskset) pinProcess(process.pid, 1);

if (values.abuse !== undefined) {
  // The abuse process: run until told to stop on stdin, then print what the server answered.
  const abuse = ABUSES.find((candidate) => candidate.name === values.abuse);
  if (!abuse || !values.endpoint) {
    console.error(`unknown abuse "${values.abuse}" or no --endpoint; abuses: ${ABUSES.map((a) => a.name).join(", ")}`);
    process.exit(2);
  }
  const controller = new AbortController();
  process.stdin.once("data", () => controller.abort());
  process.stdin.once("end", () => controller.abort());
  const outcomes = await abuse.run(values.endpoint, controller.signal);
  process.stdout.write(`${JSON.stringify(Object.fromEntries(outcomes))}\n`);
  process.exit(0);
}

/** Start an abuse in a process of its own; `stop()` ends it and resolves with its outcomes. */
function startAbuse(abuse: Abuse, endpoint: string): { stop(): Promise<Record<string, number>> } {
  const child = spawn(process.execPath, [import.meta.filename, "--abuse", abuse.name, "--endpoint", endpoint], { stdio: ["pipe", "pipe", "inherit"] });
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => void (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    async stop() {
      child.stdin!.end("stop\n");
      await exited;
      return JSON.parse(output.trim().split("\n").at(-1) || "{}") as Record<string, number>;
    },
  };
}

async function seat(endpoint: string, meter: ReturnType<typeof createMeter>): Promise<Seating> {
  return seatAll(colyseusConnector([endpoint], parleyChat), conversations, roomSize, meter.events);
}

/** One window of the workload, with `abuse` running beside it (or none). */
async function window(server: ServerProcess, seating: Seating, meter: ReturnType<typeof createMeter>, abuse?: Abuse) {
  meter.reset();
  const running = abuse && startAbuse(abuse, server.endpoint);
  const cpuBefore = cpuMicros(server.pid);
  await sendOpenLoop(seating, meter, { ratePerSec, durationMs: windowMs, textBytes: 100 });
  await drain(meter, 5000);
  const serverCpuUs = cpuMicros(server.pid) - cpuBefore;
  const outcomes = (await running?.stop()) ?? {};
  return { ...percentilesMs(meter.delivery), cpuPerDeliveryUs: serverCpuUs / Math.max(1, meter.delivered), lost: meter.expected - meter.delivered, outcomes };
}

const median = (numbers: number[]) => [...numbers].sort((a, b) => a - b)[Math.floor(numbers.length / 2)]!;

const server: ServerProcess = await startServer(
  join(import.meta.dirname, "..", "server", "main.ts"),
  { LOG_LEVEL: "warn", SEND_RATE_PER_SEC: "1000", SEND_BURST: "1000", REQUEST_RATE_PER_SEC: "1000", HANDSHAKE_TIMEOUT_MS: "5000", MAX_CONNECTIONS_PER_IP: "256", JOINS_PER_SEC_PER_IP: "200" },
  0,
);
type Row = {
  abuse: string;
  what: string;
  baselineP99: number[];
  abusedP99: number[];
  baselineP50: number[];
  abusedP50: number[];
  baselineCpu: number[];
  abusedCpu: number[];
  lost: number;
  outcomes: Record<string, number>;
};
const results: Row[] = [];
try {
  const meter = createMeter();
  const seating = await seat(server.endpoint, meter);
  await window(server, seating, meter); // warm-up, not reported
  const chosen = values.abuses === undefined ? ABUSES : ABUSES.filter((abuse) => values.abuses!.split(",").includes(abuse.name));
  for (const abuse of chosen) {
    const row: Row = { abuse: abuse.name, what: abuse.what, baselineP99: [], abusedP99: [], baselineP50: [], abusedP50: [], baselineCpu: [], abusedCpu: [], lost: 0, outcomes: {} };
    for (let run = 0; run < runs; run++) {
      const baseline = await window(server, seating, meter);
      const abused = await window(server, seating, meter, abuse);
      row.baselineP99.push(baseline.p99);
      row.baselineP50.push(baseline.p50);
      row.abusedP99.push(abused.p99);
      row.abusedP50.push(abused.p50);
      row.baselineCpu.push(baseline.cpuPerDeliveryUs);
      row.abusedCpu.push(abused.cpuPerDeliveryUs);
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
  `${new Date().toISOString()}. ${machine}. Node under test on CPU 0${hasTaskset ? "" : " (taskset missing: not pinned)"}; workload clients and the abuse (a process of its own) on CPU 1.`,
  `Workload: ${conversations} channels x ${roomSize} members, ${ratePerSec} messages/s open loop (${ratePerSec * roomSize} deliveries/s), windows of ${windowMs / 1000} s, in-memory store, default per-user bounds.`,
  `Each abuse window alternates with a window without abuse on the same node; medians of ${runs} pairs.`,
  "",
  "Server CPU per delivery is the node's CPU time in the window over the deliveries made: what the abuse cost the server, whatever the load generator's own noise.",
  "",
  "| abuse | others' p50 without / with (ms) | others' p99 without / with (ms) | p99 ratio | node CPU per delivery without / with (us) | lost | what the abuser got (last run) |",
  "|---|---|---|---|---|---|---|",
  ...results.map((row) => {
    const [b99, a99, b50, a50, bCpu, aCpu] = [row.baselineP99, row.abusedP99, row.baselineP50, row.abusedP50, row.baselineCpu, row.abusedCpu].map(median) as [
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    return `| ${row.what} | ${b50.toFixed(1)} / ${a50.toFixed(1)} | ${b99.toFixed(1)} / ${a99.toFixed(1)} | ${(a99 / b99).toFixed(2)}x | ${bCpu.toFixed(1)} / ${aCpu.toFixed(1)} | ${row.lost} | ${Object.entries(
      row.outcomes,
    )
      .map(([code, n]) => `${code} ${n}`)
      .join(", ")} |`;
  }),
  "",
];
writeFileSync(join(values.out!, "abuse.md"), lines.join("\n"));
writeFileSync(join(values.out!, "abuse.json"), JSON.stringify({ machine, conversations, roomSize, ratePerSec, windowMs, runs, results }, null, 2));
console.log(lines.join("\n"));
