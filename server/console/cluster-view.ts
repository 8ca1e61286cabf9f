/**
 * The cluster as the ops console reads it: every live node's latest stats, the busiest
 * conversations, one conversation's room and members, one user's sessions. Reads the presence hash
 * the nodes publish to (node-stats.ts) and asks nodes over IPC (server/cluster/node-calls.ts); never scans every
 * room listing, so it costs the same at 10 rooms as at 10,000.
 */
import { matchMaker, type Presence } from "@colyseus/core";
import type { LocalRooms, LocalSession } from "./local-rooms.ts";
import type { NodeCalls, UserSession } from "../cluster/node-calls.ts";
import { NODE_STATS_KEY, type NodeStats } from "./node-stats.ts";

/** How long the console waits for a node's answer. */
const ASK_TIMEOUT_MS = 2000;

export type ClusterView = ReturnType<typeof createClusterView>;

/** Read the cluster for the console, as seen from this node. */
export function createClusterView(options: { presence: Presence; calls: NodeCalls; localRooms: LocalRooms; processId: () => string }) {
  const { presence, calls, localRooms } = options;

  /** Live nodes, by name; entries of nodes silent for three intervals are removed (they died). */
  async function nodes(): Promise<NodeStats[]> {
    const all = (await presence.hgetall(NODE_STATS_KEY)) ?? {};
    const live: NodeStats[] = [];
    for (const [processId, raw] of Object.entries(all)) {
      const stats = parse(raw);
      if (stats && Date.now() - stats.at <= stats.intervalMs * 3 + 1000) live.push(stats);
      else void Promise.resolve(presence.hdel(NODE_STATS_KEY, processId)).catch(() => undefined);
    }
    return live.sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Sessions in a room, from the node that hosts it (this one, or over IPC). */
  async function sessionsOf(processId: string, roomId: string): Promise<LocalSession[] | undefined> {
    if (processId === options.processId()) return localRooms.sessionsOf(roomId);
    return (await calls.ask(processId, "sessionsOf", { roomId }, ASK_TIMEOUT_MS)) ?? undefined;
  }

  return {
    nodes,

    /** The `limit` busiest conversations of the cluster, merged from every node's own top list. */
    async busiest(limit: number) {
      const merged = (await nodes()).flatMap((node) => node.busiest.map((room) => ({ ...room, node: node.name })));
      return merged.sort((a, b) => b.clients - a.clients || a.conversationId.localeCompare(b.conversationId)).slice(0, limit);
    },

    /** A conversation's live room (through the routing driver: one lookup) with its members, or undefined. */
    async liveRoom(conversationId: string) {
      const listing = await matchMaker.driver.findOne({ name: "chat", conversationId } as never);
      if (!listing) return undefined;
      const node = (await nodes()).find((candidate) => candidate.processId === listing.processId);
      const members = await sessionsOf(listing.processId, listing.roomId).catch(() => undefined);
      return { roomId: listing.roomId, node: node?.name ?? listing.publicAddress ?? listing.processId, members: members ?? null };
    },

    /** Every session of a user, asking every live node at once; nodes that did not answer are named. */
    async sessionsOfUser(userId: string): Promise<{ sessions: Array<UserSession & { node: string }>; unanswered: string[] }> {
      const answers = await Promise.all(
        (await nodes()).map(async (node) => {
          try {
            const found = node.processId === options.processId() ? localRooms.sessionsOfUser(userId) : await calls.ask(node.processId, "sessionsOfUser", { userId }, ASK_TIMEOUT_MS);
            return { node: node.name, found };
          } catch {
            return { node: node.name, found: undefined };
          }
        }),
      );
      return {
        sessions: answers.flatMap(({ node, found }) => (found ?? []).map((session) => ({ ...session, node }))),
        unanswered: answers.filter((answer) => answer.found === undefined).map((answer) => answer.node),
      };
    },
  };
}

function parse(raw: string): NodeStats | undefined {
  try {
    const stats = JSON.parse(raw) as NodeStats;
    return typeof stats.at === "number" && typeof stats.name === "string" ? stats : undefined;
  } catch {
    return undefined;
  }
}
