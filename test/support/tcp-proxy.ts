/**
 * A small TCP proxy for fault injection: forwards to a target until `cut()`, which drops every
 * connection and refuses new ones until `restore()`.
 */
import { createServer, connect, type Socket } from "node:net";

export type TcpProxy = {
  port: number;
  url(template: string): string;
  /** Drop every connection and refuse new ones until restore(). */
  cut(): void;
  restore(): void;
  /** Drop every connection now, mid-stream; keep accepting new ones. */
  drop(): void;
  /** Send new connections to another port (a replaced node behind a stable address); open ones stay. */
  retarget(port: number): void;
  /** The port new connections go to. */
  readonly target: number;
  /**
   * Messages clients sent through the proxy, counted by a 4-byte little-endian length prefix (the
   * MongoDB wire protocol's header): the store's requests, for a command rate. Only with `countMessages`.
   */
  readonly messages: number;
  close(): Promise<void>;
};

/** Proxy 127.0.0.1:<free port> to `targetPort`. */
export async function startTcpProxy(targetPort: number, { countMessages = false } = {}): Promise<TcpProxy> {
  let open = true;
  let messages = 0;
  let target = targetPort;
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  };
  const server = createServer((client) => {
    track(client);
    if (!open) {
      client.destroy();
      return;
    }
    const upstream = connect({ port: target, host: "127.0.0.1" });
    track(upstream);
    if (countMessages)
      client.on(
        "data",
        counter((n) => (messages += n)),
      );
    client.pipe(upstream);
    upstream.pipe(client);
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
    client.once("close", () => upstream.destroy());
    upstream.once("close", () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    port,
    url: (template) => {
      const parsed = new URL(template);
      parsed.host = `127.0.0.1:${port}`;
      return parsed.toString();
    },
    cut() {
      open = false;
      for (const socket of sockets) socket.destroy();
    },
    restore() {
      open = true;
    },
    drop() {
      for (const socket of sockets) socket.destroy();
    },
    retarget(port) {
      target = port;
    },
    get target() {
      return target;
    },
    get messages() {
      return messages;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * Count length-prefixed messages in one direction of a stream (int32 little-endian total length,
 * header included, as in MongoDB's wire protocol). Written here because it is a dozen lines and a
 * wire-protocol parser would be a dependency for a counter.
 */
function counter(add: (n: number) => void): (chunk: Buffer) => void {
  let header = Buffer.alloc(0);
  let remaining = 0;
  return (chunk) => {
    let at = 0;
    while (at < chunk.length) {
      if (remaining > 0) {
        const take = Math.min(remaining, chunk.length - at);
        remaining -= take;
        at += take;
        continue;
      }
      const need = 4 - header.length;
      header = Buffer.concat([header, chunk.subarray(at, at + need)]);
      at += Math.min(need, chunk.length - at);
      if (header.length < 4) return;
      remaining = header.readInt32LE(0) - 4;
      header = Buffer.alloc(0);
      add(1);
      if (remaining < 0) remaining = 0;
    }
  };
}
