/**
 * What Redis itself counts during a measurement window (INFO stats and commandstats), net of the
 * background rate: every window is followed by an idle window of the same length, whose counts are
 * subtracted. The background is steady (each node renews its one node lease every quarter of
 * ROOM_LEASE_MS, whatever its number of rooms), so an idle window of equal length cancels it;
 * measureIdle measures that rate itself. Used by bench-cluster.ts.
 *
 * `total_commands_processed` counts commands run inside Lua scripts too (a routing EVALSHA that
 * runs GET and HGET counts 3).
 */
import type { Redis } from "ioredis";

export type RedisCounters = { at: number; commands: number; inputBytes: number; outputBytes: number; perCommand: Record<string, number> };

/** Counts over a window, already net of the idle window when they come from measureWindow. */
export type WindowCost = { ms: number; commands: number; inputBytes: number; outputBytes: number; perCommand: Record<string, number> };

export type MeasuredWindow = { raw: WindowCost; idle: WindowCost; net: WindowCost };

/** One INFO call for both sections, so every window costs Redis the same. */
export async function readCounters(redis: Redis): Promise<RedisCounters> {
  const text = (await redis.call("INFO", "stats", "commandstats")) as string;
  const field = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, "m").exec(text)?.[1] ?? Number.NaN);
  const perCommand: Record<string, number> = {};
  for (const match of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) perCommand[match[1]!] = Number(match[2]);
  return {
    at: performance.now(),
    commands: field("total_commands_processed"),
    inputBytes: field("total_net_input_bytes"),
    outputBytes: field("total_net_output_bytes"),
    perCommand,
  };
}

function between(before: RedisCounters, after: RedisCounters): WindowCost {
  const perCommand: Record<string, number> = {};
  for (const [name, calls] of Object.entries(after.perCommand)) {
    const delta = calls - (before.perCommand[name] ?? 0);
    if (delta !== 0) perCommand[name] = delta;
  }
  return {
    ms: after.at - before.at,
    commands: after.commands - before.commands,
    inputBytes: after.inputBytes - before.inputBytes,
    outputBytes: after.outputBytes - before.outputBytes,
    perCommand,
  };
}

function minus(a: WindowCost, b: WindowCost): WindowCost {
  const perCommand: Record<string, number> = {};
  for (const name of new Set([...Object.keys(a.perCommand), ...Object.keys(b.perCommand)])) {
    const delta = (a.perCommand[name] ?? 0) - (b.perCommand[name] ?? 0);
    if (delta !== 0) perCommand[name] = delta;
  }
  return { ms: a.ms, commands: a.commands - b.commands, inputBytes: a.inputBytes - b.inputBytes, outputBytes: a.outputBytes - b.outputBytes, perCommand };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Redis's counts over `ms` of doing nothing: the steady-state background rate (node lease renewals,
 * Colyseus's own timers). The one INFO call the window contains is not counted.
 */
export async function measureIdle(redis: Redis, ms: number): Promise<WindowCost> {
  const before = await readCounters(redis);
  await sleep(ms);
  const idle = between(before, await readCounters(redis));
  const info = idle.perCommand.info ?? 0;
  delete idle.perCommand.info;
  return { ...idle, commands: idle.commands - info };
}

/**
 * Measure `action`, run `cleanup` (outside both windows), then an idle window of the same length;
 * return raw, idle and net counts.
 */
export async function measureWindow(redis: Redis, action: () => Promise<void>, cleanup: () => Promise<void>): Promise<MeasuredWindow> {
  const before = await readCounters(redis);
  await action();
  const after = await readCounters(redis);
  const raw = between(before, after);
  await cleanup();
  await sleep(1000);
  const idleBefore = await readCounters(redis);
  await sleep(raw.ms);
  const idleAfter = await readCounters(redis);
  const idle = between(idleBefore, idleAfter);
  return { raw, idle, net: minus(raw, idle) };
}
