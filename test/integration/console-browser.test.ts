/**
 * The ops console (/admin) and the demo chat page (/demo) in a real browser: headless Debian
 * Chromium through playwright-core, against a real two-node cluster (Redis and the MongoDB-wire
 * store that `npm test` provisions). Two players chat through two different nodes; a moderator
 * finds one by user id in the console and mutes them; the player's page shows the refusal in
 * words; the moderator deletes a message and both players see the tombstone. Then two other players
 * keep chatting through a rolling restart of every node, and both pages end with every message once,
 * in order, connected. Every page passes axe-core with no serious or critical violation.
 * Screenshots land in test-results/console-browser/.
 * Skipped, with the reason printed, when Chromium is not installed.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import type { Redis } from "ioredis";
import { startCluster, type Cluster } from "../../deploy/cluster.ts";
import { waitFor } from "../../deploy/wait-for.ts";
import { isolatedRedis } from "../support/cluster-helpers.ts";
import { unique } from "../support/node-process.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ROOT = join(import.meta.dirname, "..", "..");
const SCREENSHOTS = join(ROOT, "test-results", "console-browser");
const AXE = join(ROOT, "node_modules", "axe-core", "axe.min.js");
const PASSWORD = "console-test-password-123";

type AxeViolation = { id: string; impact: string | null; help: string; nodes: Array<{ target: string[] }> };

/** Run axe-core in the page (evaluated over the DevTools protocol, so the page's CSP stays on). */
async function seriousViolations(page: Page): Promise<string[]> {
  await page.evaluate(readFileSync(AXE, "utf8"));
  const violations = (await page.evaluate(() =>
    (globalThis as any).axe.run((globalThis as any).document, { resultTypes: ["violations"] }).then((result: { violations: unknown }) => result.violations),
  )) as AxeViolation[];
  return violations
    .filter((violation) => violation.impact === "serious" || violation.impact === "critical")
    .map((violation) => `${violation.id} (${violation.impact}): ${violation.help} at ${violation.nodes.map((node) => node.target.join(" ")).join(", ")}`);
}

/** A player signs in on the demo page of `nodeUrl` and opens the test's channel. */
async function signIn(context: BrowserContext, nodeUrl: string, userId: string, name: string, channel: string): Promise<Page> {
  const page = await context.newPage();
  const response = await page.goto(`${nodeUrl}/demo/`);
  assert.match(response!.headers()["content-security-policy"] ?? "", /default-src 'self'/, "the demo page carries a strict CSP");
  await page.getByLabel("User id").fill(userId);
  await page.getByLabel("Display name").fill(name);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator('[data-state="connected"]').waitFor();
  await page.getByLabel("Join a channel").fill(channel);
  await page.locator("form:has(input[name=channel]) button").click();
  await page.getByRole("heading", { name: `#${channel}` }).waitFor();
  await page.getByLabel("Message", { exact: true }).waitFor();
  return page;
}

async function say(page: Page, text: string): Promise<void> {
  await page.getByLabel("Message", { exact: true }).fill(text);
  await page.getByLabel("Message", { exact: true }).press("Enter");
}

/** The texts a player's page shows, in order (tombstones as the page words them). */
function shownTexts(page: Page): Promise<string[]> {
  return page.locator(".messages li[data-seq] .text").allTextContents();
}

/** The seqs of the messages a player's page shows, in the order shown. */
async function shownSeqs(page: Page): Promise<number[]> {
  return (await page.locator(".messages li[data-seq]").evaluateAll((items) => items.map((item) => item.getAttribute("data-seq")))).map(Number);
}

/** Note every connection state the page shows from now on (a MutationObserver, added over the DevTools protocol). */
async function recordConnectionStates(page: Page): Promise<void> {
  await page.evaluate(() => {
    const document = (globalThis as any).document;
    const seen: string[] = [document.querySelector("[data-state]")?.getAttribute("data-state")];
    (globalThis as any).seenConnectionStates = seen;
    new (globalThis as any).MutationObserver((changes: Array<{ target: { getAttribute(name: string): string } }>) => {
      for (const change of changes) seen.push(change.target.getAttribute("data-state"));
    }).observe(document.body, { subtree: true, attributes: true, attributeFilter: ["data-state"] });
  });
}

function seenConnectionStates(page: Page): Promise<string[]> {
  return page.evaluate(() => [...new Set((globalThis as any).seenConnectionStates as string[])]);
}

describe("ops console and demo chat in a browser", function () {
  this.timeout(120_000);
  let cluster: Cluster;
  let redis: Redis;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const newContext = async (options?: Parameters<Browser["newContext"]>[0]) => {
    const context = await browser.newContext(options);
    contexts.push(context);
    return context;
  };

  before(async function () {
    if (!existsSync(CHROMIUM)) {
      console.log(`      skipped: no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`);
      return this.skip();
    }
    mkdirSync(SCREENSHOTS, { recursive: true });
    const isolated = await isolatedRedis();
    redis = isolated.redis;
    cluster = await startCluster({ nodes: 2, redisUrl: isolated.url, mongoUrl: process.env.MONGO_URL, env: { MONITOR_PASSWORD: PASSWORD, ROOM_LEASE_MS: "2000" } });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
  });

  // Each test's pages are closed after it, so they do not reconnect through a later test's restarts.
  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((context) => context.close()));
  });

  after(async function () {
    await browser?.close();
    await cluster?.stop();
    redis?.disconnect();
  });

  it("lets a moderator find a player, mute them and delete a message, and both players' pages show it", async function () {
    const [nodeA, nodeB] = cluster.nodes as [Cluster["nodes"][number], Cluster["nodes"][number]];
    const channel = unique("play");
    const conversationId = `channel:${channel}`;
    // Fresh user ids: moderation state lives in the store, which outlives a run when MONGO_URL is given.
    const [annId, benId] = [unique("ann"), unique("ben")];
    const ann = await signIn(await newContext(), nodeA.httpUrl, annId, "Ann", channel);
    const ben = await signIn(await newContext(), nodeB.httpUrl, benId, "Ben", channel);

    // Two players, two nodes: each sees the other's messages.
    await say(ann, "hello from ann");
    await ben.locator(".messages .text", { hasText: "hello from ann" }).waitFor();
    await say(ben, "hi ann, ben here");
    await ann.locator(".messages .text", { hasText: "hi ann, ben here" }).waitFor();
    await say(ann, "a message to delete");
    await ben.locator(".messages .text", { hasText: "a message to delete" }).waitFor();
    assert.deepEqual(await ben.evaluate(() => (globalThis as any).document.querySelector("[data-state]")?.textContent), "Connected");

    // The moderator signs in with the monitor's credentials and sees both nodes live.
    const moderatorContext = await newContext({ httpCredentials: { username: "admin", password: PASSWORD } });
    const panel = await moderatorContext.newPage();
    const consoleResponse = await panel.goto(`${nodeA.httpUrl}/admin/`);
    assert.match(consoleResponse!.headers()["content-security-policy"] ?? "", /default-src 'self'/, "the console carries a strict CSP");
    await panel.waitForFunction((count) => (globalThis as any).document.querySelectorAll("tr[data-node]").length === count, cluster.nodes.length);
    await panel.getByRole("link", { name: "Room monitor" }).waitFor();
    await panel.screenshot({ path: join(SCREENSHOTS, "console-cluster.png"), fullPage: true });
    assert.deepEqual(await seriousViolations(panel), [], "the console's cluster view has no serious accessibility violation");

    // Finds Ben by user id: his chat session is listed, then mutes him everywhere.
    await panel.getByRole("link", { name: "Conversations" }).click();
    await panel.getByLabel("Conversation id or user id").fill(benId);
    await panel.getByLabel("Conversation id or user id").press("Enter");
    await panel.getByRole("heading", { name: `User ${benId}` }).waitFor();
    await panel.locator("tr[data-session]", { hasText: conversationId }).waitFor();
    await panel.getByLabel("Action").selectOption("mute");
    await panel.getByLabel("Reason").fill("spamming the channel");
    await panel.getByRole("button", { name: "Apply" }).click();
    await panel
      .getByRole("status")
      .filter({ hasText: `mute applied to ${benId}` })
      .waitFor();
    await panel.locator(".sanctions li", { hasText: "mute everywhere" }).waitFor();
    await panel.locator("tbody tr", { hasText: "spamming the channel" }).waitFor();
    assert.deepEqual(await seriousViolations(panel), [], "the console's user view has no serious accessibility violation");

    // Ben's next message is refused, and his page says why, in words.
    await say(ben, "am I muted?");
    const refusal = ben.locator(".refusal");
    await refusal.waitFor();
    assert.match((await refusal.textContent()) ?? "", /muted you/);
    assert.deepEqual((await shownTexts(ann)).includes("am I muted?"), false, "Ann never sees the refused message");

    // The moderator opens the conversation, sees its members and messages, and deletes one.
    await panel.goto(`${nodeA.httpUrl}/admin/#/conversation/${encodeURIComponent(conversationId)}`);
    await panel.locator("tbody tr", { hasText: "Ann" }).waitFor();
    await panel.locator("tbody tr", { hasText: "Ben" }).waitFor();
    const doomed = panel.locator(".messages li", { hasText: "a message to delete" });
    const seq = await doomed.getAttribute("data-seq");
    await panel.getByRole("button", { name: `Delete message ${seq} from ${annId}` }).click();
    await panel
      .getByRole("status")
      .filter({ hasText: `Message ${seq} deleted.` })
      .waitFor();
    await panel.screenshot({ path: join(SCREENSHOTS, "console-conversation.png"), fullPage: true });
    assert.deepEqual(await seriousViolations(panel), [], "the console's conversation view has no serious accessibility violation");

    for (const player of [ann, ben]) {
      await player.locator(`.messages li[data-seq="${seq}"].tombstone`).waitFor();
      assert.deepEqual(await shownTexts(player), ["hello from ann", "hi ann, ben here", "This message was deleted."], "every message once, in order, the deleted one as a tombstone");
    }
    await ann.screenshot({ path: join(SCREENSHOTS, "demo-ann.png") });
    await ben.screenshot({ path: join(SCREENSHOTS, "demo-ben.png") });
    assert.deepEqual(await seriousViolations(ann), [], "the demo page has no serious accessibility violation");
    assert.deepEqual(await seriousViolations(ben), [], "the demo page, with a refusal shown, has no serious accessibility violation");

    // The page and API refuse anyone without the credentials.
    const anonymous = await fetch(`${nodeA.httpUrl}/admin/api/cluster`);
    assert.equal(anonymous.status, 401);
    assert.equal(((await anonymous.json()) as { error: { code: string } }).error.code, "UNAUTHENTICATED");
  });

  it("keeps two players chatting through a rolling restart: both pages show every message once, in order, and are connected again", async function () {
    this.timeout(300_000);
    // Generous bounds for a send held through a drain and a rejoin: they only bound a failure.
    const bound = { timeout: 60_000 };
    const channel = unique("rolling");
    const [annId, benId] = [unique("ann"), unique("ben")];
    // A page keeps chatting while its own node is down only if it was given the other one: wait until
    // every node lists every node (the stats hash fills within a tick of a node's start).
    for (const node of cluster.nodes) {
      await waitFor(async () => ((await (await fetch(`${node.httpUrl}/demo/api/config`)).json()) as { endpoints: string[] }).endpoints.length === cluster.nodes.length, {
        timeoutMs: 20_000,
        what: `${node.name}'s demo config to list every node`,
      });
    }
    const [nodeA, nodeB] = cluster.nodes as [Cluster["nodes"][number], Cluster["nodes"][number]];
    const ann = await signIn(await newContext(), nodeA.httpUrl, annId, "Ann", channel);
    const ben = await signIn(await newContext(), nodeB.httpUrl, benId, "Ben", channel);
    for (const player of [ann, ben]) await recordConnectionStates(player);

    const sent: string[] = [];
    /** `from` sends `count` numbered messages back to back, then waits until its own page shows each acknowledged (with its seq). */
    const chat = async (from: Page, who: string, phase: string, count = 1) => {
      const texts: string[] = [];
      for (let index = 0; index < count; index++) {
        const text = `#${String(sent.length + 1).padStart(2, "0")} ${phase} (${who})`;
        sent.push(text);
        texts.push(text);
        await say(from, text);
      }
      for (const text of texts) await from.locator(".messages li[data-seq] .text", { hasText: text }).waitFor(bound);
    };

    for (const original of [...cluster.nodes]) {
      const name = original.name;
      await chat(ann, "ann", `before ${name} restarts`);
      await chat(ben, "ben", `before ${name} restarts`);
      original.signal("SIGTERM");
      // Sent while the node drains: held by the kit's outbox through the move, each acknowledged once.
      await chat(ann, "ann", `while ${name} drains`, 2);
      await chat(ben, "ben", `while ${name} drains`);
      assert.equal(await original.exited, 0, `${name} drained and exited cleanly`);
      await chat(ben, "ben", `while ${name} is down`, 2);
      await chat(ann, "ann", `while ${name} is down`);
      // Back on the same port and address: the pages' endpoint lists and CSP still name it.
      await cluster.restart(original);
      await chat(ann, "ann", `after ${name} restarted`);
      await chat(ben, "ben", `after ${name} restarted`);
      for (const player of [ann, ben]) await player.locator('[data-state="connected"]').waitFor(bound);
    }

    for (const [who, player] of [
      ["ann", ann],
      ["ben", ben],
    ] as const) {
      await player.waitForFunction((count) => (globalThis as any).document.querySelectorAll(".messages li[data-seq]").length >= count, sent.length, bound);
      assert.deepEqual(await shownTexts(player), sent, `${who}'s page shows every message once, in the order sent`);
      assert.deepEqual(
        await shownSeqs(player),
        sent.map((_, index) => index + 1),
        `${who}'s page shows seqs 1..${sent.length}: none stored twice, none missing`,
      );
      assert.equal(await player.locator(".messages li.pending, .messages li.refused").count(), 0, `${who}'s page has no send left pending or refused`);
      await player.locator('[data-state="connected"]').waitFor(bound);
      assert.equal(await player.locator("[data-state]").textContent(), "Connected");
      const states = await seenConnectionStates(player);
      assert.ok(
        states.some((state) => state === "reconnecting" || state === "moved"),
        `${who}'s page told the player about the restart (states shown: ${states.join(", ")})`,
      );
      await player.screenshot({ path: join(SCREENSHOTS, `demo-${who}-after-rolling-restart.png`) });
    }
  });
});
