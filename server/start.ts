/**
 * One Parley node's wiring (server/main.ts, the entrypoint, calls it). Tracing (when the OTEL_*
 * variables ask for it) starts before the app is imported, so its instrumentations see http,
 * express, ioredis and mongodb load. Importing this module starts nothing.
 */
import { getCompileCacheDir } from "node:module";
import { ConfigError, loadConfig, type Config } from "./config.ts";
import { createLogger } from "./logger.ts";
import { handleShutdownSignals } from "./shutdown.ts";
import { startTracing, tracingWanted, type Tracing } from "./tracing.ts";

/** Read the config, start tracing if asked, build the app and listen; exits 2 on a bad config, 1 if it cannot start. */
export async function start(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    // pino's numeric level for fatal, so log filters treat this line like any other.
    console.error(JSON.stringify({ level: 60, time: Date.now(), msg: `cannot start: ${error.message}`, variable: error.variable }));
    process.exit(2);
  }

  const traced = tracingWanted(process.env);
  const logger = createLogger(config, undefined, { traceIds: traced });
  process.on("unhandledRejection", (reason) => logger.error({ err: reason instanceof Error ? reason.stack : String(reason) }, "unhandled rejection"));

  try {
    let tracing: Tracing | undefined;
    if (traced) tracing = await startTracing("parley");
    // Colyseus reads its IPC timeout once, when it loads (just below): a seat reservation on a frozen
    // node waits this long, then as long again for a health check, before the join fails over.
    process.env.COLYSEUS_PRESENCE_SHORT_TIMEOUT = String(config.ipcTimeoutMs);
    const { createApp } = await import("./app.ts");
    const app = await createApp(config, logger);
    handleShutdownSignals(app, config.drainTimeoutMs, logger, tracing && (() => tracing.shutdown()));
    await app.listen();
    logger.info({ port: config.port, transport: app.transportName, env: config.env, tracing: traced, compileCache: getCompileCacheDir() ?? "off" }, "parley node listening");
  } catch (error) {
    logger.fatal({ err: error instanceof Error ? error.message : String(error) }, "cannot start");
    process.exit(1);
  }
}
