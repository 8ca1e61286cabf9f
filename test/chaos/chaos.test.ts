/**
 * Short chaos scenarios in CI (a rolling restart, a killed node, connections cut mid-stream): a
 * real 3-node cluster, clients on the client kit, and the checker. The full scenarios run on demand
 * with `npm run chaos`. Latency is reported, never asserted.
 */
import assert from "node:assert/strict";
import { formatReport } from "./checker.ts";
import { runScenario, SCENARIOS, SHORT, type ScenarioName } from "./harness.ts";

describe("chaos (short)", function () {
  this.timeout(240_000);

  for (const scenario of ["a", "b", "f", "g"] as ScenarioName[]) {
    it(`${scenario}. ${SCENARIOS[scenario]}: nothing lost, duplicated or reordered, every client back and gap-free`, async function () {
      const result = await runScenario(scenario, SHORT);
      const table = formatReport(`scenario ${scenario}`, result.report);
      console.log(table.replace(/^/gm, "      "));
      assert.ok(result.report.invoked > 0 && result.report.acked > 0, "the scenario sent and acknowledged messages");
      assert.deepEqual(
        {
          lost: result.report.lost,
          duplicated: result.report.duplicated,
          unexpected: result.report.unexpected,
          order: result.report.orderViolations,
          gaps: result.report.gaps,
          behind: result.report.notCaughtUp,
        },
        { lost: [], duplicated: [], unexpected: [], order: [], gaps: [], behind: [] },
        `logs in ${result.logDir}`,
      );
      assert.equal(result.clientsBack, result.clients, "every client is back and caught up");
      if (scenario === "g" || scenario === "b") {
        // Joinable again is asserted (each probe joined); how soon is reported, never asserted.
        assert.equal(result.recovery?.joinableMs.length, result.recovery?.conversations, "every conversation took a new user's join after the fault");
        assert.equal(result.recovery?.chatRoomsAfter30s, result.recovery?.conversations, "30 s after the fault, one room per conversation: no duplicate");
      }
    });
  }
});
