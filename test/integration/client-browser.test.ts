/**
 * The client kit in a real browser: client/ bundled with esbuild, loaded in headless Debian
 * Chromium through playwright-core, against a real two-node cluster. Skipped, with the reason
 * printed, when Chromium is not installed.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { build } from "esbuild";
import { chromium, type Browser } from "playwright-core";
import type { Redis } from "ioredis";
import { startCluster, type Cluster } from "../../deploy/cluster.ts";
import { isolatedRedis } from "../support/cluster-helpers.ts";
import { unique } from "../support/node-process.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

type PageReport = { received: number[]; acked: number[]; states: string[]; rejoins: number };

describe("client kit in a browser", function () {
  this.timeout(90_000);
  let cluster: Cluster;
  let redis: Redis;
  let browser: Browser;
  let page: Server;
  let pageUrl = "";

  before(async function () {
    if (!existsSync(CHROMIUM)) {
      console.log(`      skipped: no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`);
      return this.skip();
    }
    const bundle = await build({ entryPoints: ["client/index.ts"], bundle: true, format: "iife", globalName: "Parley", platform: "browser", write: false, logLevel: "silent" });
    const script = bundle.outputFiles[0]!.text;
    page = createServer((req, res) => {
      if (req.url === "/parley.js") return void res.writeHead(200, { "content-type": "text/javascript" }).end(script);
      res.writeHead(200, { "content-type": "text/html" }).end('<!doctype html><script src="/parley.js"></script>');
    });
    await new Promise<void>((resolve) => page.listen(0, "127.0.0.1", resolve));
    pageUrl = `http://127.0.0.1:${(page.address() as AddressInfo).port}/`;

    const isolated = await isolatedRedis();
    redis = isolated.redis;
    cluster = await startCluster({ nodes: 2, redisUrl: isolated.url, mongoUrl: process.env.MONGO_URL, env: { ROOM_LEASE_MS: "2000" } });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
  });

  after(async function () {
    await browser?.close();
    await cluster?.stop();
    redis?.disconnect();
    page?.close();
  });

  it("sends, receives in order and rejoins another node after migrate, with nothing lost or duplicated", async function () {
    const tab = await browser.newPage();
    await tab.goto(pageUrl);
    const endpoints = cluster.nodes.map((node) => node.httpUrl);
    const conversationId = `channel:${unique("browser")}`;

    // Ann and Ben, in the page, on the kit; Ben records what the kit releases to the app.
    await tab.evaluate(
      async ({ endpoints, conversationId }) => {
        const { ParleyClient } = (globalThis as any).Parley;
        const report = { received: [] as number[], acked: [] as number[], states: [] as string[], rejoins: 0 };
        const ann = new ParleyClient({ endpoints, identity: { userId: "ann" } });
        const ben = new ParleyClient({ endpoints: [...endpoints].reverse(), identity: { userId: "ben" } });
        ben.on("message", (message: { seq: number }) => report.received.push(message.seq));
        ben.on("state", (state: string) => report.states.push(state));
        ben.on("rejoined", () => report.rejoins++);
        const fromAnn = await ann.join(conversationId);
        await ben.join(conversationId);
        (globalThis as any).test = { report, fromAnn };
        for (let index = 0; index < 3; index++) report.acked.push((await fromAnn.send(`before ${index}`)).seq);
      },
      { endpoints, conversationId },
    );
    const hostOfRoom = async () => {
      // The route names "<roomId> <processId> <lease epoch>".
      const roomId = (await redis.get(`parley:route:chat:${conversationId}`))?.split(" ")[0];
      const listing = JSON.parse((await redis.hget("roomcaches", roomId!))!) as { publicAddress: string };
      return cluster.nodes.find((node) => node.publicAddress === listing.publicAddress)!;
    };
    const host = await hostOfRoom();
    host.signal("SIGTERM");
    assert.equal(await host.exited, 0);

    const report = (await tab.evaluate(async () => {
      const { report, fromAnn } = (globalThis as any).test;
      for (let index = 0; index < 3; index++) report.acked.push((await fromAnn.send(`after ${index}`)).seq);
      const deadline = Date.now() + 20_000;
      while (report.received.length < report.acked.length && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      return report;
    })) as PageReport;

    assert.deepEqual(report.acked, [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(report.received, [1, 2, 3, 4, 5, 6], "Ben sees every message once, in order, across the move");
    assert.ok(report.rejoins >= 1 && report.states.includes("reconnecting"), `Ben rejoined (states: ${report.states.join(", ")})`);
    await tab.close();
  });
});
