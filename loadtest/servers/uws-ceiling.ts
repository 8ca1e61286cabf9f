/**
 * The raw ceiling on uWebSockets.js, the same contract as ws-ceiling.ts: every frame is sent once to
 * each member of its room (no uWS pub/sub, which would batch what Colyseus does not). Where
 * uWebSockets.js cannot load (glibc older than 2.38), prints `skipped: <reason>` and exits 3.
 */
type UwsSocket = { send(message: ArrayBuffer, isBinary: boolean): number; getUserData(): { roomId: string } };

let uws: typeof import("uWebSockets.js");
try {
  uws = (await import("uWebSockets.js")).default;
} catch (error) {
  const text = error instanceof Error ? error.message : String(error);
  console.log(`skipped: uWebSockets.js cannot load here (${/GLIBC_[\d.]+' not found/.exec(text)?.[0] ?? text.split("\n")[0]})`);
  process.exit(3);
}

const rooms = new Map<string, Set<UwsSocket>>();
uws
  .App()
  .ws<{ roomId: string }>("/*", {
    compression: uws.DISABLED,
    upgrade(res, req, context) {
      const roomId = new URLSearchParams(req.getQuery() ?? "").get("room") ?? "";
      res.upgrade({ roomId }, req.getHeader("sec-websocket-key"), req.getHeader("sec-websocket-protocol"), req.getHeader("sec-websocket-extensions"), context);
    },
    open(socket) {
      const { roomId } = socket.getUserData();
      const members = rooms.get(roomId) ?? new Set();
      rooms.set(roomId, members.add(socket));
    },
    message(socket, message, isBinary) {
      for (const member of rooms.get(socket.getUserData().roomId) ?? []) member.send(message, isBinary);
    },
    close(socket) {
      const { roomId } = socket.getUserData();
      rooms.get(roomId)?.delete(socket);
    },
  })
  .listen("127.0.0.1", Number(process.env.PORT ?? 2567), (token) => {
    if (!token) process.exit(1);
    console.log(`uws ceiling listening on ${process.env.PORT}`);
  });
