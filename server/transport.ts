/**
 * The WebSocket transport: uWebSockets.js where it loads, the ws transport elsewhere. An explicit
 * TRANSPORT=uws that cannot load is a startup error.
 */
import { createServer } from "node:http";
import type { Transport } from "@colyseus/core";
import type { Config } from "./config.ts";
import { guardHandshakes, guardWebSocketErrors, type ConnectionGuardEvents, type WebSocketServerLike } from "./connection-guard.ts";
import type { Logger } from "./logger.ts";

export type TransportPick = { transport: Transport; name: "uws" | "ws"; reason: string };

/** Create the configured transport; logs which one and why. */
export async function createTransport(config: Pick<Config, "transport" | "handshakeTimeoutMs">, logger: Logger, guard: ConnectionGuardEvents): Promise<TransportPick> {
  let pick: TransportPick;
  const wsTransport = () => guardedWsTransport(config.handshakeTimeoutMs, guard);
  if (config.transport === "ws") {
    pick = { transport: await wsTransport(), name: "ws", reason: "TRANSPORT=ws" };
  } else {
    try {
      const { uWebSocketsTransport } = await import("@colyseus/uwebsockets-transport");
      pick = { transport: new uWebSocketsTransport({ maxPayloadLength: 64 * 1024 }), name: "uws", reason: `TRANSPORT=${config.transport} and uWebSockets.js loaded` };
    } catch (error) {
      const text = error instanceof Error ? error.message : String(error);
      const why = /GLIBC_[\d.]+' not found/.exec(text)?.[0] ?? text.split("\n")[0];
      if (config.transport === "uws") throw new Error(`TRANSPORT=uws but uWebSockets.js cannot load here: ${why}`);
      pick = { transport: await wsTransport(), name: "ws", reason: `TRANSPORT=auto and uWebSockets.js cannot load here (${why})` };
    }
  }
  logger.info({ transport: pick.name, reason: pick.reason }, "websocket transport selected");
  return pick;
}

/**
 * The ws transport on an HTTP server of our own, so the connection guards apply. (uWebSockets.js
 * closes idle HTTP connections by itself after about 10 s and logs no frame errors.)
 */
async function guardedWsTransport(handshakeTimeoutMs: number, guard: ConnectionGuardEvents): Promise<Transport> {
  const { WebSocketTransport } = await import("@colyseus/ws-transport");
  const server = createServer();
  guardHandshakes(server, handshakeTimeoutMs, guard);
  const transport = new WebSocketTransport({ server, pingInterval: 5000, pingMaxRetries: 3, maxPayload: 64 * 1024 });
  guardWebSocketErrors((transport as unknown as { wss: WebSocketServerLike }).wss, guard);
  return transport;
}
