/**
 * The systems the benchmark compares, each started as its own server process on the server CPU and
 * reached through its own client: the raw ceilings, the peers, and Parley in memory and durable.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { colyseusConnector, parleyChat, stockBroadcast } from "./clients/colyseus.ts";
import { socketioConnector } from "./clients/socketio.ts";
import { wsConnector } from "./clients/ws.ts";
import { failUsage, type Command, type Option } from "../deploy/cli.ts";
import { pinProcess, startServer, type ServerProcess } from "./server-process.ts";
import type { Connector } from "./workload.ts";

export const SYSTEM_NAMES = ["ws-ceiling", "uws-ceiling", "socketio", "colyseus-stock", "parley-memory", "parley-durable", "parley-durable-pg", "parley-memory-unfiltered"] as const;
export type SystemName = (typeof SYSTEM_NAMES)[number];

/** A system as named on a command line: its label, the system, and the Parley settings it carries. */
export type SystemEntry = { label: string; name: SystemName; env: Record<string, string> };

/**
 * A benchmark's `--systems`: comma-separated entries of `allowed`; a usage error (exit 2) names the
 * first that is not one.
 */
export function systemsOption(command: Pick<Command<Record<string, Option>>, "usage">, text: string, allowed: readonly SystemName[] = SYSTEM_NAMES): SystemEntry[] {
  return text.split(",").map((item) => {
    const entry = parseSystemEntry(item, allowed);
    return "problem" in entry ? failUsage(command, `--systems: ${entry.problem}`) : entry;
  });
}

/**
 * Read `name` or `name@NAME=value+NAME=value` (settings for a Parley server, PARLEY_ROOT=<checkout>
 * among them); answers what is wrong with it instead when it is not one of `allowed`.
 */
function parseSystemEntry(text: string, allowed: readonly SystemName[]): SystemEntry | { problem: string } {
  const label = text.trim();
  const [name, settings] = label.split("@") as [SystemName, string | undefined];
  if (!allowed.includes(name)) return { problem: `"${name}" is not one of ${allowed.join(", ")}` };
  if (settings !== undefined && !name.startsWith("parley")) return { problem: `only a Parley system takes settings ("${label}")` };
  const env: Record<string, string> = {};
  for (const pair of settings?.split("+") ?? []) {
    const match = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(pair);
    if (!match) return { problem: `"${pair}" in "${label}" is not NAME=value` };
    env[match[1]!] = match[2]!;
  }
  return { label, name, env };
}

/**
 * A started system: its server process, the processes of its store for durable Parley (listed
 * again at each step: PostgreSQL starts a backend per connection), and how to connect.
 */
export type RunningSystem = { server: ServerProcess; storePids(): number[]; connector: Connector };
const NO_STORE = () => [];

/** Where and how to start a system. */
export type StartOptions = {
  serverCpu: number;
  /** MongoDB-wire URL (one database per start) for parley-durable and parley-durable-pg. */
  mongoUrl?: string;
  /** The processes of the store behind mongoUrl, so their CPU counts as the server's. */
  storePids?: () => number[];
  /** Settings for a Parley server on top of the benchmark's own (GROUP_COMMIT_WINDOW_MS=10, say). */
  parleyEnv?: Record<string, string>;
  /** Extra node flags for every server, e.g. --cpu-prof. */
  nodeArgs?: string[];
};

const LOADTEST = import.meta.dirname;
const ROOT = join(LOADTEST, "..");

/** Parley's limits raised out of the way: the benchmark measures delivery, not the rate limiter. */
export const PARLEY_BENCH_ENV = {
  LOG_LEVEL: "warn",
  TRANSPORT: "ws",
  SEND_RATE_PER_SEC: "100000",
  SEND_BURST: "100000",
  REQUEST_RATE_PER_SEC: "100000",
  MAX_FRAMES_PER_SEC: "100000",
  MAX_PENDING_SENDS_PER_ROOM: "100000",
  GROUP_COMMIT_MAX_QUEUE: "1000000",
  // Every load client comes from 127.0.0.1.
  MAX_CONNECTIONS_PER_IP: "1000000",
  JOINS_PER_SEC_PER_IP: "1000000",
};

/**
 * How the load generator reaches a started system: its client library and room (or namespace),
 * from the system's name and its endpoint alone, so a fresh load-generator process can rebuild it.
 */
export function connectorFor(name: SystemName, endpoint: string): Connector {
  switch (name) {
    case "ws-ceiling":
    case "uws-ceiling":
      return wsConnector(endpoint);
    case "socketio":
      return socketioConnector(endpoint);
    case "colyseus-stock":
      return colyseusConnector([endpoint], stockBroadcast);
    case "parley-memory":
    case "parley-memory-unfiltered":
    case "parley-durable":
    case "parley-durable-pg":
      return colyseusConnector([endpoint], parleyChat);
  }
}

/**
 * The processes of a durable store, as data a load-generator process can read again at each step:
 * fixed pids (FerretDB on SQLite), plus PostgreSQL's backends for one database (one per
 * connection, so listed anew), each pinned to `pinCpu` beside the servers.
 */
export type StoreProcesses = { pids: number[]; postgres?: { url: string; database: string; pinCpu: number } };

/** The store's processes now (see StoreProcesses). */
export function listStoreProcesses(store: StoreProcesses): number[] {
  if (store.postgres === undefined) return store.pids;
  const { url, database, pinCpu } = store.postgres;
  const backends = spawnSync("psql", [url, "-tAc", `select pid from pg_stat_activity where datname = '${database}'`], { encoding: "utf8" })
    .stdout.split("\n")
    .map(Number)
    .filter((pid) => pid > 0);
  const pids = [...store.pids, ...backends];
  for (const pid of pids) pinProcess(pid, pinCpu);
  return pids;
}

/** Start one system's server; rejects (for uws-ceiling, with "skipped: <reason>") when it cannot run here. */
export async function startSystem(name: SystemName, options: StartOptions): Promise<RunningSystem> {
  const cpu = options.serverCpu;
  const script = (file: string) => join(LOADTEST, "servers", file);
  const started = (server: ServerProcess, storePids: () => number[] = NO_STORE): RunningSystem => ({ server, storePids, connector: connectorFor(name, server.endpoint) });
  switch (name) {
    case "ws-ceiling":
      return started(await startServer(script("ws-ceiling.ts"), {}, cpu, options.nodeArgs));
    case "uws-ceiling":
      return started(await startServer(script("uws-ceiling.ts"), {}, cpu, options.nodeArgs));
    case "socketio":
      return started(await startServer(script("socketio.ts"), {}, cpu, options.nodeArgs));
    case "colyseus-stock":
      return started(await startServer(script("colyseus-stock.ts"), {}, cpu, options.nodeArgs));
    case "parley-memory":
    case "parley-memory-unfiltered":
    case "parley-durable":
    case "parley-durable-pg": {
      const durable = name.startsWith("parley-durable");
      if (durable && !options.mongoUrl) throw new Error(`${name} needs a MongoDB-wire URL`);
      // parley-memory-unfiltered: the content filter off, to measure what it costs per delivery.
      const env = { ...PARLEY_BENCH_ENV, ...(durable ? { MONGO_URL: options.mongoUrl! } : {}), ...(name === "parley-memory-unfiltered" ? { TEXT_FILTER: "off" } : {}), ...options.parleyEnv };
      // PARLEY_ROOT=<checkout> runs another checkout's server (a git worktree of an earlier commit), so
      // a change is measured side by side with what it replaced: "parley-memory@PARLEY_ROOT=/tmp/before".
      const server = await startServer(join(options.parleyEnv?.PARLEY_ROOT ?? ROOT, "server", "main.ts"), env, cpu, options.nodeArgs);
      return started(server, durable ? options.storePids : NO_STORE);
    }
  }
}

/** PID of the process listening on a local TCP port (the FerretDB child of startMongoWire). */
export function pidListeningOn(port: number): number | undefined {
  const found = spawnSync("sh", ["-c", `pgrep -f "listen-addr=127.0.0.1:${port}" | head -1`])
    .stdout?.toString()
    .trim();
  return found ? Number(found) : undefined;
}
