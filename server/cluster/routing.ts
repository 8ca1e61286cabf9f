/**
 * Conversation routing in O(1): a matchmaker driver that finds a conversation's one live room by a
 * key per conversation, instead of reading every room listing (the stock RedisDriver's HGETALL).
 *
 * Leases are per node, not per room, so Redis work in steady state is flat in the number of rooms:
 * - `parley:node:<processId>` holds the node's lease epoch (a random token per acquisition), with a
 *   TTL of `leaseMs`, renewed every quarter of it in one pipeline with the host registry.
 * - `parley:route:<roomName>:<routeValue>` = `<roomId> <processId> <epoch>` names the owner room and
 *   the node lease it lives under; it has no TTL. A route is live while its node's key holds that
 *   epoch and the node's own channel `parley:alive:<processId>` has a subscriber (the node's
 *   subscriber connection, from boot until the process ends, drains included; not Colyseus's
 *   process channel, which a draining node leaves early). Else it is free to claim: a SIGKILLed
 *   node's Redis connections close at once, so its conversations are claimable immediately; a
 *   frozen (SIGSTOP) or cut-off node's, once its lease lapses.
 * - A node keeps writing only while its own lease is surely held: `leaseHeld()` is false once
 *   90 % of `leaseMs` has passed since the start of the last renewal that succeeded, by the local
 *   monotonic clock, so a node frozen past its lease stops writing before anyone may claim its
 *   conversations... and the store's unique (conversationId, seq) index stays the final fence.
 * - A node that finds its lease lapsed (a freeze, a Redis restart or FLUSHALL) takes it back under
 *   the same epoch (SET NX) and reads its rooms' routes (pipelined GETs): the ones still naming it
 *   are live again as they are; only a route that is gone or names another room is claimed again
 *   with a script (all of them after FLUSHALL). A room whose route another live room took has lost
 *   it: `onLeaseLost` tells the node, which stops the room's writes and sends its clients
 *   `migrate`. Writes resume once every route is settled. The same pass runs when the subscriber
 *   connection comes back (`recheck`), since other nodes saw no process channel meanwhile.
 * - `parley:host:<processId>` (a lease holding the node's room count) and the set `parley:hosts`
 *   list the live room hosts; `selectHost` places a new room on the least loaded one.
 *
 * The scripts read node keys they compute (`parley:node:<id>`), which standalone Redis and its
 * replicas allow; Redis Cluster would need the keys declared and co-located (hash tags).
 * See docs/architecture.md, "Cluster routing".
 */
import { randomBytes } from "node:crypto";
import { initializeRoomCache, ServerError, type IRoomCache, type MatchMakerDriver, type SortOptions } from "@colyseus/core";
import { RedisDriver } from "@colyseus/redis-driver";
import type { Redis } from "ioredis";
import { routeKeyOf, type Routes } from "./route-key.ts";

const ROOMCACHES = "roomcaches";
const HOSTS = "parley:hosts";

const hostKey = (processId: string) => `parley:host:${processId}`;
const roomsOfKey = (processId: string) => `parley:rooms:${processId}`;
const nodeKey = (processId: string) => `parley:node:${processId}`;
/** The channel a node listens on for as long as it runs: its subscribers say the process is alive. */
export const aliveChannel = (processId: string) => `parley:alive:${processId}`;

/** Lua: is the owner named by route value `v` alive? (its node lease holds its epoch, and its process listens) */
const ALIVE = `
local function alive(v)
  local room, node, epoch = string.match(v, '^(%S+) (%S+) (%S+)$')
  if not room then return nil end
  if redis.call('GET', 'parley:node:' .. node) ~= epoch then return nil end
  local subscribers = redis.call('PUBSUB', 'NUMSUB', 'parley:alive:' .. node)
  if tonumber(subscribers[2]) == 0 then return nil end
  return room
end
`;

/**
 * The live owner, its listing and what is left of its node's lease (ms) in one round trip; nil when
 * the route is free.
 */
const FIND = `${ALIVE}
local v = redis.call('GET', KEYS[1])
if not v then return nil end
local room = alive(v)
if not room then return nil end
local node = string.match(v, '^%S+ (%S+) ')
return {room, redis.call('HGET', KEYS[2], room), redis.call('PTTL', 'parley:node:' .. node)}`;

/**
 * Claim the route for ARGV[1] on node ARGV[2] under epoch ARGV[3], and record the listing ARGV[4],
 * unless another live room holds it (then return that room) or our own lease lapsed ('!lapsed').
 */
const CLAIM = `${ALIVE}
if redis.call('GET', 'parley:node:' .. ARGV[2]) ~= ARGV[3] then return '!lapsed' end
local v = redis.call('GET', KEYS[1])
if v then
  local owner = alive(v)
  if owner and owner ~= ARGV[1] then return owner end
end
redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. ARGV[2] .. ' ' .. ARGV[3])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[4])
redis.call('SADD', KEYS[3], ARGV[1])
return false`;

/** Renew the node lease if it still holds our epoch: 1, else 0 (lapsed: take a new epoch). */
const RENEW_NODE = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`;

/** Delete the route only if it names room ARGV[1]; leave a hand-over note for the next owner if given. */
const RELEASE = `
local v = redis.call('GET', KEYS[1])
if not v or string.match(v, '^(%S+)') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
if ARGV[2] ~= '' then redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3]) end
return 1`;

/** How long a hand-over note waits for the next room. */
const HANDOVER_MS = 30_000;
const handoverKey = (route: string) => `${route}:handover`;

type ScriptingRedis = Redis & {
  parleyFind(route: string, roomcaches: string): Promise<[string, string | null, number] | null>;
  parleyClaim(route: string, roomcaches: string, roomsOf: string, roomId: string, processId: string, epoch: string, listing: string): Promise<string | null>;
  parleyRenewNode(node: string, epoch: string, leaseMs: number): Promise<number>;
  parleyRelease(route: string, handover: string, roomId: string, note: string, noteMs: number): Promise<number>;
};

/**
 * A pipeline's or transaction's replies, or the first command's error thrown (ioredis resolves a
 * pipeline on a dead connection with an error per command).
 */
async function resultsOf(batch: { exec(): Promise<Array<[Error | null, unknown]> | null> }): Promise<Array<[Error | null, unknown]>> {
  const results = (await batch.exec()) ?? [];
  const failed = results.find(([error]) => error)?.[0];
  if (failed) throw failed;
  return results;
}

/** Routes read per pipeline when the lease is taken back. */
const ROUTE_CHECK_BATCH = 1000;

/**
 * How long a routed room's client count may wait to reach its listing: a burst of joins and leaves
 * (a hand-off seats hundreds at once) costs one write instead of one per seat. Lookups of routed
 * rooms go by route, not by client count; only an operator's listing shows it up to this late.
 */
export const LISTING_WRITE_DELAY_MS = 1000;

/** How long a room's removal is remembered, so Colyseus's repeated removals of one room cost nothing. */
const REMOVAL_MEMORY_MS = 10_000;

/** How long a draining node's look at the hosts serves its hand-offs. */
const HAND_OFF_HOSTS_MS = 1000;

/** Share of the lease a node trusts itself to hold it after a renewal began (clock rates differ). */
const SELF_TRUST = 0.9;

export type RoutingEvents = {
  /** A local room's route is held by another room now. */
  onLeaseLost(roomId: string): void;
  /**
   * A routed lookup found (`hit`) or did not find (`miss`) a live room; `suspect`: its node had
   * missed renewals, so the lookup waited for the lease to come back or lapse first.
   */
  onLookup(result: "hit" | "miss" | "suspect"): void;
  /** A room lost the race to record itself: joins went to the winner. */
  onClaimLost(): void;
  /** The node's own lease had lapsed (a freeze, Redis emptied or restarted): it took a new one. */
  onNodeLeaseLapsed(rooms: number): void;
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
  /** Subscribe (on the node's subscriber connection) to a channel, for the process's lifetime. */
  listen(channel: string): Promise<unknown>;
  events: RoutingEvents;
  /** How long a routed room's client count may wait to be written. @default LISTING_WRITE_DELAY_MS */
  listingWriteDelayMs?: number;
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
  /** This node's lease epoch (a fresh random token each time the lease is taken). */
  #epoch = "";
  /** Until when (performance.now()) this node may trust its lease: writes stop after it. */
  #heldUntil = 0;
  /** A heartbeat in flight: the next tick waits for it rather than stacking pipelines. */
  #beating: Promise<void> | undefined;
  /** Routed rooms whose client count changed and is not written yet: roomId -> the write's timer. */
  readonly #unwritten = new Map<string, NodeJS.Timeout>();
  /** Rooms that gave their route up (a hand-off) and wait for their clients to leave: their counts are never written. */
  readonly #released = new Set<string>();
  /** New rooms this node placed lately, per host: in the renewal period that began at `since`, and in the one before. */
  readonly #placed = { since: Number.NEGATIVE_INFINITY, current: new Map<string, number>(), previous: new Map<string, number>() };
  /** The last look at the hosts for hand-offs: when, and each host's rooms (with those sent it since). */
  #handOffHosts: { at: number; loads: Promise<Map<string, number>> } | undefined;
  /** Removals of the last {@link REMOVAL_MEMORY_MS}: roomId -> the first removal's outcome. */
  readonly #removals = new Map<string, Promise<boolean>>();

  constructor(options: RoutingOptions) {
    this.#options = options;
    this.#hosting = options.hostsRooms;
    const redis = options.redis as ScriptingRedis;
    redis.defineCommand("parleyFind", { numberOfKeys: 2, lua: FIND });
    redis.defineCommand("parleyClaim", { numberOfKeys: 3, lua: CLAIM });
    redis.defineCommand("parleyRenewNode", { numberOfKeys: 1, lua: RENEW_NODE });
    redis.defineCommand("parleyRelease", { numberOfKeys: 2, lua: RELEASE });
    this.#redis = redis;
    this.#base = new RedisDriver(redis);
  }

  /** Take the node lease, then renew it (and announce this host) every quarter of the lease. */
  async boot(): Promise<void> {
    // First be seen alive, or our own fresh routes would look free to claim.
    await this.#options.listen(aliveChannel(this.#options.processId()));
    await this.#beat();
    this.#timer = setInterval(() => void this.#beat(), Math.max(50, Math.floor(this.#options.leaseMs / 4)));
    this.#timer.unref();
  }

  /**
   * Whether this node surely still holds its lease, so its rooms may write: false from 90 % of the
   * lease after the start of the last renewal that succeeded (a freeze, Redis unreachable), until
   * the lease is renewed or taken again and every room's route checked.
   */
  leaseHeld(): boolean {
    return performance.now() < this.#heldUntil;
  }

  /**
   * Check every room's route now (the subscriber connection came back: other nodes saw no process
   * channel meanwhile and may have claimed some): reclaims ours, reports the ones taken.
   */
  async recheck(): Promise<void> {
    await this.#takeLease();
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
    this.#cancelWrite(roomId);
    this.#released.add(roomId);
    await this.#redis.parleyRelease(owned.route, handoverKey(owned.route), roomId, note === undefined ? "" : JSON.stringify(note), HANDOVER_MS);
  }

  /** Take (read and delete) the note a released room left on a route. */
  async takeNote(roomName: string, routeValue: string): Promise<unknown> {
    const raw = await this.#redis.getdel(handoverKey(`parley:route:${roomName}:${routeValue}`));
    return raw === null ? undefined : JSON.parse(raw);
  }

  /**
   * The least loaded live room host: its host key is renewed and its process listens on its alive
   * channel (a SIGKILLed node's host key outlives it by up to a lease, but its subscriber closed at
   * once; asking it to create a room would cost Colyseus's 2 s IPC timeout). Costs two round trips,
   * however many rooms exist.
   */
  async selectHost(): Promise<string> {
    const loads = await this.#liveHosts();
    // A host's key counts its rooms as of its last renewal (every quarter of a lease), so the rooms
    // this node placed since count too: without them a burst of new conversations all went to the
    // host least loaded at the last renewal (chaos scenario a: 60 conversations over 3 hosts, 45, 9
    // and 6).
    const placed = this.#recentPlacements();
    for (const counts of [placed.current, placed.previous]) for (const [host, rooms] of counts) if (loads.has(host)) loads.set(host, loads.get(host)! + rooms);
    const host = leastLoaded(loads);
    placed.current.set(host, (placed.current.get(host) ?? 0) + 1);
    return host;
  }

  /**
   * The rooms this node placed on each host in this quarter of a lease and the one before: each
   * placement counts for one to two renewal periods, by when the host's own key counts its room.
   */
  #recentPlacements(): { current: Map<string, number>; previous: Map<string, number> } {
    const period = this.#options.leaseMs / 4;
    const now = performance.now();
    const placed = this.#placed;
    if (now - placed.since >= period) {
      placed.previous = now - placed.since >= 2 * period ? new Map() : placed.current;
      placed.current = new Map();
      placed.since = now;
    }
    return placed;
  }

  /**
   * The host for a draining node's next hand-off (never one in `exclude`): the least loaded by one
   * look at the hosts, shared by the hand-offs of {@link HAND_OFF_HOSTS_MS}, so a whole node's rooms
   * cost a few looks, not three commands each. The rooms sent to each host since the look count as
   * its own: without them every room of that second went to the one host that was least loaded at
   * the look (`npm run bench:drain -- --rooms 3000`: 977 of 1,001 rooms to one of two hosts that
   * held 1,000 each). Hosts in `preferred` (the nodes started after this one: in a rolling restart,
   * the new ones, which this rollout will not drain) take every room while any of them is live, so
   * that each room moves once; the others only when none is.
   */
  async selectHandOffHost(exclude: ReadonlySet<string>, preferred?: ReadonlySet<string>): Promise<string | undefined> {
    const now = performance.now();
    if (this.#handOffHosts === undefined || now - this.#handOffHosts.at > HAND_OFF_HOSTS_MS) {
      const loads = this.#liveHosts();
      this.#handOffHosts = { at: now, loads };
      // A failed look is not kept: the next hand-off looks again.
      loads.catch(() => {
        if (this.#handOffHosts?.loads === loads) this.#handOffHosts = undefined;
      });
    }
    const loads = await this.#handOffHosts.loads;
    const allowed = [...loads].filter(([processId]) => !exclude.has(processId));
    if (allowed.length === 0) return undefined;
    const first = allowed.filter(([processId]) => preferred?.has(processId));
    const candidates = new Map(first.length > 0 ? first : allowed);
    const host = leastLoaded(candidates);
    loads.set(host, loads.get(host)! + 1);
    return host;
  }

  /** Live room hosts and the rooms each holds (its host key, renewed with its lease). */
  async #liveHosts(): Promise<Map<string, number>> {
    const hosts = await this.#redis.smembers(HOSTS);
    const results =
      hosts.length === 0
        ? []
        : ((await this.#redis
            .pipeline()
            .mget(hosts.map(hostKey))
            .pubsub("NUMSUB", ...hosts.map(aliveChannel))
            .exec()) as Array<[Error | null, unknown]> | null);
    const loads = results?.[0]?.[1] as Array<string | null> | undefined;
    const listening = results?.[1]?.[1] as Array<string | number> | undefined;
    const live = new Map<string, number>();
    const gone: string[] = [];
    hosts.forEach((processId, index) => {
      const value = loads?.[index];
      if (value === null || value === undefined) return void gone.push(processId);
      // NUMSUB answers channel, count, channel, count, ... (unanswered: judge by the host key alone).
      if (Array.isArray(listening) && Number(listening[index * 2 + 1] ?? 0) === 0) return;
      live.set(processId, Number(value));
    });
    if (gone.length > 0) void this.#redis.srem(HOSTS, ...gone).catch(() => undefined);
    return live;
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

    let found = await this.#redis.parleyFind(route, ROOMCACHES);
    // The owner's node missed renewals (frozen, cut off, or badly stalled): its lease either comes
    // back or lapses within the lease. Wait for one or the other here, instead of handing Colyseus a
    // room whose seat reservation would wait out its 2 s IPC timeout and then a 2 s health check.
    if (found && Number(found[2]) < this.#options.leaseMs / 2) {
      this.#options.events.onLookup("suspect");
      const deadline = performance.now() + this.#options.leaseMs;
      while (found && Number(found[2]) < this.#options.leaseMs / 2 && performance.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, Math.min(100, Math.max(10, Number(found![2])))));
        found = await this.#redis.parleyFind(route, ROOMCACHES);
      }
    }
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
    const winner = await this.#redis.parleyClaim(route, ROOMCACHES, roomsOfKey(listing.processId), listing.roomId, this.#options.processId(), this.#epoch, JSON.stringify(listing));
    if (winner === "!lapsed") {
      // Our own lease lapsed: claim nothing until it is taken again; the join is refused and retried.
      this.#options.events.onClaimLost();
      return false;
    }
    if (winner) {
      this.#lostTo.set(listing.roomId, winner);
      this.#options.events.onClaimLost();
      return false;
    }
    this.#owned.set(listing.roomId, { route, listing });
    return true;
  }

  /**
   * Colyseus removes a disposing room's listing three times (on disconnect, on dispose, and once
   * more when the matchmaker lets the room go): the first removal is shared with the other two for a
   * while, so a room's removal costs Redis three commands, not nine.
   */
  remove(roomId: string): Promise<boolean> {
    const known = this.#removals.get(roomId);
    if (known !== undefined) return known;
    const removal = this.#remove(roomId);
    this.#removals.set(roomId, removal);
    setTimeout(() => this.#removals.delete(roomId), REMOVAL_MEMORY_MS).unref();
    return removal;
  }

  async #remove(roomId: string): Promise<boolean> {
    const owned = this.#owned.get(roomId);
    this.#owned.delete(roomId);
    this.#cancelWrite(roomId);
    this.#released.delete(roomId);
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

  /**
   * A routed room's change of client count alone is written once {@link LISTING_WRITE_DELAY_MS}
   * later with whatever else changed by then, and a released room's (its clients leaving after a
   * hand-off) not at all; any other change is written at once (as RedisDriver does).
   */
  update(room: IRoomCache, operations: Partial<{ $set: Partial<IRoomCache>; $inc: Partial<IRoomCache> }>) {
    const routed = this.#owned.has(room.roomId);
    // A draining node locks every room (Colyseus's shutdown) just before handing it over: lookups
    // go by route, and a locked listing would only send a join to create a room that loses the
    // claim to this one, so the lock stays in memory instead of costing a write per room.
    if (routed && !this.#hosting && locksOnly(operations)) {
      room.locked = true;
      return Promise.resolve(true);
    }
    if (!(routed || this.#released.has(room.roomId)) || !changesClientsOnly(room, operations)) {
      this.#cancelWrite(room.roomId);
      return this.#base.update(room, operations);
    }
    room.clients += operations.$inc?.clients ?? 0;
    if (!routed) return Promise.resolve(true);
    if (!this.#unwritten.has(room.roomId)) {
      const write = setTimeout(() => {
        this.#unwritten.delete(room.roomId);
        if (this.#owned.has(room.roomId)) void this.#base.persist(room).catch(() => undefined);
      }, this.#options.listingWriteDelayMs ?? LISTING_WRITE_DELAY_MS);
      this.#unwritten.set(room.roomId, write.unref());
    }
    return Promise.resolve(true);
  }

  #cancelWrite(roomId: string): void {
    clearTimeout(this.#unwritten.get(roomId));
    this.#unwritten.delete(roomId);
  }

  persist(room: IRoomCache, create?: boolean) {
    return this.#base.persist(room, create);
  }

  clear() {
    return this.#base.clear();
  }

  async shutdown(): Promise<void> {
    clearInterval(this.#timer);
    for (const roomId of [...this.#unwritten.keys()]) this.#cancelWrite(roomId);
    if (this.#hosting) await this.stopHosting().catch(() => undefined);
    // The connection is shared with presence, which quits it too.
    await this.#base.shutdown().catch(() => undefined);
  }

  // ----------------------------------------------------------------------------------------------

  #routeOf(fields: Record<string, unknown>): string | undefined {
    return routeKeyOf(this.#options.routes, fields);
  }

  /** One heartbeat at a time: renew (or take) the node lease and this host's entry. */
  #beat(): Promise<void> {
    this.#beating ??= this.#heartbeat().finally(() => (this.#beating = undefined));
    return this.#beating;
  }

  /** Renew the node lease and this host's entry in one pipeline: three commands, however many rooms. */
  async #heartbeat(): Promise<void> {
    const { leaseMs, processId } = this.#options;
    const started = performance.now();
    try {
      if (this.#epoch === "") {
        await this.#takeLease();
      } else {
        const pipeline = this.#redis.pipeline();
        (pipeline as unknown as ScriptingRedis).parleyRenewNode(nodeKey(processId()), this.#epoch, leaseMs);
        if (this.#hosting) pipeline.set(hostKey(processId()), String(this.#owned.size), "PX", leaseMs).sadd(HOSTS, processId());
        const results = await resultsOf(pipeline);
        if (results[0]?.[1] === 1) this.#heldUntil = started + leaseMs * SELF_TRUST;
        else {
          this.#options.events.onNodeLeaseLapsed(this.#owned.size);
          await this.#takeLease();
        }
      }
      this.#options.events.onRenewed();
    } catch (error) {
      this.#options.events.onRenewFailed(error);
    }
  }

  /**
   * Take the node lease again and settle every owned room's route before writes resume.
   *
   * Usually under the same epoch (`SET NX`: the key had lapsed, or it is still ours on a recheck):
   * the routes that still name this node and epoch are live again at once, so only they are read
   * (one pipelined GET per route), and only a route that is missing (Redis emptied) or names
   * another room is claimed again with a script; a route another live room holds is lost. At boot,
   * or if the key holds another epoch, under a new epoch, claiming every route in the same
   * transaction (no other node sees the new epoch before our routes carry it).
   */
  async #takeLease(): Promise<void> {
    const { leaseMs, processId } = this.#options;
    const started = performance.now();
    const node = nodeKey(processId());
    if (this.#epoch !== "" && (await this.#keepEpoch(node, leaseMs))) {
      await this.#claimAgain(await this.#routesNotOurs([...this.#owned]));
    } else {
      this.#epoch = randomBytes(6).toString("base64url");
      await this.#claimAgain([...this.#owned], { node, leaseMs });
    }
    if (this.#hosting) await this.#redis.multi().set(hostKey(processId()), String(this.#owned.size), "PX", leaseMs).sadd(HOSTS, processId()).exec();
    this.#heldUntil = started + leaseMs * SELF_TRUST;
  }

  /** Take the lease back under the current epoch if nobody else holds the key: whether it is ours now. */
  async #keepEpoch(node: string, leaseMs: number): Promise<boolean> {
    const results = await resultsOf(this.#redis.multi().set(node, this.#epoch, "PX", leaseMs, "NX").get(node));
    return results[1]?.[1] === this.#epoch;
  }

  /** The owned rooms whose route does not name them under this node and epoch, or whose listing is gone. */
  async #routesNotOurs(owned: Array<[string, { route: string; listing: IRoomCache }]>): Promise<typeof owned> {
    const unsettled: typeof owned = [];
    const processId = this.#options.processId();
    for (let from = 0; from < owned.length; from += ROUTE_CHECK_BATCH) {
      const chunk = owned.slice(from, from + ROUTE_CHECK_BATCH);
      const pipeline = this.#redis.pipeline();
      for (const [roomId, { route }] of chunk) pipeline.get(route).hexists(ROOMCACHES, roomId);
      const results = await resultsOf(pipeline);
      chunk.forEach((entry, index) => {
        const [roomId] = entry;
        const ours = results[2 * index]?.[1] === `${roomId} ${processId} ${this.#epoch}` && results[2 * index + 1]?.[1] === 1;
        if (!ours) unsettled.push(entry);
      });
    }
    return unsettled;
  }

  /**
   * Claim these rooms' routes (and listings) under the current epoch; a route another live room
   * holds is lost. With `setLease`, the node key takes the epoch in the same transaction.
   */
  async #claimAgain(rooms: Array<[string, { route: string; listing: IRoomCache }]>, setLease?: { node: string; leaseMs: number }): Promise<void> {
    if (rooms.length === 0 && !setLease) return;
    const processId = this.#options.processId();
    const transaction = this.#redis.multi();
    if (setLease) transaction.set(setLease.node, this.#epoch, "PX", setLease.leaseMs);
    const offset = setLease ? 1 : 0;
    for (const [roomId, { route, listing }] of rooms)
      (transaction as unknown as ScriptingRedis).parleyClaim(route, ROOMCACHES, roomsOfKey(processId), roomId, processId, this.#epoch, JSON.stringify(listing));
    const results = await resultsOf(transaction);
    rooms.forEach(([roomId], index) => {
      const winner = results[index + offset]?.[1];
      if (winner === null || winner === undefined || this.#owned.get(roomId) === undefined) return;
      // Another live room holds the conversation now (or, if our lease lapsed again, nobody can tell: move).
      this.#owned.delete(roomId);
      this.#options.events.onLeaseLost(roomId);
    });
  }
}

/** The host with the fewest rooms (ties broken at random); 503 when there is none. */
function leastLoaded(loads: ReadonlyMap<string, number>): string {
  let best: { processId: string; rooms: number } | undefined;
  for (const [processId, rooms] of loads) if (!best || rooms < best.rooms || (rooms === best.rooms && Math.random() < 0.5)) best = { processId, rooms };
  if (!best) throw new ServerError(503, "UNAVAILABLE: no room host is available; try again");
  return best.processId;
}

/** A lock and nothing else. */
function locksOnly({ $set, $inc }: Partial<{ $set: Partial<IRoomCache>; $inc: Partial<IRoomCache> }>): boolean {
  return $inc === undefined && $set !== undefined && Object.keys($set).length === 1 && $set.locked === true;
}

/** Whether an update only moves the client count (Colyseus sets `locked` along with it, usually unchanged). */
function changesClientsOnly(room: IRoomCache, { $set, $inc }: Partial<{ $set: Partial<IRoomCache>; $inc: Partial<IRoomCache> }>): boolean {
  if ($inc !== undefined && Object.keys($inc).some((field) => field !== "clients")) return false;
  if ($set !== undefined && Object.entries($set).some(([field, value]) => field !== "locked" || value !== room.locked)) return false;
  return $inc?.clients !== undefined;
}
