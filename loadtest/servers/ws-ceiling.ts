/**
 * The raw ceiling on `ws`: rooms named in the URL (`/?room=<id>`), and every frame a member sends is
 * framed once and the same bytes written to each member of its room, sender included, untouched.
 * No parsing, no ordering, no storage: what any chat server on `ws` pays at least.
 *
 * ws has no public call to send an already framed message (`send` frames it again for every
 * socket, two writes each), so this uses its `Sender.frame` and each socket's sender directly: the
 * same path `send` takes, without the per-socket framing. Listens on PORT.
 */
import * as ws from "ws";
import { WebSocket, WebSocketServer } from "ws";

/** The parts of ws used here that its types leave out (ws 8): framing, and a socket's sender. */
type FrameOptions = { fin: boolean; rsv1: boolean; opcode: number; mask: boolean; readOnly: boolean };
const { Sender } = ws as unknown as { Sender: { frame(data: Buffer, options: FrameOptions): [Buffer, Buffer?] } };
type FrameWriter = { _sender: { sendFrame(list: Buffer[]): void } };

const rooms = new Map<string, Set<WebSocket>>();
const server = new WebSocketServer({ port: Number(process.env.PORT ?? 2567), host: "127.0.0.1", perMessageDeflate: false });

server.on("connection", (socket, request) => {
  const roomId = new URL(request.url ?? "/", "http://localhost").searchParams.get("room") ?? "";
  const members = rooms.get(roomId) ?? new Set();
  rooms.set(roomId, members.add(socket));
  socket.on("message", (data: Buffer, isBinary) => {
    const [header, payload] = Sender.frame(data, { fin: true, rsv1: false, opcode: isBinary ? 2 : 1, mask: false, readOnly: true });
    const frame = [payload === undefined ? header : Buffer.concat([header, payload])];
    for (const member of members) if (member.readyState === WebSocket.OPEN) (member as unknown as FrameWriter)._sender.sendFrame(frame);
  });
  socket.on("close", () => {
    members.delete(socket);
    if (members.size === 0) rooms.delete(roomId);
  });
});
server.on("listening", () => console.log(`ws ceiling listening on ${process.env.PORT}`));
// Exit normally on SIGTERM, so a --cpu-prof profile is written.
process.once("SIGTERM", () => process.exit(0));
