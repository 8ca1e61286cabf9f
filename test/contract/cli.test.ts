/**
 * Every command-line tool behaves: `--help` prints usage and exits 0; an unknown flag or a bad value
 * prints one line naming it and exits 2, without a stack trace. Each tool is run as a process, the
 * way `npm run <tool> -- ...` runs it.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";

const ROOT = join(import.meta.dirname, "..", "..");

const TOOLS = [
  { script: "cluster", file: "deploy/cluster.ts", badValue: ["--nodes", "0"], names: "--nodes" },
  { script: "loadtest", file: "loadtest/loadtest.ts", badValue: ["--rooms", "0"], names: "--rooms" },
  { script: "bench", file: "loadtest/bench.ts", badValue: ["--runs", "0"], names: "--runs" },
  { script: "bench:durable", file: "loadtest/bench-durable.ts", badValue: ["--seconds", "soon"], names: "--seconds" },
  { script: "bench:cluster", file: "loadtest/bench-cluster.ts", badValue: ["--levels", "100,lots"], names: "--levels" },
  { script: "bench:drain", file: "loadtest/bench-drain.ts", badValue: ["--env", "HANDOFF_CONCURRENCY"], names: "--env" },
  { script: "bench:stall", file: "loadtest/bench-stall.ts", badValue: ["--clients", "0"], names: "--clients" },
  { script: "bench:scale", file: "loadtest/bench-scale.ts", badValue: ["--kind", "dm"], names: "--kind" },
  { script: "bench:memory", file: "loadtest/bench-memory.ts", badValue: ["--runs", "0"], names: "--runs" },
  { script: "bench:abuse", file: "loadtest/bench-abuse.ts", badValue: ["--rate", "-5"], names: "--rate" },
  { script: "chaos", file: "test/chaos/run.ts", badValue: ["--scenario", "z"], names: "--scenario" },
  { script: "bench:moderation", file: "loadtest/bench-moderation.ts", badValue: ["--rounds", "0"], names: "--rounds" },
  { script: "bench:filter", file: "loadtest/bench-filter.ts", badValue: ["--passes", "none"], names: "--passes" },
  { script: "bench:store", file: "loadtest/bench-store.ts", badValue: ["--batches", "20,many"], names: "--batches" },
  { script: "bench:tracing", file: "loadtest/bench-tracing.ts", badValue: ["--ratios", "0.01,2"], names: "--ratios" },
  { script: "soak", file: "test/soak/run.ts", badValue: ["--duration", "forever"], names: "--duration" },
  { script: "backup", file: "deploy/backup.ts", badValue: ["nonsense"], names: "nonsense" },
] as const;

function run(file: string, args: string[]) {
  const result = spawnSync(process.execPath, [join(ROOT, file), ...args], { cwd: ROOT, encoding: "utf8", timeout: 20_000, env: { PATH: process.env.PATH } });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe("command-line tools", function () {
  this.timeout(60_000);

  for (const tool of TOOLS) {
    describe(`npm run ${tool.script}`, function () {
      it("prints its usage on --help and exits 0", function () {
        const { code, stdout } = run(tool.file, ["--help"]);
        assert.equal(code, 0);
        assert.match(stdout, new RegExp(`^usage: npm run ${tool.script} -- \\[options\\]`));
        assert.match(stdout, /--help, -h/);
      });

      it("names an unknown flag in one line and exits 2, without a stack trace", function () {
        const { code, stderr } = run(tool.file, ["--no-such-flag"]);
        assert.equal(code, 2);
        assert.equal(stderr.trim().split("\n").length, 1, stderr);
        assert.match(stderr, /--no-such-flag/);
        assert.doesNotMatch(stderr, /\n\s+at /);
      });

      it(`names a bad value (${tool.badValue.join(" ")}) in one line and exits 2`, function () {
        const { code, stderr } = run(tool.file, [...tool.badValue]);
        assert.equal(code, 2);
        assert.equal(stderr.trim().split("\n").length, 1, stderr);
        assert.ok(stderr.includes(tool.names), stderr);
      });
    });
  }
});
