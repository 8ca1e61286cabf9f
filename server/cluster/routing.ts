/**
 * Conversation routing in O(1): a matchmaker driver that finds a conversation's one live room by a
 * key per conversation, instead of reading every room listing (the stock RedisDriver's HGETALL).
 *
 * - `parley:route:<roomName>:<routeValue>` names the owner roomId. It is a lease: written together
 *   with the room's listing when the room is recorded (only if nobody else holds it), renewed by the
 *   owner's node every third of `leaseMs`, and deleted when the room is disposed. A crashed node's
 *   conversations become joinable elsewhere once their leases expire.
 * - A room whose renewal finds another owner has lost its lease: `onLeaseLost` tells the node, which
 *   stops the room's writes and sends its clients `migrate`. The store's unique index on
 *   (conversationId, seq) stays the final fence.
 * - `parley:host:<processId>` (a lease holding the node's room count) and the set `parley:hosts`
 *   list the live room hosts; `selectHost` places a new room on the least loaded one.
 *
 * See docs/architecture.md, "Cluster routing".
 */
import { initializeRoomCache, ServerError, type IRoomCache, type MatchMakerDriver, type SortOptions } from "@colyseus/core";
import { RedisDriver } from "@colyseus/redis-driver";
import type { Redis } from "ioredis";
import { routeKeyOf, type Routes } from "./route-key.ts";

const ROOMCACHES = "roomcaches";
const HOSTS = "parley:hosts";

const hostKey = (processId: string) => `parley:host:${processId}`;
const roomsOfKey = (processId: string) => `parley:rooms:${processId}`;

/** GET the owner and its listing in one round trip. */
const FIND = `
local id = redis.call('GET', KEYS[1])
if not id then return nil end
return {id, redis.call('HGET', KEYS[2], id)}`;

/** Claim the route and record the listing, unless another room holds the route: then return it. */
const CLAIM = `
local owner = redis.call('GET', KEYS[1])
if owner and owner ~= ARGV[1] then return owner end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('SADD', KEYS[3], ARGV[1])
return false`;

/**
 * Renew our lease; take it again if it lapsed and nobody took it (a stall, or Redis restarted
 * empty). 1 = renewed, 2 = taken again (the listing may be gone too), 0 = someone else's.
 */
const RENEW = `
local owner = redis.call('GET', KEYS[1])
if owner and owner ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if owner then return 1 end
return 2`;

/** Delete the route only if it is still ours; leave a hand-over note for the next owner if given. */
const RELEASE = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
if ARGV[2] ~= '' then redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3]) end
return 1`;

/** How long a hand-over note waits for the next room. */
const HANDOVER_MS = 30_000;
const handoverKey = (route: string) => `${route}:handover`;

type ScriptingRedis = Redis & {
  parleyFind(route: string, roomcaches: string): Promise<[string, string | null] | null>;
  parleyClaim(route: string, roomcaches: string, roomsOf: string, roomId: string, leaseMs: number, listing: string): Promise<string | null>;
  parleyRenew(route: string, roomId: string, leaseMs: number): Promise<number>;
  parleyRelease(route: string, handover: string, roomId: string, note: string, noteMs: number): Promise<number>;
};

export type RoutingEvents = {
  /** A local room's route is held by another room now. */
  onLeaseLost(roomId: string): void;
  /** A routed lookup found (`hit`) or did not find (`miss`) a live room. */
  onLookup(result: "hit" | "miss"): void;
  /** A room lost the race to record itself: joins went to the winner. */
  onClaimLost(): void;
  /** Lease renewal failed (Redis unreachable). */
  onRenewFailed(error: unknown): void;
  /** Lease renewal succeeded. */
  onRenewed(): void;
};

export type RoutingOptions = {
  redis: Redis;
  processId: () => string;
  leaseMs: number;
  /** Room name -> the option that routes it (ROUTES). */
  routes: Routes;
  /** Whether this node hosts rooms (ROLE all or rooms). */
  hostsRooms: boolean;
  events: RoutingEvents;
};

/** The routing driver: RedisDriver for listings, plus route leases and the live-host registry. */
export class RoutingDriver implements MatchMakerDriver {
  readonly #base: RedisDriver;
  readonly #redis: ScriptingRedis;
  readonly #options: RoutingOptions;
  /** Routes of the rooms this process owns: roomId -> route key, and the listing Colyseus keeps current. */
  readonly #owned = new Map<string, { route: string; listing: IRoomCache }>();
  /** Rooms discarded because another room held their route: discarded roomId -> winner roomId. */
  readonly #lostTo = new Map<string, string>();
  #timer: NodeJS.Timeout | undefined;
  #hosting: boolean;

  constructor(options: RoutingOptions) {
    this.#options = options;
    this.#hosting = options.hostsRooms;
    const redis = options.redis as ScriptingRedis;
    redis.defineCommand("parleyFind", { numberOfKeys: 2, lua: FIND });
    redis.defineCommand("parleyClaim", { numberOfKeys: 3, lua: CLAIM });
    redis.defineCommand("parleyRenew", { numberOfKeys: 1, lua: RENEW });
    redis.defineCommand("parleyRelease", { numberOfKeys: 2, lua: RELEASE });
    this.#redis = redis;
    this.#base = new RedisDriver(redis);
  }

  /** Start renewing leases and announcing this host. */
  async boot(): Promise<void> {
    await this.#heartbeat();
    this.#timer = setInterval(() => void this.#heartbeat(), Math.max(100, Math.floor(this.#options.leaseMs / 3)));
    this.#timer.unref();
  }

  /** Stop taking new rooms (drain): leave the host registry now. */
  async stopHosting(): Promise<void> {
    this.#hosting = false;
    await this.#redis.multi().del(hostKey(this.#options.processId())).srem(HOSTS, this.#options.processId()).exec();
  }

  /**
   * Give up a local room's route now (drain), so another node can claim the conversation; `note`
   * (JSON) is left for the next owner, who takes it with takeNote.
   */
  async release(roomId: string, note?: unknown): Promise<void> {
    const owned = this.#owned.get(roomId);
    if (owned === undefined) return;
    this.#owned.delete(roomId);
    await this.#redis.parleyRelease(owned.route, handoverKey(owned.route), roomId, note === undefined ? "" : JSON.stringify(note), HANDOVER_MS);
  }

  /** Take (read and delete) the note a released room left on a route. */
  async takeNote(roomName: string, routeValue: string): Promise<unknown> {
    const raw = await this.#redis.getdel(handoverKey(`parley:route:${roomName}:${routeValue}`));
    return raw === null ? undefined : JSON.parse(raw);
  }

  /** The least loaded live room host. Costs two commands, however many rooms exist. */
  async selectHost(): Promise<string> {
    const hosts = await this.#redis.smembers(HOSTS);
    if (hosts.length === 0) throw new ServerError(503, "UNAVAILABLE: no room host is available; try again");
    const loads = await this.#redis.mget(hosts.map(hostKey));
    let best: { processId: string; rooms: number } | undefined;
    const gone: string[] = [];
    hosts.forEach((processId, index) => {
      const value = loads[index];
      if (value === null || value === undefined) return void gone.push(processId);
      const rooms = Number(value);
      if (!best || rooms < best.rooms || (rooms === best.rooms && Math.random() < 0.5)) best = { processId, rooms };
    });
    if (gone.length > 0) void this.#redis.srem(HOSTS, ...gone).catch(() => undefined);
    if (!best) throw new ServerError(503, "UNAVAILABLE: no room host is available; try again");
    return best.processId;
  }

  // --- MatchMakerDriver -------------------------------------------------------------------------

  async findOne(conditions: Partial<IRoomCache>, sortOptions?: SortOptions): Promise<IRoomCache> {
    if (conditions.roomId !== undefined) {
      const winner = this.#lostTo.get(conditions.roomId);
      if (winner !== undefined) {
        this.#lostTo.delete(conditions.roomId);
        return this.#base.findOne({ roomId: winner });
      }
      return this.#base.findOne(conditions, sortOptions);
    }
    const route = this.#routeOf(conditions as Record<string, unknown>);
    if (route === undefined) return this.#base.findOne(conditions, sortOptions);

    const found = await this.#redis.parleyFind(route, ROOMCACHES);
    const listing = found?.[1] ? (JSON.parse(found[1]) as IRoomCache) : undefined;
    if (!listing || listing.locked || listing.private) {
      this.#options.events.onLookup("miss");
      return undefined as unknown as IRoomCache;
    }
    this.#options.events.onLookup("hit");
    return initializeRoomCache(listing);
  }

  /** Record a new room: claim its route and write its listing atomically, or lose to the holder. */
  async insert(listing: IRoomCache): Promise<boolean> {
    const route = this.#routeOf(listing as unknown as Record<string, unknown>);
    if (route === undefined) return this.#base.persist(listing, true);
    const winner = await this.#redis.parleyClaim(route, ROOMCACHES, roomsOfKey(listing.processId), listing.roomId, this.#options.leaseMs, JSON.stringify(listing));
    if (winner) {
      this.#lostTo.set(listing.roomId, winner);
      this.#options.events.onClaimLost();
      return false;
    }
    this.#owned.set(listing.roomId, { route, listing });
    return true;
  }

  async remove(roomId: string): Promise<boolean> {
    const owned = this.#owned.get(roomId);
    this.#owned.delete(roomId);
    if (owned !== undefined) await this.#redis.parleyRelease(owned.route, handoverKey(owned.route), roomId, "", 0);
    await this.#redis.srem(roomsOfKey(this.#options.processId()), roomId);
    return this.#base.remove(roomId);
  }

  has(roomId: string) {
    return this.#base.has(roomId);
  }

  query(conditions: Partial<IRoomCache>, sortOptions?: SortOptions) {
    return this.#base.query(conditions, sortOptions);
  }

  /** Remove a dead (or stopping) process's listings: O(its rooms), not O(all rooms). */
  async cleanup(processId: string): Promise<void> {
    const roomIds = await this.#redis.smembers(roomsOfKey(processId));
    for (let i = 0; i < roomIds.length; i += 500) await this.#redis.hdel(ROOMCACHES, ...roomIds.slice(i, i + 500));
    await this.#redis.del(roomsOfKey(processId));
  }

  findByIds(roomIds: string[]) {
    return this.#base.findByIds(roomIds);
  }

  update(room: IRoomCache, operations: Partial<{ $set: Partial<IRoomCache>; $inc: Partial<IRoomCache> }>) {
    return this.#base.update(room, operations);
  }

  persist(room: IRoomCache, create?: boolean) {
    return this.#base.persist(room, create);
  }

  clear() {
    return this.#base.clear();
  }

  async shutdown(): Promise<void> {
    clearInterval(this.#timer);
    if (this.#hosting) await this.stopHosting().catch(() => undefined);
    // The connection is shared with presence, which quits it too.
    await this.#base.shutdown().catch(() => undefined);
  }

  // ----------------------------------------------------------------------------------------------

  #routeOf(fields: Record<string, unknown>): string | undefined {
    return routeKeyOf(this.#options.routes, fields);
  }

  /** Renew every owned lease and this host's entry, in one pipeline. */
  async #heartbeat(): Promise<void> {
    const { leaseMs, processId } = this.#options;
    const owned = [...this.#owned];
    const pipeline = this.#redis.pipeline();
    for (const [roomId, { route }] of owned) (pipeline as unknown as ScriptingRedis).parleyRenew(route, roomId, leaseMs);
    if (this.#hosting) pipeline.set(hostKey(processId()), String(this.#owned.size), "PX", leaseMs).sadd(HOSTS, processId());
    try {
      const results = (await pipeline.exec()) ?? [];
      // ioredis resolves a pipeline on a dead connection with an error per command.
      const failed = results.find(([error]) => error)?.[0];
      if (failed) throw failed;
      const retaken: IRoomCache[] = [];
      owned.forEach(([roomId, { listing }], index) => {
        const [error, outcome] = results[index] ?? [];
        if (error || this.#owned.get(roomId) === undefined) return;
        if (outcome === 0) {
          this.#owned.delete(roomId);
          this.#options.events.onLeaseLost(roomId);
        } else if (outcome === 2) retaken.push(listing);
      });
      // A lapsed lease may mean Redis lost everything (a restart): write the listings back.
      if (retaken.length > 0) {
        const restore = this.#redis.pipeline();
        for (const listing of retaken) restore.hset(ROOMCACHES, listing.roomId, JSON.stringify(listing)).sadd(roomsOfKey(processId()), listing.roomId);
        const restored = (await restore.exec()) ?? [];
        const restoreFailed = restored.find(([error]) => error)?.[0];
        if (restoreFailed) throw restoreFailed;
      }
      this.#options.events.onRenewed();
    } catch (error) {
      this.#options.events.onRenewFailed(error);
    }
  }
}
