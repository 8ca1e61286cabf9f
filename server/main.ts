/**
 * Entrypoint of one Parley node: wiring only.
 */
import { createApp } from "./app.ts";
import { ConfigError, loadConfig, type Config } from "./config.ts";
import { createLogger } from "./logger.ts";
import { handleShutdownSignals } from "./shutdown.ts";

let config: Config;
try {
  config = loadConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  // pino's numeric level for fatal, so log filters treat this line like any other.
  console.error(JSON.stringify({ level: 60, time: Date.now(), msg: `cannot start: ${error.message}`, variable: error.variable }));
  process.exit(2);
}

const logger = createLogger(config);
process.on("unhandledRejection", (reason) => logger.error({ err: reason instanceof Error ? reason.stack : String(reason) }, "unhandled rejection"));

try {
  const app = await createApp(config, logger);
  handleShutdownSignals(app, config.drainTimeoutMs, logger);
  await app.listen();
  logger.info({ port: config.port, transport: app.transportName, env: config.env }, "parley node listening");
} catch (error) {
  logger.fatal({ err: error instanceof Error ? error.message : String(error) }, "cannot start");
  process.exit(1);
}
