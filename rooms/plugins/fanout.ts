/**
 * Fan-out that frames a message once and writes the same bytes to every recipient, and sends the
 * frames one loop turn has for a socket in one write.
 *
 * Colyseus's `broadcast` encodes a message once, but ws then frames it again for every socket: a
 * header and two option objects allocated and two writes corked per recipient, since ws has no
 * public call for an already framed message. Here the frame is made once with ws's own
 * `Sender.frame` and handed to each socket's sender (`sendFrame`, the call ws's `send` ends in).
 *
 * Every recipient's socket is also corked until the loop turn ends (`setImmediate`), so what one
 * turn sends it (the messages of one durable batch, and the sender's own acknowledgement that
 * follows its message) leaves in one writev instead of one system call per frame.
 *
 * Hand-written because neither Colyseus nor ws offers it; it relies on ws 8's sender (`_sender`,
 * `_state`, `sendFrame`) and socket (`_socket`), checked at every use: a client whose socket is not
 * ws's (uWebSockets.js), is not seated yet, or whose sender is busy takes Colyseus's own path.
 */
import type { Socket } from "node:net";
import { ClientState, getMessageBytes, Protocol, type Client, type Room } from "@colyseus/core";
import * as ws from "ws";

/** What of a ws WebSocket this uses (ws 8; its types leave these out). */
type WsSocket = {
  readyState: number;
  _socket?: Socket;
  _sender?: { _state?: number; _firstFragment?: boolean; sendFrame(list: Buffer[]): void };
};
type FrameOptions = { fin: boolean; rsv1: boolean; opcode: number; mask: boolean; readOnly: boolean };
const { Sender } = ws as unknown as { Sender?: { frame(data: Buffer, options: FrameOptions): [Buffer, Buffer?] } };
const BINARY_FRAME: FrameOptions = { fin: true, rsv1: false, opcode: 2, mask: false, readOnly: true };
const OPEN = 1;
/** ws's sender state when nothing is queued (no compression or Blob read in progress). */
const SENDER_IDLE = 0;

/** The ws socket of a seated client whose sender can take a ready frame now, if it has one. */
function wsSocketOf(client: Client): WsSocket | undefined {
  if (client.state !== ClientState.JOINED) return undefined;
  const socket = (client as unknown as { ref?: WsSocket }).ref;
  const sender = socket?._sender;
  if (socket?.readyState !== OPEN || sender === undefined || sender._state !== SENDER_IDLE || sender._firstFragment === false || typeof sender.sendFrame !== "function") return undefined;
  return socket;
}

/** Sockets corked in this loop turn; uncorked together when it ends. */
const corked = new Set<Socket>();
let uncorkScheduled = false;

function uncorkAll(): void {
  uncorkScheduled = false;
  for (const socket of corked) if (!socket.destroyed) socket.uncork();
  corked.clear();
}

/** Hold what this turn writes to a socket until the turn ends, so it leaves in one write. */
function corkForTurn(socket: Socket | undefined): void {
  if (socket === undefined || corked.has(socket) || socket.destroyed) return;
  socket.cork();
  corked.add(socket);
  if (!uncorkScheduled) {
    uncorkScheduled = true;
    setImmediate(uncorkAll);
  }
}

/**
 * Send `type` with `message` to `clients` (all of a room's, or all but `except`) as Colyseus's
 * `broadcast` would: one encoding, and here one frame too, written to each socket as is.
 */
export function broadcastFramed(clients: readonly Client[], type: string, message: unknown, except?: Client): void {
  const bytes = getMessageBytes.raw(Protocol.ROOM_DATA, type, message);
  let frame: Buffer[] | undefined;
  for (let i = clients.length - 1; i >= 0; i--) {
    const client = clients[i]!;
    if (client === except) continue;
    const socket = Sender === undefined ? undefined : wsSocketOf(client);
    if (socket === undefined) {
      client.enqueueRaw(bytes);
      continue;
    }
    if (frame === undefined) {
      const [header, payload] = Sender!.frame(bytes, BINARY_FRAME);
      frame = [payload === undefined ? header : Buffer.concat([header, payload])];
    }
    corkForTurn(socket._socket);
    socket._sender!.sendFrame(frame);
  }
}

/** Colyseus's broadcast options (its index does not export the type). */
type IBroadcastOptions = { except?: Client | Client[]; afterNextPatch?: boolean };
type Broadcasting = { clients: Client[]; broadcast(type: unknown, message?: unknown, options?: IBroadcastOptions): void };

/**
 * Install on a room class: its `broadcast` of a message to all clients, or all but one, goes
 * through `broadcastFramed`; anything else (bytes, numeric types, after-patch sends, several
 * exceptions) through Colyseus's own.
 */
export function frameBroadcasts(roomClass: typeof Room<any>): void {
  const proto = roomClass.prototype as unknown as Broadcasting;
  const original = proto.broadcast;
  proto.broadcast = function (this: Broadcasting, type, message, options) {
    if (typeof type !== "string" || message instanceof Uint8Array || options?.afterNextPatch || Array.isArray(options?.except)) return original.call(this, type, message, options);
    broadcastFramed(this.clients, type, message, options?.except as Client | undefined);
  };
}
