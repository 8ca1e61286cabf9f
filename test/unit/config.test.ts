import assert from "node:assert/strict";
import { ConfigError, describeEmbeddedDefaults, loadConfig } from "../../server/config.ts";

const SECRET = "s".repeat(32);
const PRODUCTION = { NODE_ENV: "production", REDIS_URL: "redis://redis:6379", MONGO_URL: "mongodb://mongo:27017/parley", JWT_SECRET: SECRET, PUBLIC_ADDRESS: "node-1.chat.example:443" };

/** Assert that loading `env` fails with a ConfigError naming `variable` in its message. */
function assertRefused(env: Record<string, string | undefined>, variable: string, detail?: RegExp): void {
  assert.throws(
    () => loadConfig(env),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
      assert.equal(error.variable, variable);
      assert.match(error.message, new RegExp(`\\b${variable}\\b`), "the message names the variable");
      if (detail) assert.match(error.message, detail);
      return true;
    },
  );
}

describe("configuration", function () {
  it("runs a development node on port 2567 with embedded defaults when nothing is set", function () {
    const config = loadConfig({});
    assert.equal(config.env, "development");
    assert.equal(config.port, 2567);
    assert.equal(config.transport, "auto");
    assert.equal(config.logLevel, "info");
    assert.equal(config.redisUrl, undefined);
    assert.equal(config.mongoUrl, undefined);
    assert.equal(config.jwtSecret, undefined);
    assert.equal(config.publicAddress, undefined);
    assert.deepEqual(config.rateLimit, { sendsPerSec: 10, sendBurst: 20, requestsPerSec: 50, maxFramesPerSec: 1000 });
    assert.equal(config.maxTextChars, 2000);
    assert.equal(config.maxPendingSendsPerRoom, 1000);
    assert.equal(config.storeTimeoutMs, 5000);
    assert.equal(config.drainTimeoutMs, 10_000);
  });

  it("treats empty and blank variables as unset", function () {
    const config = loadConfig({ PORT: "", REDIS_URL: "  ", MONGO_URL: "", JWT_SECRET: "", TRANSPORT: " " });
    assert.equal(config.port, 2567);
    assert.equal(config.redisUrl, undefined);
    assert.equal(config.mongoUrl, undefined);
    assert.equal(config.jwtSecret, undefined);
    assert.equal(config.transport, "auto");
  });

  it("reads every variable it is given", function () {
    const config = loadConfig({
      ...PRODUCTION,
      PORT: " 8080 ",
      PUBLIC_ADDRESS: "chat-1.example.com:443/ws",
      TRANSPORT: "ws",
      LOG_LEVEL: "debug",
      SEND_RATE_PER_SEC: "5",
      MAX_TEXT_CHARS: "500",
      STORE_TIMEOUT_MS: "250",
      MAX_CONNECTIONS_PER_USER: "8",
      MAX_CONVERSATIONS_PER_USER: "6",
      JOINS_PER_MIN_PER_USER: "30",
      ROOMS_PER_MIN_PER_USER: "10",
      HANDSHAKE_TIMEOUT_MS: "2000",
    });
    assert.equal(config.env, "production");
    assert.equal(config.port, 8080);
    assert.equal(config.redisUrl, "redis://redis:6379");
    assert.equal(config.mongoUrl, "mongodb://mongo:27017/parley");
    assert.equal(config.publicAddress, "chat-1.example.com:443/ws");
    assert.deepEqual(config.jwtSecret, new TextEncoder().encode(SECRET));
    assert.equal(config.transport, "ws");
    assert.equal(config.logLevel, "debug");
    assert.equal(config.rateLimit.sendsPerSec, 5);
    assert.equal(config.maxTextChars, 500);
    assert.equal(config.storeTimeoutMs, 250);
    assert.deepEqual(config.userLimits, { maxConnections: 8, maxConversations: 6, reservationsPerMinute: 30, roomsPerMinute: 10 });
    assert.equal(config.handshakeTimeoutMs, 2000);
  });

  it("accepts rediss:, mongodb+srv: and an IPv6 public address", function () {
    const config = loadConfig({ REDIS_URL: "rediss://:pw@cache:6380/0", MONGO_URL: "mongodb+srv://user:pw@cluster.example.net/parley", PUBLIC_ADDRESS: "[::1]:2567" });
    assert.equal(config.redisUrl, "rediss://:pw@cache:6380/0");
    assert.equal(config.mongoUrl, "mongodb+srv://user:pw@cluster.example.net/parley");
    assert.equal(config.publicAddress, "[::1]:2567");
  });

  describe("refuses a bad value, naming the variable", function () {
    it("PORT that is not a whole number", function () {
      for (const bad of ["http", "80.5", "1e3", "0x50"]) assertRefused({ PORT: bad }, "PORT", /whole number/);
    });

    it("PORT out of range", function () {
      assertRefused({ PORT: "65536" }, "PORT", /between 0 and 65535/);
      assertRefused({ PORT: "-1" }, "PORT", /between 0 and 65535/);
    });

    it("TRANSPORT other than auto, uws or ws", function () {
      assertRefused({ TRANSPORT: "bogus" }, "TRANSPORT", /auto, uws or ws/);
    });

    it("REDIS_URL with a scheme other than redis: or rediss:", function () {
      assertRefused({ REDIS_URL: "http://redis:6379" }, "REDIS_URL", /redis:/);
      assertRefused({ REDIS_URL: "mongodb://redis:6379" }, "REDIS_URL");
    });

    it("MONGO_URL that is not a URL, or not a mongodb one", function () {
      assertRefused({ MONGO_URL: "not a url" }, "MONGO_URL", /must be a URL/);
      assertRefused({ MONGO_URL: "postgres://db:5432/parley" }, "MONGO_URL", /mongodb:/);
      assertRefused({ MONGO_URL: "mongodb://" }, "MONGO_URL", /mongodb:\/\/\[user:pass@\]host/);
    });

    it("accepts a replica set's seed list in MONGO_URL, which is no WHATWG URL", function () {
      const seedList = "mongodb://user:pw@mongo-0:27017,mongo-1:27017,mongo-2:27017/parley?replicaSet=rs0";
      assert.equal(loadConfig({ MONGO_URL: seedList }).mongoUrl, seedList);
    });

    it("JWT_SECRET shorter than 32 bytes", function () {
      assertRefused({ JWT_SECRET: "s".repeat(31) }, "JWT_SECRET", /32 bytes/);
      assert.ok(loadConfig({ JWT_SECRET: "s".repeat(32) }).jwtSecret, "32 bytes is enough");
    });

    it("PUBLIC_ADDRESS that is not host:port[/path]", function () {
      for (const bad of ["chat.example.com", "http://chat.example.com:443", "chat.example.com:port", "chat example.com:443", ":443"]) {
        assertRefused({ PUBLIC_ADDRESS: bad }, "PUBLIC_ADDRESS", /host:port/);
      }
    });

    it("NODE_ENV other than production, development or test", function () {
      assertRefused({ NODE_ENV: "staging" }, "NODE_ENV");
    });

    it("numeric limits out of their range", function () {
      assertRefused({ MAX_TEXT_CHARS: "0" }, "MAX_TEXT_CHARS");
      assertRefused({ STORE_TIMEOUT_MS: "5" }, "STORE_TIMEOUT_MS");
      assertRefused({ SEND_RATE_PER_SEC: "fast" }, "SEND_RATE_PER_SEC");
      assertRefused({ MAX_CONNECTIONS_PER_USER: "0" }, "MAX_CONNECTIONS_PER_USER");
      assertRefused({ MAX_CONVERSATIONS_PER_USER: "many" }, "MAX_CONVERSATIONS_PER_USER");
      assertRefused({ JOINS_PER_MIN_PER_USER: "-1" }, "JOINS_PER_MIN_PER_USER");
      assertRefused({ ROOMS_PER_MIN_PER_USER: "0" }, "ROOMS_PER_MIN_PER_USER");
      assertRefused({ HANDSHAKE_TIMEOUT_MS: "10" }, "HANDSHAKE_TIMEOUT_MS");
    });
  });

  describe("in production", function () {
    it("starts with REDIS_URL, MONGO_URL and JWT_SECRET set", function () {
      assert.equal(loadConfig(PRODUCTION).env, "production");
    });

    for (const missing of ["REDIS_URL", "MONGO_URL", "JWT_SECRET"] as const) {
      it(`refuses to start without ${missing}, naming it`, function () {
        assertRefused({ ...PRODUCTION, [missing]: undefined }, missing, /required when NODE_ENV=production/);
      });
    }

    it("refuses to start a cluster node without PUBLIC_ADDRESS: clients are sent to the node hosting their room", function () {
      assertRefused({ ...PRODUCTION, PUBLIC_ADDRESS: undefined }, "PUBLIC_ADDRESS", /REDIS_URL/);
    });

    it("refuses to start with nothing set", function () {
      assert.throws(() => loadConfig({ NODE_ENV: "production" }), ConfigError);
    });
  });

  describe("roles", function () {
    it("runs every role in one node by default", function () {
      assert.equal(loadConfig({}).role, "all");
    });

    it("accepts api and rooms in a cluster", function () {
      for (const role of ["api", "rooms"] as const) assert.equal(loadConfig({ ROLE: role, REDIS_URL: "redis://redis:6379" }).role, role);
    });

    it("refuses a split role without REDIS_URL, and an unknown role", function () {
      assertRefused({ ROLE: "api" }, "ROLE", /REDIS_URL/);
      assertRefused({ ROLE: "worker", REDIS_URL: "redis://redis:6379" }, "ROLE", /all, api or rooms/);
    });

    it("refuses a monitor password shorter than 16 characters", function () {
      assertRefused({ MONITOR_PASSWORD: "short" }, "MONITOR_PASSWORD");
      assert.deepEqual(loadConfig({ MONITOR_PASSWORD: "x".repeat(16) }).monitor, { user: "admin", password: "x".repeat(16) });
    });

    it("serves the demo page outside production unless DEMO=off, and in production only with DEMO=on", function () {
      assert.equal(loadConfig({}).demo, true);
      assert.equal(loadConfig({ DEMO: "off" }).demo, false);
      const production = { NODE_ENV: "production", REDIS_URL: "redis://redis:6379", MONGO_URL: "mongodb://mongo/parley", JWT_SECRET: "s".repeat(32), PUBLIC_ADDRESS: "chat.example.com:443" };
      assert.equal(loadConfig(production).demo, false);
      assert.equal(loadConfig({ ...production, DEMO: "on" }).demo, true);
      assertRefused({ DEMO: "yes" }, "DEMO", /on or off/);
    });

    it("refuses a room lease too short to renew", function () {
      assertRefused({ ROOM_LEASE_MS: "50" }, "ROOM_LEASE_MS");
    });
  });

  it("returns a frozen config, rate limits included", function () {
    const config = loadConfig({});
    assert.ok(Object.isFrozen(config));
    assert.ok(Object.isFrozen(config.rateLimit));
    assert.throws(() => {
      (config as { port: number }).port = 1;
    }, TypeError);
    assert.throws(() => {
      (config.rateLimit as { sendsPerSec: number }).sendsPerSec = 1_000_000;
    }, TypeError);
  });

  describe("embedded defaults", function () {
    it("describes one line per embedded default, each naming its variable", function () {
      const lines = describeEmbeddedDefaults(loadConfig({}));
      assert.equal(lines.length, 3);
      for (const variable of ["REDIS_URL", "MONGO_URL", "JWT_SECRET"]) {
        assert.equal(lines.filter((line) => line.includes(variable)).length, 1, `one line names ${variable}`);
      }
    });

    it("describes only what is still embedded", function () {
      const lines = describeEmbeddedDefaults(loadConfig({ REDIS_URL: "redis://redis:6379", JWT_SECRET: SECRET, PUBLIC_ADDRESS: "a.example:2567" }));
      assert.equal(lines.length, 1);
      assert.match(lines[0]!, /MONGO_URL/);
    });

    it("tells a development cluster node which address it announces when PUBLIC_ADDRESS is unset", function () {
      const config = loadConfig({ REDIS_URL: "redis://redis:6379", PORT: "3001" });
      assert.equal(config.publicAddress, "127.0.0.1:3001");
      assert.ok(describeEmbeddedDefaults(config).some((line) => line.startsWith("PUBLIC_ADDRESS") && line.includes("127.0.0.1:3001")));
    });

    it("describes nothing when every service is configured", function () {
      assert.deepEqual(describeEmbeddedDefaults(loadConfig(PRODUCTION)), []);
    });
  });
});
