/**
 * `npm run loadtest` as its users meet it: a child process with a command line, an exit code and
 * a summary. Usage and bad flags answer at once; a dead endpoint fails with its name instead of
 * retrying forever; refusals are counted by code and held to a threshold; every run has its users.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Room } from "@colyseus/sdk";
import { freePort } from "../../deploy/services.ts";
import { waitFor } from "../../deploy/wait-for.ts";
import type { Summary } from "../../loadtest/summary.ts";
import { sdkClient, startNode, unique, type NodeProcess } from "../support/node-process.ts";

const ROOT = join(import.meta.dirname, "..", "..");

type Run = { code: number | null; stdout: string; stderr: string };

/** Run `node loadtest/loadtest.ts <args>` to its end; killed (and failed) if it outlives `limitMs`. */
function loadtest(args: string[], limitMs = 25_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, "loadtest", "loadtest.ts"), ...args], { cwd: ROOT, env: { PATH: process.env.PATH }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const limit = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`loadtest ${args.join(" ")} still ran after ${limitMs} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, limitMs);
    child.once("exit", (code) => {
      clearTimeout(limit);
      resolve({ code, stdout, stderr });
    });
  });
}

const lines = (text: string) => text.split("\n").filter((line) => line.trim() !== "");
const readSummary = (file: string) => JSON.parse(readFileSync(file, "utf8")) as Summary;

describe("npm run loadtest: its command line", function () {
  this.timeout(30_000);

  it("prints usage naming every flag and exits 0 on --help", async () => {
    const { code, stdout, stderr } = await loadtest(["--help"]);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /^usage: npm run loadtest -- \[options\]/);
    for (const flag of [
      "--endpoint",
      "--clients",
      "--rooms",
      "--rate",
      "--duration",
      "--bytes",
      "--ack-timeout",
      "--client",
      "--mix",
      "--ramp",
      "--max-refused-pct",
      "--max-lost-pct",
      "--jwt-secret",
      "--token-file",
      "--conversation-prefix",
      "--json",
    ]) {
      assert.ok(stdout.includes(`  ${flag} `), `usage names ${flag}`);
    }
  });

  it("refuses --rooms 0 with one line naming --rooms, exit 2 and no stack trace", async () => {
    const { code, stdout, stderr } = await loadtest(["--rooms", "0"]);
    assert.equal(code, 2);
    assert.equal(stdout, "");
    assert.equal(lines(stderr).length, 1, stderr);
    assert.match(stderr, /--rooms/);
    assert.doesNotMatch(stderr, /^\s+at /m);
  });

  it("fails with one line naming an endpoint where nothing listens, instead of retrying forever", async () => {
    const endpoint = `http://127.0.0.1:${await freePort()}`;
    const { code, stdout, stderr } = await loadtest(["--endpoint", endpoint, "--clients", "2", "--rooms", "1", "--duration", "1"]);
    assert.notEqual(code, 0);
    assert.equal(stdout, "");
    assert.equal(lines(stderr).length, 1, stderr);
    assert.ok(stderr.includes(endpoint), stderr);
  });
});

describe("npm run loadtest against a node", function () {
  this.timeout(60_000);
  let folder: string;
  before(() => {
    folder = mkdtempSync(join(tmpdir(), "loadtest-cli-"));
  });
  after(() => rmSync(folder, { recursive: true, force: true }));

  describe("that rate-limits sends", () => {
    let node: NodeProcess;
    before(async () => {
      node = await startNode({ SEND_RATE_PER_SEC: "1", SEND_BURST: "0" });
    });
    after(async () => node?.stop());

    it("counts RATE_LIMITED in the --json summary and exits 1 naming --max-refused-pct", async () => {
      const file = join(folder, "rate-limited.json");
      const { code, stdout, stderr } = await loadtest(["--endpoint", node.httpUrl, "--clients", "2", "--rooms", "1", "--rate", "10", "--duration", "1", "--drain", "1", "--json", file]);
      assert.equal(code, 1, `${stdout}\n${stderr}`);
      const summary = readSummary(file);
      assert.ok((summary.messages.refusedByCode.RATE_LIMITED ?? 0) > 0, JSON.stringify(summary.messages));
      assert.ok(summary.refusedPct > summary.thresholds.maxRefusedPct);
      assert.ok(summary.thresholds.exceeded.some((breach) => breach.startsWith("--max-refused-pct")));
      assert.match(stdout, /summary/, "the summary is printed before the exit");
      assert.match(stderr, /threshold exceeded: --max-refused-pct/);
    });
  });

  describe("with room for the load", () => {
    let node: NodeProcess;
    const observers: Room[] = [];
    before(async () => {
      node = await startNode({ SEND_RATE_PER_SEC: "1000", SEND_BURST: "1000" });
    });
    after(async () => {
      await Promise.all(observers.map((room) => room.leave().catch(() => undefined)));
      await node?.stop();
    });

    it("gives every run its own user ids, so one run's rate limits never meet the next", async () => {
      const prefix = unique("ids");
      const observer = await sdkClient(node).joinOrCreate("chat", { conversationId: `channel:${prefix}0`, userId: unique("observer") });
      observers.push(observer);
      const senders = new Set<string>();
      observer.onMessage("message", (message: { senderId: string }) => senders.add(message.senderId));
      for (const type of ["typing", "read", "migrate", "error", "welcome", "deleted", "removed"]) observer.onMessage(type, () => undefined);

      const runs: Array<{ summary: Summary; users: Set<string> }> = [];
      for (const name of ["first", "second"]) {
        const file = join(folder, `${name}.json`);
        const { code, stdout, stderr } = await loadtest([
          "--endpoint",
          node.httpUrl,
          "--clients",
          "2",
          "--rooms",
          "1",
          "--rate",
          "4",
          "--duration",
          "1",
          "--conversation-prefix",
          prefix,
          "--json",
          file,
        ]);
        assert.equal(code, 0, `${stdout}\n${stderr}`);
        const summary = readSummary(file);
        await waitFor(() => [...senders].some((sender) => sender.startsWith(summary.userIdPrefix!)), { what: `messages of the ${name} run` });
        runs.push({ summary, users: new Set([...senders].filter((sender) => sender.startsWith(summary.userIdPrefix!))) });
      }
      const [first, second] = runs as [(typeof runs)[0], (typeof runs)[0]];
      assert.notEqual(first.summary.runId, second.summary.runId);
      assert.ok(first.users.size > 0 && second.users.size > 0);
      assert.deepEqual(
        [...first.users].filter((user) => second.users.has(user)),
        [],
        "no user id is in both runs",
      );
      assert.equal(senders.size, first.users.size + second.users.size, "every sender belongs to one of the runs");
    });
  });
});
