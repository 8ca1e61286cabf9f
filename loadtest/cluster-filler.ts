/**
 * A child process of bench-cluster.ts that creates and holds background conversations: one room per
 * conversation `channel:bg<i>`, each with one seated client (`bg<i>`), created through the nodes
 * round-robin. Children exist because one process may hold only ~9,000 sockets here.
 *
 * Rooms are made with `create` (no lookup first): every background conversation is new, and a
 * lookup would make filling the stock driver quadratic (it reads every listing per lookup).
 */
import { Client, type Room } from "@colyseus/sdk";
import type { FillerReply, FillerRequest } from "./cluster-protocol.ts";

const held: Room[] = [];

function reply(message: FillerReply): void {
  process.send?.(message);
}

async function createOne(client: Client, index: number): Promise<Room> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const room = await client.create("chat", { conversationId: `channel:bg${index}`, userId: `bg${index}` });
      room.onMessage("*", () => {});
      return room;
    } catch (error) {
      lastError = error;
      await new Promise((resolve) => setTimeout(resolve, 200 * (attempt + 1)));
    }
  }
  throw lastError;
}

/** Create rooms for indexes [from, to) with at most `concurrency` creations in flight. */
async function fill(request: Extract<FillerRequest, { kind: "fill" }>): Promise<void> {
  const clients = request.nodeUrls.map((url) => new Client(url));
  const roomIds: Array<[number, string]> = [];
  let next = request.from;
  let errors = 0;
  let firstError: string | undefined;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: request.concurrency }, async () => {
      while (next < request.to) {
        const index = next++;
        try {
          const room = await createOne(clients[index % clients.length]!, index);
          held.push(room);
          roomIds.push([index, room.roomId]);
        } catch (error) {
          errors++;
          firstError ??= error instanceof Error ? error.message : String(error);
        }
      }
    }),
  );
  reply({ kind: "filled", roomIds, errors, firstError, ms: performance.now() - started });
}

async function leaveAll(): Promise<void> {
  const rooms = held.splice(0);
  for (let i = 0; i < rooms.length; i += 200) {
    await Promise.all(rooms.slice(i, i + 200).map((room) => room.leave().catch(() => undefined)));
  }
  reply({ kind: "left" });
}

process.on("message", (message: FillerRequest) => {
  if (message.kind === "fill") void fill(message);
  else if (message.kind === "leave") void leaveAll().then(() => process.exit(0));
});
process.on("disconnect", () => process.exit(0));
reply({ kind: "ready" });
