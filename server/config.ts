/**
 * The only reader of process.env. Every variable is parsed once into a frozen Config; a bad value
 * is a ConfigError that names the variable and what it must be.
 */

/** Which WebSocket transport to run. */
export type TransportChoice = "auto" | "uws" | "ws";

/**
 * What a node does. `all`: HTTP, matchmaking and rooms. `api`: HTTP, matchmaking and the monitor,
 * no rooms. `rooms`: hosts rooms (and still answers HTTP for its own health and sockets).
 */
export type Role = "all" | "api" | "rooms";

/** The parsed, frozen configuration of one Parley node. */
export type Config = Readonly<{
  /** @default "development" */
  env: "production" | "development" | "test";
  /** @default "all" */
  role: Role;
  /**
   * How a cluster finds a conversation's room: `leases` (O(1) route keys) or `stock` (Colyseus's
   * RedisDriver, which reads every listing per join; kept only as the benchmark's baseline).
   * @default "leases"
   */
  routing: "leases" | "stock";
  /** @default 2567 */
  port: number;
  /** Redis URL for presence, matchmaking and routing; undefined runs a single in-process node. */
  redisUrl: string | undefined;
  /** MongoDB URL for history; undefined keeps history in memory. */
  mongoUrl: string | undefined;
  /** host:port[/path] at which clients reach this node; undefined lets the client keep its own. */
  publicAddress: string | undefined;
  /** True when a cluster node fell back to 127.0.0.1:PORT (development only). */
  publicAddressIsDefault: boolean;
  /** HS256 key for user tokens; undefined means development identities. */
  jwtSecret: Uint8Array | undefined;
  /** @default "auto" */
  transport: TransportChoice;
  /** @default "info" */
  logLevel: string;
  /** Basic-auth credentials of the Colyseus monitor panel at /monitor and the ops console at /admin; undefined keeps them off (the console still takes admin and moderator JWTs). */
  monitor: Readonly<{ user: string; password: string }> | undefined;
  /** Serve the demo chat page at /demo (DEMO=on/off). @default on, off when NODE_ENV=production */
  demo: boolean;
  rateLimit: Readonly<{
    /** Sends a user may make per second, sustained. @default 10 */
    sendsPerSec: number;
    /** Extra sends a user may make in a burst, refilled over 10 s. @default 20 */
    sendBurst: number;
    /** Requests of any kind one connection may make per second. @default 50 */
    requestsPerSec: number;
    /** Frames per second above which Colyseus closes a connection outright. @default 1000 */
    maxFramesPerSec: number;
  }>;
  /** Per-user bounds, each enforced by every node on its own. */
  userLimits: Readonly<{
    /** Seats (connections) one user may hold on a node, all rooms together. @default 64 */
    maxConnections: number;
    /** Distinct conversations (the inbox included) one user may be seated in on a node. @default 50 */
    maxConversations: number;
    /** Joins one user may start per minute through a node. @default 120 */
    reservationsPerMinute: number;
    /** Rooms one user's joins may create per minute on a node. @default 60 */
    roomsPerMinute: number;
  }>;
  /** A TCP connection that has sent no complete HTTP request or WebSocket upgrade by then is closed. @default 5000 */
  handshakeTimeoutMs: number;
  /** Per-address bounds, each enforced by every node on its own. */
  ipLimits: Readonly<{
    /** Open connections (HTTP and WebSocket) one client address may hold on a node. @default 256 */
    maxConnections: number;
    /** Joins (matchmaking calls) one client address may start per second on a node. @default 50 */
    joinsPerSec: number;
    /**
     * Proxies in front of the node that append to X-Forwarded-For; the client address is the entry
     * that many hops from the right. 0 trusts no header and uses the TCP peer. @default 0
     */
    trustedProxyHops: number;
  }>;
  /** Content filter of message text: mask profanity with *, refuse the send, or off. @default "mask" */
  textFilter: "mask" | "refuse" | "off";
  /** Moderation actions one actor (moderator, admin, service) may take per minute. @default 120 */
  moderationActionsPerMin: number;
  /** Longest text after NFC and trim, in characters (code points). @default 2000 */
  maxTextChars: number;
  /** Sends awaiting the store per room before new ones are refused UNAVAILABLE. @default 1000 */
  maxPendingSendsPerRoom: number;
  /** Time a store write may take before its sends are refused UNAVAILABLE. @default 5000 */
  storeTimeoutMs: number;
  /** How long a draining node waits for its rooms before it exits. @default 10000 */
  drainTimeoutMs: number;
  /**
   * Colyseus's node-to-node request timeout (seat reservations, remote room creation, its health
   * checks), passed to it as COLYSEUS_PRESENCE_SHORT_TIMEOUT. @default 1000
   */
  ipcTimeoutMs: number;
  /** Rooms a draining node hands over at once (make before break) when it begins; raised while behind (server/drain-pace.ts). @default 2 */
  handOffConcurrency: number;
  /**
   * The window over which a draining node starts its hand-offs, evenly (server/drain-pace.ts); 0
   * starts them as fast as HANDOFF_CONCURRENCY allows. @default a third of drainTimeoutMs
   */
  handOffSpreadMs: number;
  /**
   * The node's lease (ROOM_LEASE_MS, named when leases were per room): renewed every quarter of it;
   * every route the node holds lives under it. A frozen or cut-off node's conversations become
   * claimable once it lapses (a SIGKILLed node's at once: its process channel is gone), and the node
   * stops writing after 90 % of it without a renewal. @default 1500
   */
  roomLeaseMs: number;
  /** How long a conversation's room stays after its last client leaves. @default 30000 */
  roomIdleMs: number;
  groupCommit: Readonly<{
    /** Window in which appends of all rooms are gathered into one write; 0 turns group commit off. @default 2 */
    windowMs: number;
    /** @default 500 */
    maxMessages: number;
    /** Batches written at once (different rooms' messages). @default 1 */
    concurrency: number;
    /** @default 1048576 */
    maxBytes: number;
    /** Messages waiting for a write before appends are refused. @default 10000 */
    maxQueuedMessages: number;
  }>;
  /** MongoDB write concern for messages and cursors. @default { w: "majority", j: true } */
  mongoWriteConcern: Readonly<{ w: number | "majority"; j: boolean }>;
}>;

/** A configuration variable has a value Parley cannot use. The message names the variable. */
export class ConfigError extends Error {
  override name = "ConfigError";
  readonly variable: string;
  constructor(variable: string, message: string) {
    super(`${variable} ${message}`);
    this.variable = variable;
  }
}

type Env = Record<string, string | undefined>;

function optionalString(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === "" ? undefined : value;
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = optionalString(env, name);
  if (raw === undefined) return fallback;
  if (!/^-?\d+$/.test(raw)) throw new ConfigError(name, `must be a whole number, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}`);
  return value;
}

function url(env: Env, name: string, protocols: string[]): string | undefined {
  const raw = optionalString(env, name);
  if (raw === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(name, `must be a URL such as ${protocols[0]}//host:port, got "${raw}"`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(name, `must use ${protocols.join(" or ")}, got "${parsed.protocol}"`);
  }
  return raw;
}

/**
 * A MongoDB connection string. Not parsed as a WHATWG URL: a replica set's seed list
 * (`mongodb://a:27017,b:27017/parley?replicaSet=rs0`) is not one; the driver checks the rest.
 */
function mongoUrl(env: Env): string | undefined {
  const raw = optionalString(env, "MONGO_URL");
  if (raw === undefined) return undefined;
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(raw)?.[1];
  if (scheme === undefined) throw new ConfigError("MONGO_URL", `must be a URL such as mongodb://host:port/db, got "${raw}"`);
  if (scheme !== "mongodb" && scheme !== "mongodb+srv") throw new ConfigError("MONGO_URL", `must use mongodb: or mongodb+srv:, got "${scheme}:"`);
  if (!/^mongodb(\+srv)?:\/\/[^/\s]+(\/[^\s]*)?$/i.test(raw)) throw new ConfigError("MONGO_URL", `must be mongodb://[user:pass@]host[:port][,host[:port]...]/db, got "${raw}"`);
  return raw;
}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

function logLevel(env: Env): string {
  const level = optionalString(env, "LOG_LEVEL") ?? "info";
  if (!LOG_LEVELS.includes(level)) throw new ConfigError("LOG_LEVEL", `must be one of ${LOG_LEVELS.join(", ")}, got "${level}"`);
  return level;
}

function writeConcern(env: Env): { w: number | "majority"; j: boolean } {
  const w = optionalString(env, "MONGO_WRITE_CONCERN") ?? "majority";
  if (w !== "majority" && !/^[1-9]\d?$/.test(w))
    throw new ConfigError("MONGO_WRITE_CONCERN", `must be majority or a number of nodes (1 or more: an unacknowledged write would break the seq fence), got "${w}"`);
  const journal = optionalString(env, "MONGO_JOURNAL") ?? "true";
  if (journal !== "true" && journal !== "false") throw new ConfigError("MONGO_JOURNAL", `must be true or false, got "${journal}"`);
  return { w: w === "majority" ? w : Number(w), j: journal === "true" };
}

function demo(env: Env, nodeEnv: string): boolean {
  const value = optionalString(env, "DEMO") ?? (nodeEnv === "production" ? "off" : "on");
  if (value !== "on" && value !== "off") throw new ConfigError("DEMO", `must be on or off, got "${value}"`);
  return value === "on";
}

function textFilter(env: Env): "mask" | "refuse" | "off" {
  const mode = optionalString(env, "TEXT_FILTER") ?? "mask";
  if (mode !== "mask" && mode !== "refuse" && mode !== "off") throw new ConfigError("TEXT_FILTER", `must be mask, refuse or off, got "${mode}"`);
  return mode;
}

/** Parse the environment into a frozen Config, or throw a ConfigError naming the variable. */
export function loadConfig(env: Env = process.env): Config {
  const nodeEnv = optionalString(env, "NODE_ENV") ?? "development";
  if (nodeEnv !== "production" && nodeEnv !== "development" && nodeEnv !== "test") {
    throw new ConfigError("NODE_ENV", `must be production, development or test, got "${nodeEnv}"`);
  }

  const transport = optionalString(env, "TRANSPORT") ?? "auto";
  if (transport !== "auto" && transport !== "uws" && transport !== "ws") {
    throw new ConfigError("TRANSPORT", `must be auto, uws or ws, got "${transport}"`);
  }

  const role = optionalString(env, "ROLE") ?? "all";
  if (role !== "all" && role !== "api" && role !== "rooms") {
    throw new ConfigError("ROLE", `must be all, api or rooms, got "${role}"`);
  }

  const routing = optionalString(env, "ROUTING") ?? "leases";
  if (routing !== "leases" && routing !== "stock") throw new ConfigError("ROUTING", `must be leases or stock, got "${routing}"`);

  const publicAddress = optionalString(env, "PUBLIC_ADDRESS");
  const publicPort = Number(/:(\d{1,5})(\/\S*)?$/.exec(publicAddress ?? "")?.[1]);
  if (publicAddress !== undefined && (!/^[A-Za-z0-9.\-[\]:]+:\d{1,5}(\/\S*)?$/.test(publicAddress) || publicPort < 1 || publicPort > 65535)) {
    throw new ConfigError("PUBLIC_ADDRESS", `must be host:port[/path], got "${publicAddress}"`);
  }

  const jwtSecretText = optionalString(env, "JWT_SECRET");
  if (jwtSecretText !== undefined && Buffer.byteLength(jwtSecretText) < 32) {
    throw new ConfigError("JWT_SECRET", "must be at least 32 bytes for HS256");
  }

  const monitorPassword = optionalString(env, "MONITOR_PASSWORD");
  if (monitorPassword !== undefined && monitorPassword.length < 16) throw new ConfigError("MONITOR_PASSWORD", "must be at least 16 characters");

  const drainTimeoutMs = integer(env, "DRAIN_TIMEOUT_MS", 10_000, 0, 600_000);
  const config: Config = {
    env: nodeEnv,
    role,
    routing,
    port: integer(env, "PORT", 2567, 0, 65535),
    redisUrl: url(env, "REDIS_URL", ["redis:", "rediss:"]),
    mongoUrl: mongoUrl(env),
    publicAddress,
    publicAddressIsDefault: false,
    jwtSecret: jwtSecretText === undefined ? undefined : new TextEncoder().encode(jwtSecretText),
    transport,
    logLevel: logLevel(env),
    monitor: monitorPassword === undefined ? undefined : Object.freeze({ user: optionalString(env, "MONITOR_USER") ?? "admin", password: monitorPassword }),
    demo: demo(env, nodeEnv),
    rateLimit: Object.freeze({
      sendsPerSec: integer(env, "SEND_RATE_PER_SEC", 10, 1, 100_000),
      sendBurst: integer(env, "SEND_BURST", 20, 0, 100_000),
      requestsPerSec: integer(env, "REQUEST_RATE_PER_SEC", 50, 1, 100_000),
      maxFramesPerSec: integer(env, "MAX_FRAMES_PER_SEC", 1000, 10, 1_000_000),
    }),
    userLimits: Object.freeze({
      maxConnections: integer(env, "MAX_CONNECTIONS_PER_USER", 64, 1, 100_000),
      maxConversations: integer(env, "MAX_CONVERSATIONS_PER_USER", 50, 1, 100_000),
      reservationsPerMinute: integer(env, "JOINS_PER_MIN_PER_USER", 120, 1, 1_000_000),
      roomsPerMinute: integer(env, "ROOMS_PER_MIN_PER_USER", 60, 1, 1_000_000),
    }),
    handshakeTimeoutMs: integer(env, "HANDSHAKE_TIMEOUT_MS", 5000, 100, 600_000),
    ipLimits: Object.freeze({
      maxConnections: integer(env, "MAX_CONNECTIONS_PER_IP", 256, 1, 1_000_000),
      joinsPerSec: integer(env, "JOINS_PER_SEC_PER_IP", 50, 1, 1_000_000),
      trustedProxyHops: integer(env, "TRUSTED_PROXY_HOPS", 0, 0, 10),
    }),
    textFilter: textFilter(env),
    moderationActionsPerMin: integer(env, "MODERATION_ACTIONS_PER_MIN", 120, 1, 1_000_000),
    maxTextChars: integer(env, "MAX_TEXT_CHARS", 2000, 1, 100_000),
    maxPendingSendsPerRoom: integer(env, "MAX_PENDING_SENDS_PER_ROOM", 1000, 1, 1_000_000),
    storeTimeoutMs: integer(env, "STORE_TIMEOUT_MS", 5000, 10, 600_000),
    drainTimeoutMs,
    handOffConcurrency: integer(env, "HANDOFF_CONCURRENCY", 2, 1, 10_000),
    // Within the first third, where the drain's rush begins (server/drain-pace.ts).
    handOffSpreadMs: integer(env, "HANDOFF_SPREAD_MS", Math.floor(drainTimeoutMs / 3), 0, Math.floor(drainTimeoutMs / 3)),
    ipcTimeoutMs: integer(env, "IPC_TIMEOUT_MS", 1000, 100, 60_000),
    roomLeaseMs: integer(env, "ROOM_LEASE_MS", 1500, 300, 600_000),
    roomIdleMs: integer(env, "ROOM_IDLE_MS", 30_000, 0, 3_600_000),
    groupCommit: Object.freeze({
      windowMs: integer(env, "GROUP_COMMIT_WINDOW_MS", 2, 0, 1000),
      maxMessages: integer(env, "GROUP_COMMIT_MAX_MESSAGES", 500, 1, 100_000),
      concurrency: integer(env, "GROUP_COMMIT_CONCURRENCY", 1, 1, 64),
      maxBytes: integer(env, "GROUP_COMMIT_MAX_BYTES", 1_048_576, 1024, 16_777_216),
      maxQueuedMessages: integer(env, "GROUP_COMMIT_MAX_QUEUE", 10_000, 1, 10_000_000),
    }),
    mongoWriteConcern: Object.freeze(writeConcern(env)),
  };

  if (config.redisUrl !== undefined && config.publicAddress === undefined) {
    // In a cluster a seat may be on another node: the client must be told that node's address.
    if (config.env === "production") throw new ConfigError("PUBLIC_ADDRESS", "is required with REDIS_URL in production: clients are sent to the node hosting their room");
    Object.assign(config, { publicAddress: `127.0.0.1:${config.port}`, publicAddressIsDefault: true });
  }

  if (config.role !== "all" && config.redisUrl === undefined) {
    throw new ConfigError("ROLE", `${config.role} needs REDIS_URL: split roles only make sense in a cluster`);
  }

  if (config.env === "production") {
    const missing = [config.redisUrl === undefined && "REDIS_URL", config.mongoUrl === undefined && "MONGO_URL", config.jwtSecret === undefined && "JWT_SECRET"].filter(
      (name): name is string => name !== false,
    );
    if (missing.length > 0) throw new ConfigError(missing.join(", "), `${missing.length === 1 ? "is" : "are"} required when NODE_ENV=production`);
  }

  return Object.freeze(config);
}

/** The embedded defaults a config falls back to, one warning line each. */
export function describeEmbeddedDefaults(config: Config): string[] {
  const warnings: string[] = [];
  if (config.redisUrl === undefined) {
    warnings.push("REDIS_URL is not set: single node with in-process presence and matchmaker driver");
  }
  if (config.mongoUrl === undefined) {
    warnings.push("MONGO_URL is not set: history is kept in memory and lost on exit");
  }
  if (config.publicAddressIsDefault) {
    warnings.push(`PUBLIC_ADDRESS is not set: this node tells clients to reach it at ${config.publicAddress}`);
  }
  if (config.jwtSecret === undefined) {
    warnings.push("JWT_SECRET is not set: development identities, join options { userId, name } are trusted");
  }
  return warnings;
}
