/**
 * The entrypoint as `npm start` runs it: embedded defaults announced, production refusing to start
 * without what it needs, and the transport choice.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runNodeToExit, sdkClient, startNode, unique } from "../support/node-process.ts";
import { waitFor } from "../../deploy/wait-for.ts";

function logLines(output: string): Array<Record<string, unknown>> {
  return output
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe("entrypoint", function () {
  it("announces each embedded default in one warning line and serves", async () => {
    const node = await startNode({});
    try {
      const warnings = logLines(node.output()).filter((line) => line.embeddedDefault === true);
      assert.equal(warnings.length, 3);
      assert.deepEqual(
        warnings.map((line) => String(line.msg).split(" ")[0]),
        ["REDIS_URL", "MONGO_URL", "JWT_SECRET"],
      );
      assert.ok(
        warnings.every((line) => line.level === 40),
        "warnings are at warn level",
      );
      const transport = logLines(node.output()).find((line) => line.msg === "websocket transport selected");
      assert.ok(transport && typeof transport.reason === "string" && ["ws", "uws"].includes(String(transport.transport)), "logs which transport and why");
    } finally {
      await node.stop();
    }
  });

  it("starts with Node's compile cache on, and one filled by the image's build step holds every module a node loads", async () => {
    const dir = mkdtempSync(join(tmpdir(), "parley-compile-cache-"));
    try {
      const warm = spawnSync(process.execPath, ["server/warm-compile-cache.ts"], {
        cwd: join(import.meta.dirname, "..", ".."),
        env: { PATH: process.env.PATH, NODE_COMPILE_CACHE: dir },
        encoding: "utf8",
      });
      assert.equal(warm.status, 0, warm.stderr);
      const cacheDir = warm.stdout.trim();
      const warmed = readdirSync(cacheDir).length;
      assert.ok(warmed > 500, `the warm-up cached ${warmed} modules`);

      const node = await startNode({ NODE_COMPILE_CACHE: dir });
      const listening = logLines(node.output()).find((line) => line.msg === "parley node listening");
      assert.equal(listening?.compileCache, cacheDir, "the node names the cache it uses");
      await node.stop();
      // The cache is written when the process exits: only the entrypoint and the wiring it imports
      // first are new (each a stripped TypeScript text and a code cache entry).
      const added = readdirSync(cacheDir).length - warmed;
      assert.ok(added <= 4, `the node compiled ${added} modules the warm-up had not cached`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("serves the Colyseus monitor at /monitor only behind basic auth when MONITOR_PASSWORD is set", async () => {
    const password = "a-monitor-password-for-tests";
    const node = await startNode({ MONITOR_PASSWORD: password });
    const plain = await startNode({});
    try {
      const conversationId = `channel:${unique()}`;
      const room = await sdkClient(node).joinOrCreate("chat", { conversationId, userId: "alice" });
      assert.equal((await fetch(`${node.httpUrl}/monitor/api`)).status, 401);
      const wrong = await fetch(`${node.httpUrl}/monitor/api`, { headers: { authorization: `Basic ${Buffer.from("admin:nope").toString("base64")}` } });
      assert.equal(wrong.status, 401);
      const listing = await fetch(`${node.httpUrl}/monitor/api`, { headers: { authorization: `Basic ${Buffer.from(`admin:${password}`).toString("base64")}` } });
      assert.equal(listing.status, 200);
      const body = (await listing.json()) as { rooms: Array<{ roomId: string }> };
      assert.ok(
        body.rooms.some((listed) => listed.roomId === room.roomId),
        "the panel lists the live room",
      );
      await room.leave();
      assert.equal((await fetch(`${plain.httpUrl}/monitor/api`)).status, 404, "no panel without MONITOR_PASSWORD");
    } finally {
      await Promise.all([node.stop(), plain.stop()]);
    }
  });

  it("drains on SIGTERM: accepted sends are acknowledged, clients get migrate, and the process exits 0", async () => {
    const node = await startNode({});
    const room = await sdkClient(node).joinOrCreate("chat", { conversationId: `channel:${unique()}`, userId: "alice" });
    const migrate: Array<{ reason: string }> = [];
    room.onMessage("migrate", (message: { reason: string }) => migrate.push(message));
    room.onMessage("message", () => {});
    const pendingSend = room.request("send", { clientMsgId: "during-drain", text: "made durable before the move" });
    node.signal("SIGTERM");
    assert.equal((await pendingSend).seq, 1);
    await waitFor(() => migrate.length === 1, { what: "migrate" });
    assert.equal(migrate[0]!.reason, "node draining");
    assert.equal(await node.exited, 0);
  });

  for (const missing of ["REDIS_URL", "MONGO_URL", "JWT_SECRET"]) {
    it(`refuses to start in production without ${missing}, naming it`, async () => {
      const env: Record<string, string> = {
        NODE_ENV: "production",
        PORT: "0",
        REDIS_URL: "redis://127.0.0.1:1",
        MONGO_URL: "mongodb://127.0.0.1:1/parley",
        JWT_SECRET: "a-production-secret-of-at-least-32-bytes",
        PUBLIC_ADDRESS: "127.0.0.1:2567",
      };
      delete env[missing];
      const { code, output } = await runNodeToExit(env);
      assert.notEqual(code, 0);
      assert.match(output, new RegExp(`${missing} is required when NODE_ENV=production`));
    });
  }

  it("stops with an error naming the variable for a bad value", async () => {
    const { code, output } = await runNodeToExit({ PORT: "eighty" });
    assert.notEqual(code, 0);
    assert.match(output, /PORT must be a whole number/);
  });

  it("fails to start when TRANSPORT=uws cannot load uWebSockets.js, and says why", async function () {
    const probe = await import("@colyseus/uwebsockets-transport").then(
      () => true,
      () => false,
    );
    if (probe) {
      console.log("      skipped: uWebSockets.js loads on this machine, so TRANSPORT=uws starts");
      this.skip();
    }
    const { code, output } = await runNodeToExit({ TRANSPORT: "uws", PORT: "0" });
    assert.notEqual(code, 0);
    assert.match(output, /TRANSPORT=uws but uWebSockets.js cannot load here/);
  });
});
