/**
 * The node's Redis connections: one for commands (presence publishes, the driver, routing) and the
 * presence's subscriber. Startup fails, naming REDIS_URL, when Redis does not answer: a node never
 * falls back to in-process presence silently.
 */
import { RedisPresence } from "@colyseus/redis-presence";
import { Redis } from "ioredis";
import { withTimeout } from "../../rooms/timeout.ts";

export type RedisConnections = {
  commands: Redis;
  presence: RedisPresence;
  /** The presence's subscriber connection (node calls' replies subscribe a pattern on it). */
  subscriber: Redis;
  /** Resolves while Redis answers; used by /readyz. */
  ping(): Promise<void>;
  /** Be told each time the subscriber connection is ready again after a loss (publishes may have been missed). */
  onReconnect(listener: () => void): void;
  close(): Promise<void>;
};

/** Connect to REDIS_URL; count every command sent through `onCommand`. */
export async function connectRedis(url: string, timeoutMs: number, onCommand: (connection: "commands" | "subscriber") => void): Promise<RedisConnections> {
  const commands = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 2, connectTimeout: timeoutMs });
  try {
    await withTimeout(commands.connect(), timeoutMs);
    await withTimeout(commands.ping(), timeoutMs);
  } catch (error) {
    commands.disconnect();
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`REDIS_URL ${redact(url)} cannot be reached (${reason}); start Redis or unset REDIS_URL for a single node`);
  }
  const presence = new RedisPresence(commands);
  count(commands, () => onCommand("commands"));
  count((presence as unknown as { sub: Redis }).sub, () => onCommand("subscriber"));
  const subscriber = (presence as unknown as { sub: Redis }).sub;
  let lost = false;
  subscriber.on("close", () => (lost = true));
  return {
    commands,
    presence,
    subscriber,
    onReconnect(listener) {
      subscriber.on("ready", () => {
        if (!lost) return;
        lost = false;
        listener();
      });
    },
    ping: async () => {
      await commands.ping();
    },
    async close() {
      presence.shutdown();
      await commands.quit().catch(() => undefined);
    },
  };
}

function count(client: Redis | { sendCommand: Redis["sendCommand"] }, onCommand: () => void): void {
  const send = client.sendCommand.bind(client);
  client.sendCommand = ((...args: Parameters<Redis["sendCommand"]>) => {
    onCommand();
    return send(...args);
  }) as Redis["sendCommand"];
}

function redact(url: string): string {
  return url.replace(/\/\/[^@/]*@/, "//***@");
}
