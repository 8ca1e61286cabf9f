/**
 * Process lifecycle: on SIGTERM or SIGINT the node drains (readyz turns 503, rooms send `migrate`
 * and close) and exits when done or after drainTimeoutMs. A node in a worker thread
 * (deploy/node-thread.ts) drains the same way when its parent asks.
 */
import type { App } from "./app.ts";
import type { Logger } from "./logger.ts";

/**
 * Drain `app` and exit (0 drained, 1 timed out or failed); `reason` names what asked, for the log.
 * Call it once.
 */
export async function drainAndExit(app: App, drainTimeoutMs: number, logger: Logger, reason: string, flush?: () => Promise<void>): Promise<void> {
  const started = Date.now();
  logger.info({ signal: reason, drainTimeoutMs }, "draining");
  app.startDraining();
  app.metrics.nodeReady(false);
  const progress = setInterval(() => app.metrics.drainElapsed((Date.now() - started) / 1000), 1000);
  progress.unref();
  const timer = setTimeout(() => {
    app.metrics.drainTimedOut();
    logger.warn({ elapsedMs: Date.now() - started }, "drain timed out; exiting with rooms still open");
    process.exit(1);
  }, drainTimeoutMs);
  timer.unref();
  try {
    await app.close();
    logger.info({ elapsedMs: Date.now() - started }, "drained; exiting");
    // The last spans (tracing on), at most a second: an unreachable collector must not hold the exit.
    if (flush) await Promise.race([flush().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
    process.exit(0);
  } catch (error) {
    logger.error({ err: error instanceof Error ? error.message : String(error) }, "drain failed");
    process.exit(1);
  }
}

/** Install the signal handlers for a running app. */
export function handleShutdownSignals(app: App, drainTimeoutMs: number, logger: Logger, flush?: () => Promise<void>): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    void drainAndExit(app, drainTimeoutMs, logger, signal, flush);
  };
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));
}
