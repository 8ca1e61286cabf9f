/**
 * Raw `ws` clients of the ceiling servers (servers/ws-ceiling.ts, servers/uws-ceiling.ts): the
 * conversation rides in the URL, a text frame out is the chat message, every text frame in is one.
 */
import WebSocket from "ws";
import type { Connector, Member, MemberEvents } from "../workload.ts";

/** Connect members to `ws://host:port/?room=<conversation>`; `endpoint` is the server's http URL. */
export function wsConnector(endpoint: string): Connector {
  const base = endpoint.replace(/^http/, "ws");
  return (conversation: number, _user: number, events: MemberEvents) =>
    new Promise<Member>((resolve, reject) => {
      const socket = new WebSocket(`${base}/?room=${conversation}`, { perMessageDeflate: false });
      let closing = false;
      socket.on("message", (data: Buffer) => events.onDelivery(data.toString("latin1")));
      socket.once("error", reject);
      socket.on("close", (code) => closing || events.onError(`CLOSED_${code}`));
      socket.once("open", () =>
        resolve({
          send: (text) => socket.send(text),
          close: () =>
            new Promise<void>((done) => {
              closing = true;
              socket.once("close", () => done());
              socket.close();
            }),
        }),
      );
    });
}
