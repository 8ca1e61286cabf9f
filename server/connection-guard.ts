/**
 * Guards on raw connections, before any room sees them:
 * - a TCP connection that sends no complete HTTP request or WebSocket upgrade within
 *   `handshakeTimeoutMs` is closed (idle sockets and slow headers cost a stranger nothing, and the
 *   node a file descriptor each);
 * - a WebSocket that breaks the protocol (an oversize frame, a bad opcode) is logged once, at
 *   warn and without a stack, and counted; Colyseus's own handler logs each at error with a stack.
 */
import type { Server } from "node:http";
import type { Socket } from "node:net";

/** The parts of ws's WebSocket and WebSocketServer used here (ws ships no types of its own). */
type EventSource = { on(event: string, listener: (...args: any[]) => void): unknown; removeAllListeners(event: string): unknown };
export type WebSocketServerLike = EventSource;
import type { ThrottledLog } from "../rooms/plugins/log-throttle.ts";

export type ConnectionGuardEvents = {
  /** A connection was closed, by reason: `handshake_timeout`, or a ws error code in lower case. */
  onRefused(reason: string): void;
  log: ThrottledLog;
};

/** Close connections that have not completed a request or an upgrade within `timeoutMs`. */
export function guardHandshakes(server: Server, timeoutMs: number, events: ConnectionGuardEvents): void {
  const pending = new WeakMap<Socket, NodeJS.Timeout>();
  const settle = (socket: Socket) => {
    clearTimeout(pending.get(socket));
    pending.delete(socket);
  };
  server.on("connection", (socket: Socket) => {
    const timer = setTimeout(() => {
      pending.delete(socket);
      if (socket.destroyed) return;
      events.onRefused("handshake_timeout");
      events.log("handshake_timeout", { remoteAddress: socket.remoteAddress, timeoutMs }, "connection closed: no request or upgrade in time");
      socket.destroy();
    }, timeoutMs);
    timer.unref();
    pending.set(socket, timer);
    socket.once("close", () => settle(socket));
  });
  // Later requests on a kept-alive connection are bounded by the server's own headersTimeout.
  server.on("request", (request) => settle(request.socket as Socket));
  server.on("upgrade", (request) => settle(request.socket as Socket));
  server.headersTimeout = Math.max(timeoutMs, 1000);
}

const WS_ERROR_CODE = /^WS_ERR_[A-Z_]{1,40}$/;

/** Replace Colyseus's per-error stack trace on each WebSocket with one warn line and a metric. */
export function guardWebSocketErrors(wss: WebSocketServerLike, events: ConnectionGuardEvents): void {
  // Added after the transport's own "connection" listener, which attaches its error handler first.
  wss.on("connection", (socket: EventSource, request: { socket?: Socket }) => {
    socket.removeAllListeners("error");
    let logged = false;
    socket.on("error", (error: Error & { code?: string }) => {
      const reason = WS_ERROR_CODE.test(error.code ?? "") ? error.code!.slice(7).toLowerCase() : "socket_error";
      events.onRefused(reason);
      if (logged) return;
      logged = true;
      events.log("websocket_error", { reason, remoteAddress: request.socket?.remoteAddress, err: error.message }, "websocket closed on a protocol error");
    });
  });
}
