/**
 * Process lifecycle: on SIGTERM or SIGINT the node drains (readyz turns 503, rooms send `migrate`
 * and close) and exits when done or after drainTimeoutMs.
 */
import type { App } from "./app.ts";
import type { Logger } from "./logger.ts";

/** Install the signal handlers for a running app. */
export function handleShutdownSignals(app: App, drainTimeoutMs: number, logger: Logger, flush?: () => Promise<void>): void {
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    const started = Date.now();
    logger.info({ signal, drainTimeoutMs }, "draining");
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
  };
  process.once("SIGTERM", () => void stop("SIGTERM"));
  process.once("SIGINT", () => void stop("SIGINT"));
}
