/**
 * The console's question line to each node: "who sits in room R?" and "where is user U seated?",
 * answered from the node's own LocalRooms over Colyseus IPC (presence pub/sub, one channel per
 * process). The api node asks only the node that hosts the room, or every live node for a user.
 */
import { requestFromIPC, subscribeIPC, type Presence } from "@colyseus/core";
import type { LocalRooms, LocalSession } from "./local-rooms.ts";

/** A user's session somewhere in the cluster. */
export type UserSession = LocalSession & { roomId: string; roomName: string; routeValue: string };

const channelOf = (processId: string) => `parley:console:ipc:${processId}`;

/** The questions a node answers; anything else is refused. */
type Question = { sessionsOf: [roomId: string]; sessionsOfUser: [userId: string] };

/** Answer the console's questions about this node's rooms. */
export async function serveNodeAgent(presence: Presence, processId: string, localRooms: LocalRooms): Promise<() => void> {
  const channel = channelOf(processId);
  await subscribeIPC(presence, channel, (method: string, args: unknown) => {
    const [value] = Array.isArray(args) ? args : [];
    if (typeof value !== "string") throw new Error("the console agent takes one string argument");
    if (method === "sessionsOf") return localRooms.sessionsOf(value) ?? null;
    if (method === "sessionsOfUser") return localRooms.sessionsOfUser(value);
    throw new Error(`the console agent does not answer ${method}`);
  });
  return () => void Promise.resolve(presence.unsubscribe(channel)).catch(() => undefined);
}

/** Ask one node; rejects when it does not answer within `timeoutMs`. */
export function askNode<K extends keyof Question>(presence: Presence, processId: string, question: K, args: Question[K], timeoutMs: number): Promise<unknown> {
  return requestFromIPC(presence, channelOf(processId), question, args, timeoutMs);
}
