/**
 * Every Prometheus metric of a node, in one place. Names follow parley_<subsystem>_<name>_<unit>;
 * labels are bounded (request types, codes, room names: never ids).
 */
import { readdir } from "node:fs/promises";
import { Counter, Gauge, Histogram, type HistogramConfiguration, Registry, collectDefaultMetrics } from "prom-client";
import type { RoomMetrics } from "../rooms/room-deps.ts";

export type Metrics = RoomMetrics & {
  registry: Registry;
  httpRequest(route: string, status: number, seconds: number): void;
  historyBatch(messages: number, seconds: number): void;
  historyQueueDepth(messages: number): void;
  redisCommand(connection: "commands" | "subscriber"): void;
  routeLookup(result: "hit" | "miss" | "suspect"): void;
  routeClaimLost(): void;
  leaseLost(): void;
  nodeLeaseLapsed(): void;
  leaseRenewFailed(): void;
  userLimitRefused(limit: string): void;
  /** A `create` of a routed room was served as joinOrCreate: one room per conversation. */
  createRedirected(roomName: string): void;
  /** A connection closed by the transport's guards: `handshake_timeout`, or a WebSocket error code. */
  connectionRefused(reason: string): void;
  /** A connection or a join refused by a per-address bound. */
  ipLimitRefused(limit: "connections" | "joins"): void;
  /** A moderation action taken (the first time; duplicates by actionId excluded), by type. */
  moderationAction(type: string): void;
  /** A moderation call refused, by code (FORBIDDEN, INVALID, RATE_LIMITED, ...). */
  moderationRefused(code: string): void;
  /** Readiness as /readyz last answered it (1 ready, 0 not). */
  nodeReady(ready: boolean): void;
  /** Seconds since the drain started (updated while draining). */
  drainElapsed(seconds: number): void;
  /** The drain hit DRAIN_TIMEOUT_MS and the node exits with rooms open. */
  drainTimedOut(): void;
  /** Seats the replacement held for a handed-over room's clients (each `migrate` then carries one). */
  handOffSeats(seats: number): void;
  /** Another node asked a call this node does not know (a newer version). */
  nodeCallUnknown(): void;
  /** The moderation state was (re)loaded from the store: at start, after Redis came back, periodically. */
  moderationReloaded(reason: string): void;
  /** A moderation change event from another node that could not be applied. */
  moderationEventRejected(): void;
};

/** Close codes kept as label values; any other is "other" (a client may close with any code). */
const KNOWN_CLOSE_CODES = new Set([1000, 1001, 1005, 1006, 1009, 1011, 4000, 4001, 4002, 4003, 4010, 4403]);

/**
 * prom-client's default metrics that list every socket of the process on the event loop at each
 * scrape: at 6,700 connections a scrape stalled the node about 17 ms (35 ms at 13,000), a delay
 * for every join and message arriving meanwhile. Connections are `parley_node_clients`;
 * `process_open_fds` is counted off the event loop instead (`countOpenFds`).
 */
const PER_SOCKET_DEFAULTS = ["process_open_fds", "nodejs_active_handles", "nodejs_active_handles_total", "nodejs_active_resources", "nodejs_active_resources_total"];

/** Open file descriptors, listed by libuv's thread pool; undefined if /proc cannot be read. Linux only, as prom-client's. */
async function countOpenFds(): Promise<number | undefined> {
  // The listing's own descriptor is open while it reads.
  return readdir("/proc/self/fd").then(
    (fds) => fds.length - 1,
    () => undefined,
  );
}

/**
 * Observations of a histogram on the message path, kept as numbers and handed to prom-client in one
 * loop: at each scrape (the histogram's `collect`, which `registry.metrics()` and `get()` run
 * first) or once `DEFERRED_MAX` wait. prom-client's `observe` hashes the labels, checks them and
 * finds the bucket through an object keyed by each bound's text, about 0.15 µs a call in a tight
 * loop and several times that once per message between socket reads and writes, where a send made
 * four of them; here a send stores a number. A scrape sees every observation made before it.
 */
const DEFERRED_MAX = 1024;

class DeferredObservations {
  readonly #values = new Float64Array(DEFERRED_MAX);
  #length = 0;
  readonly #flushTo: (value: number) => void;

  constructor(flushTo: (value: number) => void) {
    this.#flushTo = flushTo;
  }

  add(value: number): void {
    // prom-client's observe throws on these; thrown at a scrape, it would fail every scrape after.
    if (!Number.isFinite(value)) return;
    this.#values[this.#length++] = value;
    if (this.#length === DEFERRED_MAX) this.flush();
  }

  flush(): void {
    for (let index = 0; index < this.#length; index++) this.#flushTo(this.#values[index]!);
    this.#length = 0;
  }
}

/** A histogram without labels whose observations are deferred (see DeferredObservations). */
function deferredHistogram(config: HistogramConfiguration<never>): (value: number) => void {
  const histogram: Histogram = new Histogram({ ...config, collect: () => deferred.flush() });
  const deferred = new DeferredObservations((value) => histogram.observe(value));
  return (value) => deferred.add(value);
}

/** A histogram with one label whose observations are deferred, per label value. */
function deferredLabelledHistogram<L extends string>(config: HistogramConfiguration<L> & { labelNames: readonly [L] }): (label: string, value: number) => void {
  const [labelName] = config.labelNames;
  const byLabel = new Map<string, DeferredObservations>();
  const histogram = new Histogram<L>({
    ...config,
    collect: () => {
      for (const deferred of byLabel.values()) deferred.flush();
    },
  });
  return (label, value) => {
    let deferred = byLabel.get(label);
    if (deferred === undefined) {
      deferred = new DeferredObservations((observed) => histogram.observe({ [labelName]: label } as Partial<Record<L, string>>, observed));
      byLabel.set(label, deferred);
    }
    deferred.add(value);
  };
}

/** A counter on the message path: a number added to, handed to prom-client at each scrape. */
function deferredCounter(config: { name: string; help: string; registers: Registry[] }): (by: number) => void {
  let unreported = 0;
  new Counter({
    ...config,
    collect() {
      this.inc(unreported);
      unreported = 0;
    },
  });
  return (by) => {
    unreported += by;
  };
}

/**
 * A registry with the default process metrics (event-loop lag included; see PER_SOCKET_DEFAULTS)
 * and Parley's own. Every series carries `node` (the node's PUBLIC_ADDRESS, or its host name), so
 * nodes can be told apart even where every process is pid 1.
 */
export function createMetrics(node: string): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels({ node });
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });
  for (const name of PER_SOCKET_DEFAULTS) registry.removeSingleMetric(name);
  if (process.platform === "linux")
    new Gauge({
      name: "process_open_fds",
      help: "Number of open file descriptors.",
      registers: [registry],
      async collect() {
        const open = await countOpenFds();
        if (open !== undefined) this.set(open);
      },
    });

  const accepted = deferredCounter({ name: "parley_chat_messages_accepted_total", help: "Messages made durable and acknowledged (duplicates excluded).", registers: [registry] });
  const refused = new Counter({ name: "parley_chat_requests_refused_total", help: "Requests refused, by request type and code.", labelNames: ["request", "code"], registers: [registry] });
  const fanout = deferredHistogram({
    name: "parley_chat_fanout_recipients",
    help: "Deliveries made per durable batch (recipients x messages).",
    buckets: [0, 1, 2, 5, 10, 50, 100, 500, 1000, 5000],
    registers: [registry],
  });
  const latency = deferredLabelledHistogram({
    name: "parley_chat_request_duration_seconds",
    help: "Time from a request's arrival to its reply, by request type.",
    labelNames: ["request"] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const badFrames = new Counter({ name: "parley_chat_bad_frames_total", help: "Client frames refused as malformed or of unknown type.", registers: [registry] });
  const writeFailures = new Counter({ name: "parley_history_write_failures_total", help: "History store writes or reads that failed or timed out.", registers: [registry] });
  const rooms = new Gauge({ name: "parley_node_rooms", help: "Rooms hosted by this node, by room name.", labelNames: ["room"], registers: [registry] });
  const clients = new Gauge({ name: "parley_node_clients", help: "Clients seated on this node, by room name.", labelNames: ["room"], registers: [registry] });
  let pendingNow = 0;
  new Gauge({
    name: "parley_chat_pending_sends",
    help: "Sends accepted and waiting for the history store.",
    registers: [registry],
    collect() {
      this.set(pendingNow);
    },
  });
  const http = new Histogram({
    name: "parley_http_request_duration_seconds",
    help: "HTTP API latency by route and status.",
    labelNames: ["route", "status"],
    buckets: [0.001, 0.005, 0.025, 0.1, 0.5, 2.5],
    registers: [registry],
  });

  const batchSize = deferredHistogram({
    name: "parley_history_batch_messages",
    help: "Messages per history write (group commit batch size).",
    buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000],
    registers: [registry],
  });
  const writeLatency = deferredHistogram({
    name: "parley_history_write_duration_seconds",
    help: "Time one history write (insertMany) took.",
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
    registers: [registry],
  });
  const redisCommands = new Counter({
    name: "parley_redis_commands_total",
    help: "Redis commands this node sent, by connection. Divide by joins or messages for the cost of each.",
    labelNames: ["connection"],
    registers: [registry],
  });
  const joins = new Counter({
    name: "parley_joins_total",
    help: "Join attempts decided on this node, by room and outcome (joined, or the refusal code).",
    labelNames: ["room", "outcome"],
    registers: [registry],
  });
  const lookups = new Counter({ name: "parley_route_lookups_total", help: "Routed room lookups (one Redis command each), by result.", labelNames: ["result"], registers: [registry] });
  const claimsLost = new Counter({ name: "parley_route_claims_lost_total", help: "Rooms discarded at creation because another room already held the conversation.", registers: [registry] });
  const nodeLeaseLapses = new Counter({
    name: "parley_node_lease_lapses_total",
    help: "Times this node found its own lease lapsed (a stall, Redis emptied or restarted) and took it again, checking every room's route.",
    registers: [registry],
  });
  const leasesLost = new Counter({ name: "parley_route_leases_lost_total", help: "Rooms that found another owner at lease renewal and moved their clients away.", registers: [registry] });
  const renewFailures = new Counter({ name: "parley_route_renew_failures_total", help: "Lease renewals that failed because Redis did not answer.", registers: [registry] });
  const notifies = new Counter({ name: "parley_inbox_notifies_total", help: "Inbox notifications published for dm and group messages.", registers: [registry] });
  const notifyFailures = new Counter({
    name: "parley_inbox_notify_failures_total",
    help: "Inbox notifications that could not be published (Redis down); notify is at most once.",
    registers: [registry],
  });
  const seatRefusals = new Counter({
    name: "parley_seat_refusals_total",
    help: "Seats refused by the room because their authorisation was for another room (joinById with other options, another user's inbox).",
    labelNames: ["room"],
    registers: [registry],
  });
  const bidiRemoved = new Counter({ name: "parley_chat_bidi_controls_removed_total", help: "Unpaired bidirectional control characters removed from message text.", registers: [registry] });
  const userLimitRefusals = new Counter({
    name: "parley_user_limit_refusals_total",
    help: "Joins refused by a per-user bound, by bound (connections, conversations, reservations, rooms).",
    labelNames: ["limit"],
    registers: [registry],
  });
  const createRedirects = new Counter({
    name: "parley_matchmaking_create_redirected_total",
    help: "create calls for a conversation or inbox served as joinOrCreate, so no second room is made.",
    labelNames: ["room"],
    registers: [registry],
  });
  const connectionRefusals = new Counter({
    name: "parley_transport_connections_refused_total",
    help: "Connections closed by the transport guards, by reason (handshake_timeout, oversize frame, bad frame).",
    labelNames: ["reason"],
    registers: [registry],
  });
  const ipLimitRefusals = new Counter({ name: "parley_ip_limit_refusals_total", help: "Connections or joins refused by a per-address bound, by limit.", labelNames: ["limit"], registers: [registry] });
  const moderationActions = new Counter({
    name: "parley_moderation_actions_total",
    help: "Moderation actions taken (duplicates by actionId excluded), by type.",
    labelNames: ["type"],
    registers: [registry],
  });
  const moderationRefusals = new Counter({ name: "parley_moderation_refusals_total", help: "Moderation calls refused, by code.", labelNames: ["code"], registers: [registry] });
  const moderationReloads = new Counter({
    name: "parley_moderation_reloads_total",
    help: "Moderation state reloads from the store, by reason (start, redis_reconnect, periodic).",
    labelNames: ["reason"],
    registers: [registry],
  });
  const moderationEventsRejected = new Counter({
    name: "parley_moderation_events_rejected_total",
    help: "Moderation change events from the cluster that failed validation and were ignored.",
    registers: [registry],
  });
  const deliveries = deferredCounter({ name: "parley_chat_deliveries_total", help: "Messages delivered to clients (messages x recipients in the room).", registers: [registry] });
  const opened = new Counter({ name: "parley_connections_opened_total", help: "Clients seated, by room name.", labelNames: ["room"], registers: [registry] });
  const closed = new Counter({
    name: "parley_connections_closed_total",
    help: "Seated clients that left, by room name and close code (other: an unlisted code).",
    labelNames: ["room", "code"],
    registers: [registry],
  });
  const rejoins = new Counter({
    name: "parley_rejoins_total",
    help: "Seats whose first sync starts above seq 0: a client resuming a conversation it had seen (after a fault, a migrate or a restart).",
    labelNames: ["room"],
    registers: [registry],
  });
  const migrates = new Counter({ name: "parley_migrate_sent_total", help: "Rooms that sent their clients migrate (drain, lost lease, fenced writer).", labelNames: ["room"], registers: [registry] });
  const ready = new Gauge({ name: "parley_node_ready", help: "1 while /readyz last answered 200, 0 otherwise (draining, Redis or the store down).", registers: [registry] });
  const drainElapsed = new Gauge({ name: "parley_drain_duration_seconds", help: "Seconds the current drain has run (0 until a drain starts).", registers: [registry] });
  const drainTimeouts = new Counter({ name: "parley_drain_timeouts_total", help: "Drains that hit DRAIN_TIMEOUT_MS (the node then exits with rooms open).", registers: [registry] });
  const handOffs = new Counter({
    name: "parley_handoffs_total",
    help: "Draining rooms handed over: replaced (another node opened the conversation's room before migrate), fallback (moved the old way) or empty (no one to move: the route released, the room closed).",
    labelNames: ["outcome"],
    registers: [registry],
  });
  const handOffPause = new Histogram({
    name: "parley_handoff_pause_seconds",
    help: "How long a draining room refused sends before its clients were told to migrate: closing its log, settling its writes, releasing the route and opening the replacement.",
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const handOffSeats = new Counter({
    name: "parley_handoff_seats_total",
    help: "Seats a replacement room held for a handed-over room's clients: each such client's migrate carries its seat and it rejoins without matchmaking.",
    registers: [registry],
  });
  const unknownCalls = new Counter({
    name: "parley_node_calls_unknown_total",
    help: "Calls from other nodes of a kind this node does not know (a newer version asked); refused.",
    registers: [registry],
  });
  const queueDepth = new Gauge({ name: "parley_history_queue_messages", help: "Messages waiting for a group-commit write.", registers: [registry] });

  // Known label values start at 0, so rate() and increase() see the first event of each.
  for (const room of ["chat", "inbox"]) seatRefusals.inc({ room }, 0);
  for (const limit of ["connections", "conversations", "reservations", "rooms"]) userLimitRefusals.inc({ limit }, 0);
  for (const limit of ["connections", "joins"]) ipLimitRefusals.inc({ limit }, 0);
  for (const result of ["hit", "miss", "suspect"]) lookups.inc({ result }, 0);
  for (const connection of ["commands", "subscriber"]) redisCommands.inc({ connection }, 0);
  for (const outcome of ["replaced", "fallback", "empty"]) handOffs.inc({ outcome }, 0);

  return {
    registry,
    historyBatch: (messages, seconds) => {
      batchSize(messages);
      writeLatency(seconds);
    },
    historyQueueDepth: (messages) => queueDepth.set(messages),
    messageAccepted: () => accepted(1),
    requestRefused: (request, code) => refused.inc({ request, code }),
    fanout: (recipients) => {
      fanout(recipients);
      deliveries(recipients);
    },
    requestLatency: (request, seconds) => latency(request, seconds),
    badFrame: () => badFrames.inc(),
    storeWriteFailed: () => writeFailures.inc(),
    roomCreated: (room) => rooms.inc({ room }),
    roomDisposed: (room) => rooms.dec({ room }),
    clientJoined: (room) => {
      clients.inc({ room });
      opened.inc({ room });
    },
    clientLeft: (room, closeCode) => {
      clients.dec({ room });
      closed.inc({ room, code: closeCode !== undefined && KNOWN_CLOSE_CODES.has(closeCode) ? String(closeCode) : "other" });
    },
    migrateSent: (room) => migrates.inc({ room }),
    rejoined: (room) => rejoins.inc({ room }),
    nodeReady: (isReady) => ready.set(isReady ? 1 : 0),
    drainElapsed: (seconds) => drainElapsed.set(seconds),
    drainTimedOut: () => drainTimeouts.inc(),
    handOff: (outcome) => handOffs.inc({ outcome }),
    handOffSeats: (seats) => handOffSeats.inc(seats),
    handOffPause: (seconds) => handOffPause.observe(seconds),
    nodeCallUnknown: () => unknownCalls.inc(),
    pendingSends: (delta) => {
      pendingNow += delta;
    },
    redisCommand: (connection) => redisCommands.inc({ connection }),
    routeLookup: (result) => lookups.inc({ result }),
    routeClaimLost: () => claimsLost.inc(),
    leaseLost: () => leasesLost.inc(),
    nodeLeaseLapsed: () => nodeLeaseLapses.inc(),
    leaseRenewFailed: () => renewFailures.inc(),
    joinOutcome: (room, outcome) => joins.inc({ room, outcome }),
    notifiesPublished: (count) => notifies.inc(count),
    notifyFailed: () => notifyFailures.inc(),
    seatRefused: (room) => seatRefusals.inc({ room }),
    bidiControlsRemoved: (count) => bidiRemoved.inc(count),
    userLimitRefused: (limit) => userLimitRefusals.inc({ limit }),
    createRedirected: (room) => createRedirects.inc({ room }),
    connectionRefused: (reason) => connectionRefusals.inc({ reason }),
    ipLimitRefused: (limit) => ipLimitRefusals.inc({ limit }),
    moderationAction: (type) => moderationActions.inc({ type }),
    moderationRefused: (code) => moderationRefusals.inc({ code }),
    moderationReloaded: (reason) => moderationReloads.inc({ reason }),
    moderationEventRejected: () => moderationEventsRejected.inc(),
    httpRequest: (route, status, seconds) => http.observe({ route, status: String(status) }, seconds),
  };
}
