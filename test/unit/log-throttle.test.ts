import assert from "node:assert/strict";
import { throttleLog } from "../../rooms/plugins/log-throttle.ts";

describe("throttled logging", function () {
  it("writes at most perWindow lines of a kind per window, then says how many it left out", function () {
    const lines: Array<[Record<string, unknown>, string]> = [];
    let now = 1_000_000;
    const realNow = Date.now;
    Date.now = () => now;
    try {
      const log = throttleLog((context, message) => lines.push([context, message]), { windowMs: 1000, perWindow: 2 });
      for (let i = 0; i < 5; i++) log("flood", { i }, "event");
      log("other", {}, "another kind has its own budget");
      assert.equal(lines.length, 3);
      now += 1000;
      log("flood", { i: 5 }, "event");
      assert.deepEqual(lines[3], [{ event: "flood", suppressed: 3, windowMs: 1000 }, "more events of this kind were not logged"]);
      assert.deepEqual(lines[4], [{ event: "flood", i: 5 }, "event"]);
    } finally {
      Date.now = realNow;
    }
  });
});
