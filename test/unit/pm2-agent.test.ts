/**
 * A node keeps PM2's in-process agent out (server/pm2-agent.ts): Colyseus imports `@pm2/io`
 * when its matchmaker starts, and the agent would add its own exception handlers and wrap every
 * HTTP server of the process.
 */
import assert from "node:assert/strict";
import http from "node:http";
import "../../server/app.ts";
import { keepPm2AgentOut } from "../../server/pm2-agent.ts";

describe("PM2's agent", function () {
  it("does not start in a node's process: no exception handlers of its own, HTTP servers unwrapped", async function () {
    const handlers = [process.listenerCount("uncaughtException"), process.listenerCount("unhandledRejection")];
    // What Colyseus's stats module does when the matchmaker starts.
    const io = (await import("@pm2/io")).default as unknown as Record<string, unknown>;
    assert.equal(typeof io.metric, "function", "Colyseus's one call still works");
    assert.equal(io.init, undefined, "the stand-in, not the agent");
    assert.deepEqual([process.listenerCount("uncaughtException"), process.listenerCount("unhandledRejection")], handlers);
    assert.equal((http.Server.prototype.emit as { __wrapped?: boolean }).__wrapped, undefined);
  });

  it("is left alone under PM2", function () {
    assert.equal(keepPm2AgentOut({ pm_id: "0" }), false);
  });
});
