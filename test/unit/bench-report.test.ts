/**
 * The benchmark's report (loadtest/report.ts): Parley's CPU per delivery against each other system
 * run by run, paired by the run's number, so one system's failed run does not pair the others'
 * third run with its second.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeResults, type BenchRun } from "../../loadtest/report.ts";
import type { StepResult, SweepOptions } from "../../loadtest/sweep.ts";

const OPTIONS: SweepOptions = {
  conversations: 100,
  membersPerConversation: 10,
  textBytes: 100,
  ratesPerSec: [2000],
  warmupMs: 15_000,
  stepMs: 4000,
  drainMs: 2000,
  p99LimitMs: 100,
  minDeliveredRatio: 0.999,
};

/** A run of one passing step at 2,000 sent/s that cost `cpuUs` of server CPU per delivery. */
function runAt(run: number, cpuUs: number): BenchRun {
  const latency = { p50: 1, p95: 2, p99: 3, max: 4 };
  const step: StepResult = {
    ratePerSec: 2000,
    sentPerSec: 2000,
    deliveriesPerSec: 20_000,
    deliveredRatio: 1,
    delivery: latency,
    ack: latency,
    errors: {},
    serverCpuPct: (cpuUs * 20_000) / 10_000,
    serverCpuUsPerDelivery: cpuUs,
    storeCpuUsPerDelivery: 0,
    loadgenCpuPct: 30,
    otherCpuPct: 0,
    passed: true,
    monotonicUs: [0, 1],
  };
  return { run, steps: [step], serverRssMb: 100, connectMs: 1000 };
}

describe("bench report: ratios run by run", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "parley-bench-report-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("pairs each of Parley's runs with the other system's run of the same number, leaving out a run the other lacks", () => {
    // The machine's level drifts run to run (10, 20, 15 µs); within each run the two cost the same.
    // Stock Colyseus's run 2 failed, so its runs are 1 and 3.
    const { markdown } = writeResults(dir, {
      systems: [
        { name: "colyseus-stock", runs: [runAt(1, 10), runAt(3, 15)], failures: ["run 2: joins failed"] },
        { name: "parley-memory", runs: [runAt(1, 10), runAt(2, 20), runAt(3, 15)] },
      ],
      options: OPTIONS,
      runs: 3,
      cpuSplit: "test",
      storeKind: undefined,
      durationSec: 1,
    });
    const report = JSON.parse(readFileSync(join(dir, "latest.json"), "utf8")) as {
      ratios: Array<{ parley: string; versus: string; cpuPerDeliveryByRun: number[]; cpuPerDeliveryPaired: number; cpuPerDelivery: number }>;
    };
    const versusStock = report.ratios.find((ratio) => ratio.parley === "parley-memory" && ratio.versus === "colyseus-stock");
    assert.deepEqual(versusStock?.cpuPerDeliveryByRun, [1, 1]);
    assert.equal(versusStock?.cpuPerDeliveryPaired, 1);
    // The ratio of the medians (15 over 12.5) carries the drift that pairing cancels.
    assert.equal(versusStock?.cpuPerDelivery, 1.2);
    assert.match(markdown, /\| parley-memory \| colyseus-stock \|.*\| 1× \(1, 1\) \|/);
  });

  it("pairs runs by their place when the results predate run numbers", () => {
    const unnumbered = (cpuUs: number): BenchRun => {
      const { run: _run, ...rest } = runAt(0, cpuUs);
      return rest;
    };
    writeResults(dir, {
      systems: [
        { name: "colyseus-stock", runs: [unnumbered(10), unnumbered(20)] },
        { name: "parley-memory", runs: [unnumbered(12), unnumbered(18)] },
      ],
      options: OPTIONS,
      runs: 2,
      cpuSplit: "test",
      storeKind: undefined,
      durationSec: 1,
    });
    const report = JSON.parse(readFileSync(join(dir, "latest.json"), "utf8")) as { ratios: Array<{ parley: string; versus: string; cpuPerDeliveryByRun: number[] }> };
    assert.deepEqual(report.ratios.find((ratio) => ratio.parley === "parley-memory")?.cpuPerDeliveryByRun, [1.2, 0.9]);
  });
});
