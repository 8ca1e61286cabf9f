/**
 * The soak's short form (issue #14), in every `npm test`: five minutes (SOAK_MINUTES changes it) of
 * the soak's connection and conversation churn on a real 3-node cluster. Nothing lost, duplicated
 * or reordered, and no stale room listing or route in Redis once every room is gone. Memory is
 * reported, not judged (a slope over minutes is GC, not a leak; the one-hour run is the figure).
 *
 * The store is SOAK_MONGO_URL, which `npm test` provisions: mongod or a given MONGO_URL, else
 * FerretDB on the machine's PostgreSQL. FerretDB on SQLite (npm test's store otherwise) slows down
 * as messages pile up and falls behind this churn within minutes, so without another store the
 * test skips and says why.
 */
import assert from "node:assert/strict";
import { formatSoak, runSoak, SOAK_DEFAULTS } from "./soak.ts";

const minutes = Number(process.env.SOAK_MINUTES ?? 5);

describe("soak (short form)", function () {
  this.timeout(minutes * 60_000 + 300_000);

  before(function () {
    if (!process.env.SOAK_MONGO_URL) {
      console.log("      skipped: the soak needs a store that keeps up (mongod, or PostgreSQL for FerretDB: apt-get install postgresql; or set SOAK_MONGO_URL)");
      this.skip();
    }
  });

  it(`${minutes} min of churn on 3 nodes: nothing lost, no stale listing or route in Redis, RSS reported`, async function () {
    const options = { ...SOAK_DEFAULTS, durationMs: minutes * 60_000, mongoUrl: process.env.SOAK_MONGO_URL };
    const result = await runSoak(options);
    console.log(formatSoak(options, result).replace(/^/gm, "      "));
    assert.equal(result.joinFailures, 0, "every session joined");
    assert.ok(result.sessionsRun > options.sessions && result.report.acked > 0, "sessions churned and messages were acknowledged");
    const r = result.report;
    assert.deepEqual({ lost: r.lost, duplicated: r.duplicated, unexpected: r.unexpected, order: r.orderViolations, gaps: r.gaps }, { lost: [], duplicated: [], unexpected: [], order: [], gaps: [] });
    assert.deepEqual({ listings: result.staleListings, routes: result.staleRoutes }, { listings: 0, routes: 0 }, "Redis keeps nothing of rooms that are gone");
  });
});
