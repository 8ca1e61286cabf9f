/**
 * createApp: builds one Parley node from a Config. Used by start.ts and by tests; owns no process
 * signals (shutdown.ts does).
 */
import { hostname } from "node:os";
import { defineRoom, defineServer, generateId, LocalPresence, matchMaker, type IRoomCache, type Presence } from "@colyseus/core";
import basicAuth from "express-basic-auth";
import { createChatRoom } from "../rooms/chat-room.ts";
import { createInboxRoom } from "../rooms/inbox-room.ts";
import type { ChatRoomDeps, Handover, Replacement } from "../rooms/room-deps.ts";
import { withTimeout } from "../rooms/timeout.ts";
import type { HistoryStore } from "../rooms/history-store.ts";
import { MemoryHistoryStore } from "../rooms/memory-history-store.ts";
import { MemoryModerationStore } from "../rooms/memory-moderation-store.ts";
import type { ModerationStore } from "../rooms/moderation-store.ts";
import { createModeration } from "./moderation.ts";
import { accessLog } from "./http/access-log.ts";
import { monitorPanel } from "./http/monitor.ts";
import type { ConnectionGuardEvents } from "./connection-guard.ts";
import { throttleLog } from "../rooms/plugins/log-throttle.ts";
import { createMemoryRateLimit } from "../rooms/plugins/rate-limit.ts";
import { createTextFilter } from "../rooms/plugins/text-filter.ts";
import { createUserLimits } from "../rooms/plugins/user-limits.ts";
import { describeEmbeddedDefaults, type Config } from "./config.ts";
import { type HttpDeps, mountRoutes, readiness } from "./http/routes.ts";
import { createDevelopmentAuthenticator, createJwtAuthenticator } from "./identity.ts";
import { colyseusLogger, type Logger } from "./logger.ts";
import { createMetrics, type Metrics } from "./metrics.ts";
import { createGroupCommit } from "./history/group-commit.ts";
import { connectRedis, type RedisConnections } from "./cluster/redis.ts";
import { LocalRoutingDriver } from "./cluster/local-routing.ts";
import { ROUTES } from "./cluster/route-key.ts";
import { RoutingDriver } from "./cluster/routing.ts";
import type { AppendMessages } from "../rooms/conversation-log.ts";
import { guardMatchmaking } from "./matchmaking-guard.ts";
import { RedisDriver } from "@colyseus/redis-driver";
import { publishMembership, sendToConversation } from "./cluster/service-send.ts";
import { createTransport } from "./transport.ts";
import { createClusterView } from "./console/cluster-view.ts";
import { LocalRooms } from "./console/local-rooms.ts";
import { MAX_HANDOFF_SEATS, redisNodeCalls } from "./cluster/node-calls.ts";
import { isHandOffSeat, type HandOffSeat } from "../schema/chat.ts";
import { createDrainPace } from "./drain-pace.ts";
import { NODE_STATS_KEY, startNodeStats } from "./console/node-stats.ts";
import { createConsoleAuth } from "./http/console-auth.ts";
import { mountConsole } from "./http/console-routes.ts";
import { mountDemo } from "./http/demo-routes.ts";
import { keepPm2AgentOut } from "./pm2-agent.ts";

// Before Colyseus's matchmaker starts (it imports PM2's agent then); see pm2-agent.ts.
keepPm2AgentOut();

export type App = {
  transportName: "uws" | "ws";
  metrics: Metrics;
  listen(): Promise<void>;
  /** Stop taking new work: /readyz turns 503. */
  startDraining(): void;
  /** Close rooms (each sends `migrate` first), the transport and the store. */
  close(): Promise<void>;
};

/** Build a node. The history store is chosen from the config unless one is given. */
export async function createApp(config: Config, logger: Logger, overrides: { history?: HistoryStore } = {}): Promise<App> {
  for (const warning of describeEmbeddedDefaults(config)) logger.warn({ embeddedDefault: true }, warning);

  const metrics = createMetrics(nodeName(config));
  const { history, moderationStore } = overrides.history ? { history: overrides.history, moderationStore: new MemoryModerationStore() } : await openStores(config, logger);
  const authenticator = config.jwtSecret ? createJwtAuthenticator(config.jwtSecret) : createDevelopmentAuthenticator();
  const connectionLog = logger.child({ component: "connections" });
  const guardEvents: ConnectionGuardEvents = {
    onRefused: (reason) => metrics.connectionRefused(reason),
    onIpLimit: (limit) => metrics.ipLimitRefused(limit),
    log: throttleLog((context, message) => connectionLog.warn(context, message)),
  };
  const { transport, name: transportName, clientAddressOf } = await createTransport(config, logger, guardEvents);
  let draining = false;
  /** When a drain must be over (DRAIN_TIMEOUT_MS after it began), on performance.now()'s clock. */
  let drainDeadline: number | undefined;
  const beginDrain = () => {
    draining = true;
    drainDeadline ??= performance.now() + config.drainTimeoutMs;
  };
  let readinessTimer: NodeJS.Timeout | undefined;

  const cluster = config.redisUrl ? await openCluster(config, config.redisUrl, metrics, logger) : undefined;
  const readinessChecks: Record<string, () => Promise<void>> = cluster ? { redis: cluster.redis.ping } : {};
  // One presence for rooms, the matchmaker and moderation: Redis in a cluster, in-process on one node.
  const presence: Presence = cluster?.redis.presence ?? new LocalPresence();
  const moderation = createModeration({
    store: moderationStore,
    history,
    presence,
    metrics,
    logger: logger.child({ component: "moderation" }),
    actionsPerMinute: config.moderationActionsPerMin,
    storeTimeoutMs: config.storeTimeoutMs,
  });
  await moderation.start();
  cluster?.redis.onReconnect(() => void moderation.reload("redis_reconnect").catch((error) => logger.warn({ err: String(error) }, "cannot reload moderation state after Redis came back")));
  // While the subscriber was away, other nodes saw no process channel and may have claimed rooms of ours.
  if (config.routing === "leases")
    cluster?.redis.onReconnect(() => void cluster.routing.recheck().catch((error) => logger.warn({ err: String(error) }, "cannot check the rooms' routes after Redis came back")));
  // Node-to-node calls (server/cluster/node-calls.ts): over Redis in a cluster, in process alone.
  const nodeCalls = redisNodeCalls(presence, cluster?.redis.commands, cluster?.redis.subscriber);
  const drainPace = createDrainPace({ concurrency: config.handOffConcurrency, rushAfterMs: config.drainTimeoutMs / 3, spreadMs: config.handOffSpreadMs });
  /**
   * Hosts that failed to open a room for this node's hand-offs (draining too, or not answering):
   * not asked again, since thousands of rooms each waiting out a call would outlast the drain.
   */
  const unableHosts = new Set<string>();
  /**
   * Hand-over notes sent with openRoom calls to this node, for the room being opened (taken by its
   * onCreate through takeHandover; removed when the call ends either way).
   */
  const handedOver = new Map<string, Handover>();
  /**
   * Hosts known to answer node calls: asked once per host rather than once per room. A "no" is not
   * kept (a node may be in the host registry a moment before it serves its calls).
   */
  const answering = new Set<string>();
  const listening = async (host: string): Promise<boolean> => {
    if (answering.has(host)) return true;
    const answers = await nodeCalls.listening(host);
    if (answers) answering.add(host);
    return answers;
  };
  /** When this node started: a draining node prefers nodes that started after it (see youngerHosts). */
  const startedAt = Date.now();
  /**
   * The nodes that started after this one, by the console stats every node publishes (a node of 0.7
   * or earlier names no start: not among them), by more than YOUNGER_BY_MS: nodes started together
   * (a fleet's first start) are peers, not younger. In a rolling restart they are the new nodes,
   * which the rollout will not drain, so a room handed to one moves once. Read once a second at most.
   */
  let younger: { at: number; hosts: Promise<Set<string>> } | undefined;
  const youngerHosts = (): Promise<Set<string>> => {
    if (younger && performance.now() - younger.at < 1000) return younger.hosts;
    const hosts = Promise.resolve(presence.hgetall(NODE_STATS_KEY))
      .then((all) => {
        const found = new Set<string>();
        for (const raw of Object.values(all ?? {})) {
          const stats = JSON.parse(String(raw)) as { processId?: unknown; startedAt?: unknown };
          if (typeof stats.processId === "string" && typeof stats.startedAt === "number" && stats.startedAt > startedAt + YOUNGER_BY_MS) found.add(stats.processId);
        }
        return found;
      })
      .catch(() => new Set<string>());
    younger = { at: performance.now(), hosts };
    return hosts;
  };
  /** Have another live host open the conversation's room (this node stopped hosting when it began draining). */
  const openElsewhere = async (conversationId: string, seats: readonly unknown[], handover: Handover | undefined): Promise<Replacement | undefined> => {
    if (config.routing !== "leases" || !cluster) return undefined;
    const target = await cluster.routing.selectHandOffHost(new Set([...unableHosts, matchMaker.processId]), await youngerHosts()).catch(() => undefined);
    if (target === undefined) return undefined;
    // An earlier release (a rolling upgrade) takes no node calls: move the clients the old way at once.
    if (!(await listening(target))) return undefined;
    try {
      const call = { conversationId, ...(seats.length > 0 && { seats: seats.slice(0, MAX_HANDOFF_SEATS) }), ...(handover && { handover: { lastSeq: handover.lastSeq, epoch: handover.epoch } }) };
      const room = await nodeCalls.ask(target, "openRoom", call, config.storeTimeoutMs);
      if (room.processId === matchMaker.processId) return undefined;
      // An earlier release answers no seats: every client then joins through matchmaking.
      return { seats: Array.isArray(room.seats) ? room.seats.map((seat) => (isHandOffSeat(seat) ? seat : undefined)) : [] };
    } catch (error) {
      if (!unableHosts.has(target)) logger.warn({ target, err: error instanceof Error ? error.message : String(error) }, "a host could not open a room for this node's hand-off; not asking it again");
      unableHosts.add(target);
      return undefined;
    }
  };
  const roomDeps: ChatRoomDeps = {
    hostsRooms: config.role !== "api",
    openReplacement: async (conversationId, seats, handover) => {
      let replaced: Replacement | undefined;
      try {
        replaced = await openElsewhere(conversationId, seats, handover);
        return replaced;
      } finally {
        metrics.handOff(replaced ? "replaced" : "fallback");
        if (replaced) metrics.handOffSeats(replaced.seats.filter(Boolean).length);
      }
    },
    paceHandOff: (handOff) => drainPace.run(handOff),
    drainTimeLeftMs: () => (drainDeadline === undefined ? Number.POSITIVE_INFINITY : drainDeadline - performance.now()),
    releaseRoute: async (roomId, handover) => {
      if (config.routing === "leases") await cluster?.routing.release(roomId, handover);
    },
    takeHandover: async (conversationId) => {
      // The note a draining node sent with its openRoom call (below) first: then Redis holds none.
      const sent = handedOver.get(conversationId);
      if (sent !== undefined) {
        handedOver.delete(conversationId);
        return sent;
      }
      if (config.routing !== "leases" || !cluster) return undefined;
      const note = await withTimeout(cluster.routing.takeNote("chat", conversationId), config.storeTimeoutMs);
      return (note as Partial<Handover> | undefined)?.conversationId === conversationId ? handoverOf(conversationId, note) : undefined;
    },
    authenticator,
    history,
    append: fencedByLease(
      createGroupCommit(history, {
        ...config.groupCommit,
        // Batching pays for a store round trip; the in-memory store has none, so writes go straight in.
        windowMs: history instanceof MemoryHistoryStore ? 0 : config.groupCommit.windowMs,
        writeTimeoutMs: config.storeTimeoutMs * 2,
        onBatch: (messages, seconds) => metrics.historyBatch(messages, seconds),
        onQueueDepth: (messages) => metrics.historyQueueDepth(messages),
      }),
      config.routing === "leases" ? cluster?.routing : undefined,
    ),
    sendLimit: createMemoryRateLimit(config.rateLimit.sendsPerSec, config.rateLimit.sendBurst),
    userLimits: createUserLimits({ ...config.userLimits, onRefused: (limit) => metrics.userLimitRefused(limit) }),
    moderation,
    textFilter: createTextFilter(config.textFilter),
    requestLimit: createMemoryRateLimit(config.rateLimit.requestsPerSec, 0),
    limits: {
      maxTextChars: config.maxTextChars,
      maxPendingSendsPerRoom: config.maxPendingSendsPerRoom,
      storeTimeoutMs: config.storeTimeoutMs,
      maxFramesPerSec: config.rateLimit.maxFramesPerSec,
      roomIdleMs: config.roomIdleMs,
      handOffLingerMs: Math.max(1000, config.drainTimeoutMs / 3),
    },
    log: logger.child({ component: "room" }),
    metrics,
  };

  guardMatchmaking(ROUTES, (roomName) => metrics.createRedirected(roomName), {
    joinsPerSec: config.ipLimits.joinsPerSec,
    clientAddressOf,
    events: guardEvents,
  });
  // The ops console's view of this node's rooms and of the cluster (server/console/).
  const localRooms = new LocalRooms();
  const clusterView = createClusterView({ presence, calls: nodeCalls, localRooms, processId: () => matchMaker.processId });
  const chatRooms = defineRoom(createChatRoom(roomDeps)).filterBy(["conversationId"]);
  const inboxRooms = defineRoom(createInboxRoom(roomDeps)).filterBy(["userId"]);
  localRooms.watch("chat", chatRooms);
  localRooms.watch("inbox", inboxRooms);
  let nodeStats: ReturnType<typeof startNodeStats> | undefined;
  let stopNodeCalls: (() => void) | undefined;
  const server = defineServer({
    rooms: { chat: chatRooms, inbox: inboxRooms },
    transport,
    presence,
    // One node: the in-process driver, with the same one-room-per-conversation fence as the cluster's.
    ...(!cluster && { driver: new LocalRoutingDriver(ROUTES, () => metrics.routeClaimLost()) }),
    ...(cluster && {
      isStandaloneMatchMaker: config.role === "api",
      ...(config.routing === "leases" ? { driver: cluster.routing, selectProcessIdToCreateRoom: () => cluster.routing.selectHost() } : { driver: new RedisDriver(cluster.redis.commands) }),
    }),
    publicAddress: config.publicAddress,
    logger: colyseusLogger(logger),
    greet: false,
    gracefullyShutdown: false,
    express: (app) => {
      app.use(accessLog(logger.child({ component: "http" })));
      if (config.monitor && config.role !== "rooms") {
        app.use(
          "/monitor",
          basicAuth({ users: { [config.monitor.user]: config.monitor.password }, challenge: true }),
          monitorPanel({ columns: ["roomId", "name", "clients", { metadata: "conversationId" }, "locked", "elapsedTime", "publicAddress"], logger: logger.child({ component: "monitor" }) }),
        );
      }
      const httpDeps: HttpDeps = {
        history,
        authenticator,
        metrics,
        logger: logger.child({ component: "http" }),
        isDraining: () => draining,
        readinessChecks,
        sendToConversation: (conversationId, send) => sendToConversation(conversationId, send, config.storeTimeoutMs * 2),
        publishMembership,
        storeTimeoutMs: config.storeTimeoutMs,
        moderation,
      };
      if (config.role !== "rooms") {
        mountConsole(app, {
          ...httpDeps,
          logger: logger.child({ component: "console" }),
          auth: createConsoleAuth(config, authenticator),
          cluster: clusterView,
          monitorMounted: config.monitor !== undefined,
        });
        if (config.demo) mountDemo(app, { cluster: clusterView, developmentIdentities: config.jwtSecret === undefined, logger: logger.child({ component: "demo" }) });
      }
      mountRoutes(app, httpDeps);
    },
  });

  return {
    transportName,
    metrics,
    async listen() {
      await server.listen(config.port);
      // Readiness as a gauge even where nothing probes /readyz (compose): checked every 5 s.
      const check = () => void readiness({ history, readinessChecks, storeTimeoutMs: config.storeTimeoutMs, isDraining: () => draining, metrics }).catch(() => undefined);
      check();
      readinessTimer = setInterval(check, 5000);
      readinessTimer.unref();
      const consoleLog = throttleLog((context, message) => logger.warn({ component: "console", ...context }, message), { windowMs: 60_000, perWindow: 1 });
      nodeStats = startNodeStats({
        presence,
        registry: metrics.registry,
        localRooms,
        processId: () => matchMaker.processId,
        name: nodeName(config),
        role: config.role,
        address: config.publicAddress,
        isDraining: () => draining,
        startedAt,
        // Redis down: one line a minute; the console shows the node as gone meanwhile.
        onError: (error) => consoleLog("console_stats", { err: String(error) }, "cannot publish this node's console stats"),
      });
      const unknownCall = throttleLog((context, message) => logger.warn({ component: "node-calls", ...context }, message), { windowMs: 60_000, perWindow: 5 });
      stopNodeCalls = await nodeCalls.serve(
        matchMaker.processId,
        {
          sessionsOf: ({ roomId }) => localRooms.sessionsOf(roomId) ?? null,
          sessionsOfUser: ({ userId }) => localRooms.sessionsOfUser(userId),
          openRoom: async ({ conversationId, seats, handover }) => {
            if (draining || config.role === "api") throw new Error("this node takes no rooms now");
            if (typeof conversationId !== "string") throw new Error("openRoom takes a conversationId");
            const askedAt = performance.now();
            const note = handoverOf(conversationId, handover);
            if (note) handedOver.set(conversationId, note);
            let room: IRoomCache;
            try {
              room = await matchMaker.handleCreateRoom("chat", { conversationId });
            } finally {
              if (note && handedOver.get(conversationId) === note) handedOver.delete(conversationId);
            }
            const createMs = Math.round(performance.now() - askedAt);
            const opened = { roomId: room.roomId, processId: room.processId };
            // Seats only in a room of this node: one that another node won is reached the usual way.
            const held = Array.isArray(seats) && seats.length > 0 && room.processId === matchMaker.processId ? await holdSeats(room, conversationId, seats.slice(0, MAX_HANDOFF_SEATS)) : undefined;
            const seatsMs = Math.round(performance.now() - askedAt) - createMs;
            logger.info({ conversationId, roomId: room.roomId, createMs, seatsMs, seats: held?.length ?? 0 }, "opened a conversation's room for another node's hand-off");
            return held ? { ...opened, seats: held } : opened;
          },
        },
        (kind, version) => {
          metrics.nodeCallUnknown();
          unknownCall("unknown_node_call", { kind, version }, "another node asked a call this node does not know (a newer version?); refused");
        },
      );
    },
    startDraining() {
      beginDrain();
      void cluster?.routing.stopHosting().catch((error) => logger.warn({ err: String(error) }, "cannot leave the room-host registry"));
    },
    async close() {
      beginDrain();
      const { roomCount, ccu } = matchMaker.stats.local;
      logger.info({ rooms: roomCount, clients: ccu }, "closing rooms: each finishes its writes, sends migrate and closes its clients");
      clearInterval(readinessTimer);
      stopNodeCalls?.();
      await nodeStats?.stop();
      await server.gracefullyShutdown(false);
      moderation.stop();
      await history.close();
    },
  };
}

/** How logs and metrics name this node: its PUBLIC_ADDRESS, or its host name. */
export function nodeName(config: Pick<Config, "publicAddress">): string {
  return config.publicAddress ?? hostname();
}

/** The history and moderation stores: in memory, or both on MONGO_URL's connection. */
async function openStores(config: Config, logger: Logger): Promise<{ history: HistoryStore; moderationStore: ModerationStore }> {
  if (!config.mongoUrl) return { history: new MemoryHistoryStore(), moderationStore: new MemoryModerationStore() };
  const { MongoHistoryStore } = await import("./history/mongo-history-store.ts");
  const { MongoModerationStore } = await import("./history/mongo-moderation-store.ts");
  const history = await MongoHistoryStore.connect(config.mongoUrl, {
    logger: logger.child({ component: "history" }),
    timeoutMs: config.storeTimeoutMs,
    writeConcern: config.mongoWriteConcern,
  });
  return { history, moderationStore: await MongoModerationStore.open(history.connection, config.mongoWriteConcern) };
}

/**
 * A node writes only while it surely holds its lease: once it may have lapsed (a freeze, Redis
 * unreachable), another node may own these conversations, so the write is refused (the sends get
 * UNAVAILABLE and are resent) until the lease is renewed or taken again and the routes checked.
 */
function fencedByLease(append: AppendMessages, lease: Pick<RoutingDriver, "leaseHeld"> | undefined): AppendMessages {
  if (!lease) return append;
  return (messages) => (lease.leaseHeld() ? append(messages) : Promise.reject(new Error("this node's lease may have lapsed: not writing until it is renewed")));
}

/** Redis presence, and the routing driver in front of the Redis matchmaker driver. */
async function openCluster(config: Config, redisUrl: string, metrics: Metrics, logger: Logger): Promise<{ redis: RedisConnections; routing: RoutingDriver }> {
  const redis = await connectRedis(redisUrl, config.storeTimeoutMs, (connection) => metrics.redisCommand(connection));
  const log = logger.child({ component: "routing" });
  let renewFailing = false;
  const routing = new RoutingDriver({
    redis: redis.commands,
    processId: () => matchMaker.processId,
    leaseMs: config.roomLeaseMs,
    routes: ROUTES,
    hostsRooms: config.role !== "api",
    listen: (channel) => Promise.resolve(redis.presence.subscribe(channel, () => undefined)),
    events: {
      onLeaseLost(roomId) {
        metrics.leaseLost();
        log.warn({ roomId }, "room lost its lease to another room; moving its clients away");
        (matchMaker.getLocalRoomById(roomId) as { leaseLost?: () => void } | undefined)?.leaseLost?.();
      },
      onLookup: (result) => metrics.routeLookup(result),
      onClaimLost: () => metrics.routeClaimLost(),
      onNodeLeaseLapsed(rooms) {
        metrics.nodeLeaseLapsed();
        log.warn({ rooms }, "this node's lease had lapsed (a stall, or Redis emptied): taking it again and checking every room's route");
      },
      onRenewFailed(error) {
        metrics.leaseRenewFailed();
        if (!renewFailing) log.error({ err: error instanceof Error ? error.message : String(error) }, "cannot renew room leases: Redis does not answer");
        renewFailing = true;
      },
      onRenewed() {
        if (renewFailing) log.info({}, "room leases renewed again");
        renewFailing = false;
      },
    },
  });
  return { redis, routing };
}

/** How much later than a draining node another must have started to take its rooms first. */
const YOUNGER_BY_MS = 5000;

/** A hand-over note for `conversationId`, from an openRoom call or Redis, checked (undefined when absent or malformed). */
function handoverOf(conversationId: string, raw: unknown): Handover | undefined {
  if (typeof raw !== "object" || raw === null) return undefined;
  const { lastSeq, epoch } = raw as { lastSeq?: unknown; epoch?: unknown };
  if (typeof lastSeq !== "number" || !Number.isSafeInteger(lastSeq) || lastSeq < 0) return undefined;
  return { conversationId, lastSeq, ...(typeof epoch === "string" && { epoch }) };
}

/**
 * Hold a seat in `room` (of this node) for each authorisation a draining node sent with `openRoom`,
 * in order; null where none was held. Every seat passes the room's seat fence (an authorisation for
 * another conversation is refused) and expires unused after the room's seat reservation time.
 */
async function holdSeats(room: IRoomCache, conversationId: string, auths: readonly unknown[]): Promise<Array<HandOffSeat | null>> {
  const clients = auths.map((auth) => ({ sessionId: generateId(), options: { conversationId }, auth }));
  const held = await matchMaker.reserveMultipleSeatsFor(room, clients).catch(() => [] as boolean[]);
  return clients.map((client, i) => (held[i] === true ? matchMaker.buildSeatReservation(room, client.sessionId) : null));
}
