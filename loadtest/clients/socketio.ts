/**
 * Socket.IO clients of servers/socketio.ts, WebSocket transport only (no long-polling upgrade): the
 * conversation rides in the handshake query, event `msg` carries the text both ways.
 */
import { io } from "socket.io-client";
import type { Connector, Member, MemberEvents } from "../workload.ts";

/** Connect members to the Socket.IO chat server at `endpoint`. */
export function socketioConnector(endpoint: string): Connector {
  return (conversation: number, _user: number, events: MemberEvents) =>
    new Promise<Member>((resolve, reject) => {
      const socket = io(endpoint, { transports: ["websocket"], query: { room: String(conversation) }, reconnection: false, forceNew: true });
      let closing = false;
      socket.on("msg", (text: string) => events.onDelivery(text));
      socket.once("connect_error", reject);
      socket.on("disconnect", (reason) => closing || events.onError(`DISCONNECT_${reason}`));
      socket.once("connect", () =>
        resolve({
          send: (text) => void socket.emit("msg", text),
          async close() {
            closing = true;
            socket.disconnect();
          },
        }),
      );
    });
}
