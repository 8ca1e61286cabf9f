/**
 * Helpers for tests against a real cluster (deploy/cluster.ts): an isolated Redis database per
 * suite, clients that record what they receive, and what Redis says about room listings.
 */
import { Client, type Room } from "@colyseus/sdk";
import type { HandOffSeat } from "../../schema/chat.ts";
import { Redis } from "ioredis";
import type { ClusterNode } from "../../deploy/cluster.ts";
import { sampleSum, scrape } from "../../deploy/metrics-text.ts";
import { withDatabase } from "../../deploy/services.ts";
import { waitFor } from "../../deploy/wait-for.ts";

export type Message = { conversationId: string; seq: number; clientMsgId: string; senderId: string; text: string; deleted?: true };
export type Reply = { seq: number; sentAt: string; duplicate: boolean };

let nextDatabase = 1;

/**
 * A Redis database of its own for one suite (1..15, emptied first), so listings and hosts of other
 * suites never mix. Pub/sub is shared across databases, but its channels carry unique ids.
 */
export async function isolatedRedis(): Promise<{ url: string; redis: Redis }> {
  const base = process.env.REDIS_URL;
  if (!base) throw new Error("REDIS_URL is not set: run the suite through npm test, which provisions Redis");
  const url = withDatabase(base, String(nextDatabase));
  nextDatabase = (nextDatabase % 15) + 1;
  const redis = new Redis(url);
  await redis.flushdb();
  return { url, redis };
}

/** A joined room that records every message it receives, and how its connection ended. */
export type Seated = {
  room: Room;
  messages: Message[];
  received: Map<string, unknown[]>;
  left: Promise<number>;
};

/** Join a conversation through one node, development identity `userId`. */
export async function joinVia(node: Pick<ClusterNode, "httpUrl">, conversationId: string, userId: string, roomName = "chat"): Promise<Seated> {
  return seated(await new Client(node.httpUrl).joinOrCreate(roomName, roomName === "chat" ? { conversationId, userId } : { userId }));
}

/** Take a seat a `migrate` carried (protocol 1.2) with the stock SDK, as a Unity or Godot client would. */
export async function takeSeat(node: Pick<ClusterNode, "httpUrl">, seat: HandOffSeat): Promise<Seated> {
  return seated(await new Client(node.httpUrl).consumeSeatReservation(seat));
}

function seated(room: Room): Seated {
  const messages: Message[] = [];
  const received = new Map<string, unknown[]>();
  room.onMessage("*", (type, payload) => {
    const list = received.get(String(type)) ?? [];
    list.push(payload);
    received.set(String(type), list);
    if (type === "message") messages.push(payload as Message);
  });
  const left = new Promise<number>((resolve) => room.onLeave((code) => resolve(code)));
  return { room, messages, received, left };
}

/**
 * Join, retrying refused, failed or stuck joins until `timeoutMs` (a node just died or stalled, say:
 * a socket to a stopped process connects but never opens, so each attempt has its own deadline).
 */
export async function joinEventually(node: Pick<ClusterNode, "httpUrl">, conversationId: string, userId: string, timeoutMs: number): Promise<Seated> {
  return waitFor(
    () => {
      const attempt = joinVia(node, conversationId, userId);
      const deadline = new Promise<never>((_, reject) => setTimeout(() => reject(new Error("join attempt timed out")), 5000).unref());
      attempt.then(
        (late) => deadline.catch(() => leave(late)),
        () => undefined,
      );
      return Promise.race([attempt, deadline]);
    },
    { timeoutMs, intervalMs: 200, what: `a join of ${conversationId}` },
  );
}

/** Leave a room, or do nothing if its connection already ended. */
export async function leave(seated: Seated): Promise<void> {
  if (!seated.room.connection.isOpen) return;
  await Promise.race([seated.room.leave().catch(() => undefined), seated.left]);
}

export type Listing = { roomId: string; processId: string; publicAddress?: string; metadata?: { conversationId?: string; userId?: string } };

/** Every room listing in Redis for a conversation. (Test-only: reads the whole hash.) */
export async function listingsOf(redis: Redis, conversationId: string): Promise<Listing[]> {
  const all = await redis.hgetall("roomcaches");
  return Object.values(all)
    .map((raw) => JSON.parse(raw) as Listing)
    .filter((listing) => listing.metadata?.conversationId === conversationId);
}

/** The node whose PUBLIC_ADDRESS a room's listing names. */
export async function hostOf<T extends Pick<ClusterNode, "publicAddress">>(redis: Redis, nodes: readonly T[], roomId: string): Promise<T> {
  const raw = await redis.hget("roomcaches", roomId);
  if (!raw) throw new Error(`no listing for room ${roomId}`);
  const { publicAddress } = JSON.parse(raw) as Listing;
  const node = nodes.find((candidate) => candidate.publicAddress === publicAddress);
  if (!node) throw new Error(`room ${roomId} is on ${publicAddress}, which is no node of this cluster`);
  return node;
}

/** Every stored message of a conversation, through a node's HTTP API. */
export async function storedMessages(node: Pick<ClusterNode, "httpUrl">, conversationId: string, userId: string): Promise<Message[]> {
  const all: Message[] = [];
  for (;;) {
    const response = await fetch(`${node.httpUrl}/v1/conversations/${conversationId}/messages?afterSeq=${all.at(-1)?.seq ?? 0}&limit=500&userId=${userId}`);
    if (!response.ok) throw new Error(`history answered ${response.status}: ${await response.text()}`);
    const page = (await response.json()) as { messages: Message[]; hasMore: boolean };
    all.push(...page.messages);
    if (!page.hasMore) return all;
  }
}

/** A sample of a node's Prometheus metric (summed over label sets matching `labels`). */
export async function metricOf(node: Pick<ClusterNode, "httpUrl">, name: string, labels = ""): Promise<number> {
  return sampleSum(await scrape(node.httpUrl), name, labels);
}
