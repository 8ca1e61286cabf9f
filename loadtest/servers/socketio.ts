/**
 * The Socket.IO peer: a chat server with rooms, WebSocket transport only. A member joins the room in
 * its handshake query; each `msg` is emitted to the whole room, sender included. Listens on PORT.
 */
import { Server } from "socket.io";

const server = new Server({ transports: ["websocket"], serveClient: false });
server.on("connection", (socket) => {
  const roomId = String(socket.handshake.query.room ?? "");
  void socket.join(roomId);
  socket.on("msg", (text: string) => void server.to(roomId).emit("msg", text));
});
server.listen(Number(process.env.PORT ?? 2567));
console.log(`socket.io peer listening on ${process.env.PORT}`);
// Exit normally on SIGTERM, so a --cpu-prof profile is written.
process.once("SIGTERM", () => process.exit(0));
