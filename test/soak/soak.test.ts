/**
 * The soak's CI form (issue #14): five minutes of connection and conversation churn on a real
 * 3-node cluster (SOAK_MINUTES changes it). Nothing lost, duplicated or reordered, and no stale
 * room listing or route in Redis once every room is gone. Memory is reported, not judged.
 */
import assert from "node:assert/strict";
import { formatSoak, runSoak, SOAK_DEFAULTS } from "./soak.ts";

const minutes = Number(process.env.SOAK_MINUTES ?? 5);

describe("soak (CI form)", function () {
  this.timeout(minutes * 60_000 + 240_000);

  it(`${minutes} min of churn on 3 nodes: nothing lost, no stale listing or route in Redis, RSS reported`, async function () {
    const options = { ...SOAK_DEFAULTS, durationMs: minutes * 60_000 };
    const result = await runSoak(options);
    console.log(formatSoak(options, result).replace(/^/gm, "      "));
    assert.ok(result.sessionsRun > options.sessions && result.report.acked > 0, "sessions churned and messages were acknowledged");
    const r = result.report;
    assert.deepEqual({ lost: r.lost, duplicated: r.duplicated, unexpected: r.unexpected, order: r.orderViolations, gaps: r.gaps }, { lost: [], duplicated: [], unexpected: [], order: [], gaps: [] });
    assert.deepEqual({ listings: result.staleListings, routes: result.staleRoutes }, { listings: 0, routes: 0 }, "Redis keeps nothing of rooms that are gone");
  });
});
