/**
 * A Parley node in a worker thread (started by deploy/node-thread.ts): server/start.ts's wiring,
 * with the parent's "drain" message in place of SIGTERM. The worker's process.env is its own.
 */
import { parentPort } from "node:worker_threads";
import { loadConfig } from "../server/config.ts";
import { createLogger } from "../server/logger.ts";
import { drainAndExit } from "../server/shutdown.ts";

const config = loadConfig();
// Through the worker's stdout stream (the parent reads it), not pino's direct write to fd 1.
const logger = createLogger(config, process.stdout);
// Colyseus reads its IPC timeout once, when it loads (just below), as server/start.ts sets it.
process.env.COLYSEUS_PRESENCE_SHORT_TIMEOUT = String(config.ipcTimeoutMs);
const { createApp } = await import("../server/app.ts");
const app = await createApp(config, logger);
await app.listen();
parentPort!.once("message", (message: { kind?: unknown }) => {
  if (message.kind === "drain") void drainAndExit(app, config.drainTimeoutMs, logger, "drain message");
});
parentPort!.postMessage({ kind: "listening" });
