/**
 * Guards on raw connections, before any room sees them:
 * - a TCP connection that sends no complete HTTP request or WebSocket upgrade within
 *   `handshakeTimeoutMs` is closed (idle sockets and slow headers cost a stranger nothing, and the
 *   node a file descriptor each);
 * - one client address holds at most `maxConnections` open connections (HTTP and WebSocket);
 * - a WebSocket that breaks the protocol (an oversize frame, a bad opcode) is logged once, at
 *   warn and without a stack, and counted; Colyseus's own handler logs each at error with a stack.
 */
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { ThrottledLog } from "../rooms/plugins/log-throttle.ts";
import { clientAddress, PEER_ADDRESS_HEADER } from "./client-address.ts";

/** The parts of ws's WebSocket and WebSocketServer used here (ws ships no types of its own). */
type EventSource = { on(event: string, listener: (...args: any[]) => void): unknown; removeAllListeners(event: string): unknown };
export type WebSocketServerLike = EventSource;

/** Which per-address bound refused. Metric label values: bounded. */
export type IpLimitName = "connections" | "joins";

export type ConnectionGuardEvents = {
  /** A connection was closed, by reason: `handshake_timeout`, or a ws error code in lower case. */
  onRefused(reason: string): void;
  /** A connection or a join was refused by a per-address bound. */
  onIpLimit(limit: IpLimitName): void;
  log: ThrottledLog;
};

/** The per-address bounds on connections (config.ipLimits). */
export type AddressConnectionLimits = {
  /** Open connections one client address may hold on this node. */
  maxConnections: number;
  /** Proxies in front of the node that append to X-Forwarded-For; 0 trusts no header. */
  trustedProxyHops: number;
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

/**
 * Set PEER_ADDRESS_HEADER on every request and upgrade to its TCP peer, overwriting what the
 * client sent, so code that sees only headers (the matchmaking guard) can apply clientAddress.
 */
export function stampPeerAddress(server: Server): void {
  const stamp = (request: IncomingMessage) => {
    request.headers[PEER_ADDRESS_HEADER] = request.socket.remoteAddress ?? "";
    return true;
  };
  interceptBeforeListeners(server, { request: stamp, upgrade: stamp });
}

/** What an AddressConnections guard holds, for tests and bounds checks. */
export type AddressConnections = {
  /** Addresses with at least one counted connection: memory is bounded by open connections. */
  readonly addressCount: number;
  /** Connections counted against `address` now. */
  openConnections(address: string): number;
};

/**
 * Count open connections per client address and refuse those over `maxConnections`. With no
 * trusted proxy the address is the peer's, known when the TCP connection opens: one over the bound
 * is destroyed there, before HTTP sees it, so it costs nothing. Behind proxies the address is only
 * known from a request's X-Forwarded-For: a connection counts against the address of its latest
 * request or its upgrade (a proxy's kept-alive connection may carry several clients in turn), and
 * one over the bound is answered 429 RATE_LIMITED and closed. A connection stops counting when it
 * closes; an address goes from memory when its count reaches zero.
 */
export function guardAddressConnections(server: Server, limits: AddressConnectionLimits, events: ConnectionGuardEvents): AddressConnections {
  const { maxConnections, trustedProxyHops } = limits;
  /** address -> connections counted against it; never holds a zero. */
  const open = new Map<string, number>();
  /** connection -> the address it counts against. */
  const countedAs = new WeakMap<Socket, string>();
  const watched = new WeakSet<Socket>();

  const release = (socket: Socket) => {
    const address = countedAs.get(socket);
    if (address === undefined) return;
    countedAs.delete(socket);
    const count = (open.get(address) ?? 1) - 1;
    if (count > 0) open.set(address, count);
    else open.delete(address);
  };
  /** Count `socket` against `address`; false when the address is at its bound. */
  const admit = (socket: Socket, address: string | undefined): boolean => {
    // A destroyed socket may already have emitted "close": counting it would never be undone.
    if (address === undefined || socket.destroyed || countedAs.get(socket) === address) return true;
    release(socket);
    const count = open.get(address) ?? 0;
    if (count >= maxConnections) {
      events.onIpLimit("connections");
      events.log("ip_connections_refused", { address, maxConnections }, "connection refused: too many open connections from this address");
      return false;
    }
    open.set(address, count + 1);
    countedAs.set(socket, address);
    if (!watched.has(socket)) {
      watched.add(socket);
      socket.once("close", () => release(socket));
    }
    return true;
  };
  const addressOf = (request: IncomingMessage) => clientAddress(request.socket.remoteAddress, request.headers["x-forwarded-for"], trustedProxyHops);
  const message = `too many open connections from this address (at most ${maxConnections}); close one and try again`;

  if (trustedProxyHops === 0) {
    interceptBeforeListeners(server, {
      connection(socket) {
        if (admit(socket, clientAddress(socket.remoteAddress, undefined, 0))) return true;
        socket.destroy();
        return false;
      },
    });
  } else {
    interceptBeforeListeners(server, {
      request(request, response) {
        if (admit(request.socket, addressOf(request))) return true;
        response.writeHead(429, { "content-type": "application/json", connection: "close" });
        response.end(refusalBody(message));
        return false;
      },
      upgrade(request, socket) {
        if (admit(socket, addressOf(request))) return true;
        const body = refusalBody(message);
        socket.once("finish", () => socket.destroy());
        socket.end(`HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
        return false;
      },
    });
  }
  return {
    get addressCount() {
      return open.size;
    },
    openConnections: (address) => open.get(address) ?? 0,
  };
}

function refusalBody(message: string): string {
  return JSON.stringify({ error: { code: "RATE_LIMITED", message } });
}

/** Each hook answers whether the event goes on to the server's listeners. */
type ServerEventHooks = {
  connection?(socket: Socket): boolean;
  request?(request: IncomingMessage, response: ServerResponse): boolean;
  upgrade?(request: IncomingMessage, socket: Socket): boolean;
};

/**
 * Run `hooks` before any listener of the server's events, whenever those listeners were added:
 * Colyseus prepends its router to the "request" listeners when it starts listening, so a listener
 * of ours could neither stamp a header before it reads them nor keep a refused request from it.
 */
function interceptBeforeListeners(server: Server, hooks: ServerEventHooks): void {
  const emit = server.emit as (this: Server, event: string | symbol, ...args: unknown[]) => boolean;
  server.emit = function (this: Server, event: string | symbol, ...args: unknown[]): boolean {
    let pass = true;
    if (event === "connection" && hooks.connection) pass = hooks.connection(args[0] as Socket);
    // "checkContinue" is a request too (Expect: 100-continue), emitted instead of "request" when listened to.
    else if ((event === "request" || event === "checkContinue") && hooks.request) pass = hooks.request(args[0] as IncomingMessage, args[1] as ServerResponse);
    else if (event === "upgrade" && hooks.upgrade) pass = hooks.upgrade(args[0] as IncomingMessage, args[1] as Socket);
    return pass ? emit.call(this, event, ...args) : true;
  } as Server["emit"];
}
