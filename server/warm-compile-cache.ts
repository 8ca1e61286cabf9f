/**
 * Fill Node's module compile cache with every module a node loads, without starting one: the image
 * runs this at build time (NODE_COMPILE_CACHE names the directory), so each node it starts skips
 * parsing, type stripping and compiling them. Prints the directory; exits 1 if the cache cannot be
 * turned on there.
 */
import { enableCompileCache, flushCompileCache } from "node:module";
import { keepPm2AgentOut } from "./pm2-agent.ts";

const { directory, message } = enableCompileCache();
if (directory === undefined) {
  console.error(`compile cache not enabled: ${message ?? "unknown reason"}`);
  process.exit(1);
}
// The wiring (importing it starts nothing) with all it imports, then what the app imports on
// demand: the MongoDB stores, the transports (uWebSockets.js loads only where its glibc is new
// enough, as in the image), and the PM2 agent package Colyseus's stats import (its agent kept out,
// as in a node).
keepPm2AgentOut();
const modules = ["./start.ts", "./app.ts", "./history/mongo-history-store.ts", "./history/mongo-moderation-store.ts", "@colyseus/ws-transport"];
for (const name of modules) await import(name);
for (const optional of ["@colyseus/uwebsockets-transport", "@pm2/io"]) await import(optional).catch(() => undefined);
flushCompileCache();
console.log(directory);
