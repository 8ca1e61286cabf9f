/**
 * What each node tells the ops console about itself, every `intervalMs`: role, address, version,
 * readiness, rooms and connections, event-loop lag, CPU and RSS of the process, and rates over the
 * last interval (messages, deliveries, joins, refusals by code, store write latency), plus its
 * busiest conversations. Written to one presence hash (`parley:console:nodes`, a field per
 * process), so any api node can show the whole cluster with one read, whatever the cluster size.
 *
 * Counters are read through prom-client's registry API (never reset by us, so Prometheus scrapes
 * are unaffected); event-loop lag comes from a histogram of our own for the same reason.
 */
import { readFileSync } from "node:fs";
import { monitorEventLoopDelay } from "node:perf_hooks";
import type { Presence } from "@colyseus/core";
import type { Registry } from "prom-client";
import type { Role } from "../config.ts";
import type { LocalRooms } from "./local-rooms.ts";

/** The presence hash of every node's latest stats. */
export const NODE_STATS_KEY = "parley:console:nodes";

/** One node's stats, as published. */
export type NodeStats = {
  processId: string;
  name: string;
  role: Role;
  address: string | undefined;
  version: string;
  ready: boolean;
  draining: boolean;
  rooms: number;
  connections: number;
  eventLoopLagMs: number;
  cpuPercent: number;
  rssBytes: number;
  rates: { messagesPerSec: number; deliveriesPerSec: number; joinsPerSec: number; refusalsPerSec: Record<string, number>; storeWriteMs: number | null };
  busiest: Array<{ conversationId: string; roomId: string; clients: number }>;
  /** Epoch ms of the snapshot; a reader drops entries older than a few intervals (a dead node). */
  at: number;
  intervalMs: number;
  /** Epoch ms the node started (0.8 on; a draining node hands its rooms to younger nodes first). */
  startedAt?: number;
};

export type NodeStatsOptions = {
  presence: Presence;
  registry: Registry;
  localRooms: LocalRooms;
  processId: () => string;
  name: string;
  role: Role;
  address: string | undefined;
  isDraining: () => boolean;
  /** Epoch ms the node started. */
  startedAt: number;
  /** @default 2000 */
  intervalMs?: number;
  onError?: (error: unknown) => void;
};

const VERSION = (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;

/** Counter totals at the previous tick, to turn them into rates. */
type Totals = { messages: number; deliveries: number; joins: number; refusals: Map<string, number>; writeSeconds: number; writes: number; cpuMicros: number; at: number };

/** Publish this node's stats every interval until stopped; removes its entry on stop. */
export function startNodeStats(options: NodeStatsOptions): { stop(): Promise<void>; snapshot(): Promise<NodeStats> } {
  const intervalMs = options.intervalMs ?? 2000;
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  let previous: Totals | undefined;

  async function snapshot(): Promise<NodeStats> {
    const totals = await readTotals(options.registry);
    const last = previous ?? totals;
    previous = totals;
    const seconds = Math.max((totals.at - last.at) / 1000, 0.001);
    const perSec = (now: number, before: number) => round(Math.max(now - before, 0) / seconds);
    const refusalsPerSec: Record<string, number> = {};
    for (const [code, count] of totals.refusals) {
      const rate = perSec(count, last.refusals.get(code) ?? 0);
      if (rate > 0) refusalsPerSec[code] = rate;
    }
    const writes = totals.writes - last.writes;
    const lagMs = Number.isFinite(lag.percentile(99)) ? lag.percentile(99) / 1e6 : 0;
    lag.reset();
    const census = options.localRooms.census("chat", 20);
    return {
      processId: options.processId(),
      name: options.name,
      role: options.role,
      address: options.address,
      version: VERSION,
      ready: (await gaugeValue(options.registry, "parley_node_ready")) === 1 && !options.isDraining(),
      draining: options.isDraining(),
      rooms: census.rooms,
      connections: census.clients,
      eventLoopLagMs: round(lagMs),
      cpuPercent: round(((totals.cpuMicros - last.cpuMicros) / 1000 / (seconds * 1000)) * 100),
      rssBytes: process.memoryUsage.rss(),
      rates: {
        messagesPerSec: perSec(totals.messages, last.messages),
        deliveriesPerSec: perSec(totals.deliveries, last.deliveries),
        joinsPerSec: perSec(totals.joins, last.joins),
        refusalsPerSec,
        storeWriteMs: writes > 0 ? round(((totals.writeSeconds - last.writeSeconds) / writes) * 1000) : null,
      },
      busiest: census.busiest.map(({ routeValue, roomId, clients }) => ({ conversationId: routeValue, roomId, clients })),
      at: Date.now(),
      intervalMs,
      startedAt: options.startedAt,
    };
  }

  const tick = async () => {
    try {
      const stats = await snapshot();
      await options.presence.hset(NODE_STATS_KEY, stats.processId, JSON.stringify(stats));
    } catch (error) {
      options.onError?.(error);
    }
  };
  void tick();
  const timer = setInterval(() => void tick(), intervalMs);
  timer.unref();

  return {
    snapshot,
    async stop() {
      clearInterval(timer);
      lag.disable();
      await Promise.resolve(options.presence.hdel(NODE_STATS_KEY, options.processId())).catch(() => undefined);
    },
  };
}

async function readTotals(registry: Registry): Promise<Totals> {
  const refusals = new Map<string, number>();
  for (const { labels, value } of await valuesOf(registry, "parley_chat_requests_refused_total")) add(refusals, String(labels.code), value);
  let joins = 0;
  for (const { labels, value } of await valuesOf(registry, "parley_joins_total")) {
    if (labels.outcome === "joined") joins += value;
    else add(refusals, String(labels.outcome), value);
  }
  const writeLatency = await valuesOf(registry, "parley_history_write_duration_seconds");
  const cpu = process.cpuUsage();
  return {
    messages: sum(await valuesOf(registry, "parley_chat_messages_accepted_total")),
    deliveries: sum(await valuesOf(registry, "parley_chat_deliveries_total")),
    joins,
    refusals,
    writeSeconds: sum(writeLatency.filter((value) => value.metricName?.endsWith("_sum"))),
    writes: sum(writeLatency.filter((value) => value.metricName?.endsWith("_count"))),
    cpuMicros: cpu.user + cpu.system,
    at: Date.now(),
  };
}

type Sample = { value: number; labels: Record<string, string | number | undefined>; metricName?: string };

async function valuesOf(registry: Registry, name: string): Promise<Sample[]> {
  const metric = registry.getSingleMetric(name);
  return metric ? ((await metric.get()).values as Sample[]) : [];
}

async function gaugeValue(registry: Registry, name: string): Promise<number | undefined> {
  return (await valuesOf(registry, name))[0]?.value;
}

const sum = (samples: Sample[]) => samples.reduce((total, sample) => total + sample.value, 0);
const add = (map: Map<string, number>, key: string, value: number) => map.set(key, (map.get(key) ?? 0) + value);
const round = (value: number) => Math.round(value * 100) / 100;
