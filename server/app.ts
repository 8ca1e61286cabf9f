/**
 * createApp: builds one Parley node from a Config. Used by main.ts and by tests; owns no process
 * signals (shutdown.ts does).
 */
import { defineRoom, defineServer } from "@colyseus/core";
import { createChatRoom } from "../rooms/chat-room.ts";
import type { HistoryStore } from "../rooms/history-store.ts";
import { MemoryHistoryStore } from "../rooms/memory-history-store.ts";
import { createMemoryRateLimit } from "../rooms/plugins/rate-limit.ts";
import { describeEmbeddedDefaults, type Config } from "./config.ts";
import { mountRoutes } from "./http/routes.ts";
import { createDevelopmentAuthenticator, createJwtAuthenticator } from "./identity.ts";
import { colyseusLogger, type Logger } from "./logger.ts";
import { createMetrics } from "./metrics.ts";
import { createGroupCommit } from "./history/group-commit.ts";
import { createTransport } from "./transport.ts";

export type App = {
  transportName: "uws" | "ws";
  listen(): Promise<void>;
  /** Stop taking new work: /readyz turns 503. */
  startDraining(): void;
  /** Close rooms (each sends `migrate` first), the transport and the store. */
  close(): Promise<void>;
};

/** Build a node. The history store is chosen from the config unless one is given. */
export async function createApp(config: Config, logger: Logger, overrides: { history?: HistoryStore } = {}): Promise<App> {
  for (const warning of describeEmbeddedDefaults(config)) logger.warn({ embeddedDefault: true }, warning);

  const metrics = createMetrics();
  const history = overrides.history ?? (await openHistoryStore(config, logger));
  const authenticator = config.jwtSecret ? createJwtAuthenticator(config.jwtSecret) : createDevelopmentAuthenticator();
  const { transport, name: transportName } = await createTransport(config, logger);
  let draining = false;

  const ChatRoom = createChatRoom({
    authenticator,
    history,
    append: createGroupCommit(history, {
      ...config.groupCommit,
      onBatch: (messages, seconds) => metrics.historyBatch(messages, seconds),
      onQueueDepth: (messages) => metrics.historyQueueDepth(messages),
    }),
    sendLimit: createMemoryRateLimit(config.rateLimit.sendsPerSec, config.rateLimit.sendBurst),
    requestLimit: createMemoryRateLimit(config.rateLimit.requestsPerSec, 0),
    limits: {
      maxTextChars: config.maxTextChars,
      maxPendingSendsPerRoom: config.maxPendingSendsPerRoom,
      storeTimeoutMs: config.storeTimeoutMs,
      maxFramesPerSec: config.rateLimit.maxFramesPerSec,
    },
    log: logger.child({ component: "room" }),
    metrics,
  });

  const cluster = config.redisUrl ? await redisPresenceAndDriver(config.redisUrl) : {};

  const server = defineServer({
    rooms: { chat: defineRoom(ChatRoom).filterBy(["conversationId"]) },
    transport,
    ...cluster,
    publicAddress: config.publicAddress,
    logger: colyseusLogger(logger),
    greet: false,
    gracefullyShutdown: false,
    express: (app) => {
      mountRoutes(app, {
        history,
        authenticator,
        metrics,
        logger: logger.child({ component: "http" }),
        isDraining: () => draining,
        readinessChecks: {},
        storeTimeoutMs: config.storeTimeoutMs,
      });
    },
  });

  return {
    transportName,
    listen: () => server.listen(config.port),
    startDraining() {
      draining = true;
    },
    async close() {
      draining = true;
      await server.gracefullyShutdown(false);
      await history.close();
    },
  };
}

async function openHistoryStore(config: Config, logger: Logger): Promise<HistoryStore> {
  if (!config.mongoUrl) return new MemoryHistoryStore();
  const { MongoHistoryStore } = await import("./history/mongo-history-store.ts");
  return MongoHistoryStore.connect(config.mongoUrl, {
    logger: logger.child({ component: "history" }),
    timeoutMs: config.storeTimeoutMs,
    writeConcern: config.mongoWriteConcern,
  });
}

async function redisPresenceAndDriver(redisUrl: string) {
  // TODO(#4): O(1) conversation routing, leases and the readiness check for Redis.
  const { RedisPresence } = await import("@colyseus/redis-presence");
  const { RedisDriver } = await import("@colyseus/redis-driver");
  return { presence: new RedisPresence(redisUrl), driver: new RedisDriver(redisUrl) };
}
