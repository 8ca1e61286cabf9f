/**
 * Keep PM2's in-process agent out of a node.
 *
 * Colyseus's stats module imports `@pm2/io` whenever it is installed, to show two gauges on a PM2
 * dashboard, and it is installed (`colyseus` depends on `@colyseus/tools`, which depends on it).
 * Importing it starts the whole agent: it wraps `http.Server.prototype.emit` to time every HTTP
 * request, opens an inspector session, lists every libuv handle once a second
 * (`process._getActiveHandles()`: one object per socket, so a node holding 6,700 connections
 * stalls a few milliseconds a second for it), runs its own event-loop timers, and adds
 * `uncaughtException` and `unhandledRejection` handlers that print to stderr beside our JSON log.
 * Parley reports through Prometheus and runs under Kubernetes or systemd, never PM2.
 *
 * The agent is one per process, kept under `Symbol.for("@pm2/io")`: `@pm2/io` uses the one it
 * finds there instead of starting its own. So a stand-in with the one method Colyseus calls
 * (`metric`) keeps it from starting. No option of `@pm2/io` or Colyseus turns this off, hence
 * these lines. Under PM2 (`pm_id` set by it) the agent is left alone.
 */

const AGENT = Symbol.for("@pm2/io");

/** True when the stand-in was put in place (not under PM2, and no agent there yet). */
export function keepPm2AgentOut(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.pm_id !== undefined) return false;
  const global = globalThis as unknown as Record<symbol, unknown>;
  if (global[AGENT] !== undefined) return false;
  global[AGENT] = { metric: () => undefined };
  return true;
}
