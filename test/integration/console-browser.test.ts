/**
 * The ops console (/admin) and the demo chat page (/demo) in a real browser: headless Debian
 * Chromium through playwright-core, against a real two-node cluster (Redis and the MongoDB-wire
 * store that `npm test` provisions). Two players chat through two different nodes; a moderator
 * finds one by user id in the console and mutes them; the player's page shows the refusal in
 * words; the moderator deletes a message and both players see the tombstone. Every page passes
 * axe-core with no serious or critical violation. Screenshots land in test-results/console-browser/.
 * Skipped, with the reason printed, when Chromium is not installed.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import type { Redis } from "ioredis";
import { startCluster, type Cluster } from "../../deploy/cluster.ts";
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

describe("ops console and demo chat in a browser", function () {
  this.timeout(120_000);
  let cluster: Cluster;
  let redis: Redis;
  let browser: Browser;

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
    const ann = await signIn(await browser.newContext(), nodeA.httpUrl, annId, "Ann", channel);
    const ben = await signIn(await browser.newContext(), nodeB.httpUrl, benId, "Ben", channel);

    // Two players, two nodes: each sees the other's messages.
    await say(ann, "hello from ann");
    await ben.locator(".messages .text", { hasText: "hello from ann" }).waitFor();
    await say(ben, "hi ann, ben here");
    await ann.locator(".messages .text", { hasText: "hi ann, ben here" }).waitFor();
    await say(ann, "a message to delete");
    await ben.locator(".messages .text", { hasText: "a message to delete" }).waitFor();
    assert.deepEqual(await ben.evaluate(() => (globalThis as any).document.querySelector("[data-state]")?.textContent), "Connected");

    // The moderator signs in with the monitor's credentials and sees both nodes live.
    const moderatorContext = await browser.newContext({ httpCredentials: { username: "admin", password: PASSWORD } });
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
    await panel.getByRole("status").filter({ hasText: `mute applied to ${benId}` }).waitFor();
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
});
