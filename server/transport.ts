/**
 * The WebSocket transport: uWebSockets.js where it loads, the ws transport elsewhere. An explicit
 * TRANSPORT=uws that cannot load is a startup error.
 */
import { createServer } from "node:http";
import type { Transport } from "@colyseus/core";
import { clientAddress, PEER_ADDRESS_HEADER } from "./client-address.ts";
import type { Config } from "./config.ts";
import { guardAddressConnections, guardHandshakes, guardWebSocketErrors, stampPeerAddress, type ConnectionGuardEvents, type WebSocketServerLike } from "./connection-guard.ts";
import type { Logger } from "./logger.ts";
import { startPacedPings, type PingedClient } from "./paced-pings.ts";

export type TransportPick = {
  transport: Transport;
  name: "uws" | "ws";
  reason: string;
  /**
   * The client address of a matchmaking call from its request headers (config.ipLimits rule), for
   * the per-address join bound; `undefined` when this transport cannot tell.
   */
  clientAddressOf(headers: Headers): string | undefined;
};

type TransportConfig = Pick<Config, "transport" | "handshakeTimeoutMs" | "ipLimits">;

/** Create the configured transport; logs which one and why. */
export async function createTransport(config: TransportConfig, logger: Logger, guard: ConnectionGuardEvents): Promise<TransportPick> {
  let pick: TransportPick;
  const { trustedProxyHops } = config.ipLimits;
  const wsTransport = async (reason: string): Promise<TransportPick> => ({
    transport: await guardedWsTransport(config, guard),
    name: "ws",
    reason,
    // The ws transport's server stamps each request with its TCP peer, overwriting the client's.
    clientAddressOf: (headers) => clientAddress(headers.get(PEER_ADDRESS_HEADER) ?? undefined, headers.get("x-forwarded-for"), trustedProxyHops),
  });
  if (config.transport === "ws") {
    pick = await wsTransport("TRANSPORT=ws");
  } else {
    try {
      const { uWebSocketsTransport } = await import("@colyseus/uwebsockets-transport");
      pick = {
        transport: new uWebSocketsTransport({ maxPayloadLength: 64 * 1024 }),
        name: "uws",
        reason: `TRANSPORT=${config.transport} and uWebSockets.js loaded`,
        // No peer reaches the matchmaking handlers here: only trusted proxies' X-Forwarded-For tells.
        clientAddressOf: (headers) => (trustedProxyHops > 0 ? clientAddress(undefined, headers.get("x-forwarded-for"), trustedProxyHops) : undefined),
      };
      logger.warn({ transport: "uws", trustedProxyHops }, "per-address connection bounds apply to the ws transport only; joins are bounded per address only behind trusted proxies");
    } catch (error) {
      const text = error instanceof Error ? error.message : String(error);
      const why = /GLIBC_[\d.]+' not found/.exec(text)?.[0] ?? text.split("\n")[0];
      if (config.transport === "uws") throw new Error(`TRANSPORT=uws but uWebSockets.js cannot load here: ${why}`);
      pick = await wsTransport(`TRANSPORT=auto and uWebSockets.js cannot load here (${why})`);
    }
  }
  logger.info({ transport: pick.name, reason: pick.reason }, "websocket transport selected");
  return pick;
}

/**
 * The ws transport on an HTTP server of our own, so the connection guards apply. (uWebSockets.js
 * closes idle HTTP connections by itself after about 10 s and logs no frame errors.)
 */
async function guardedWsTransport(config: TransportConfig, guard: ConnectionGuardEvents): Promise<Transport> {
  const { WebSocketTransport } = await import("@colyseus/ws-transport");
  const server = createServer();
  stampPeerAddress(server);
  guardAddressConnections(server, config.ipLimits, guard);
  guardHandshakes(server, config.handshakeTimeoutMs, guard);
  // Keep-alive pings spread over the interval instead of all sockets at once (server/paced-pings.ts).
  class PacedPingTransport extends WebSocketTransport {
    protected override autoTerminateUnresponsiveClients(pingInterval: number, pingMaxRetries: number): void {
      this.pingInterval = startPacedPings(this.wss.clients as unknown as Iterable<PingedClient>, pingInterval, pingMaxRetries);
    }
  }
  const transport = new PacedPingTransport({ server, pingInterval: 5000, pingMaxRetries: 3, maxPayload: 64 * 1024 });
  guardWebSocketErrors((transport as unknown as { wss: WebSocketServerLike }).wss, guard);
  return transport;
}
