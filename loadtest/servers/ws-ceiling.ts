/**
 * The raw ceiling on `ws`: rooms named in the URL (`/?room=<id>`), and every frame a member sends is
 * sent once to each member of its room, sender included, untouched. No parsing, no ordering, no
 * storage: what any chat server on `ws` pays at least. Listens on PORT.
 */
import { WebSocketServer, type WebSocket } from "ws";

const rooms = new Map<string, Set<WebSocket>>();
const server = new WebSocketServer({ port: Number(process.env.PORT ?? 2567), host: "127.0.0.1", perMessageDeflate: false });

server.on("connection", (socket, request) => {
  const roomId = new URL(request.url ?? "/", "http://localhost").searchParams.get("room") ?? "";
  const members = rooms.get(roomId) ?? new Set();
  rooms.set(roomId, members.add(socket));
  socket.on("message", (data, isBinary) => {
    for (const member of members) member.send(data, { binary: isBinary });
  });
  socket.on("close", () => {
    members.delete(socket);
    if (members.size === 0) rooms.delete(roomId);
  });
});
server.on("listening", () => console.log(`ws ceiling listening on ${process.env.PORT}`));
