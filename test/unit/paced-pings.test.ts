/**
 * Keep-alive pings spread over their interval (server/paced-pings.ts): every client is pinged once
 * per interval, a tenth of them per tick, and a client that left `maxRetries` pings unanswered is
 * terminated at its turn, as Colyseus's own sweep does it all at once.
 */
import assert from "node:assert/strict";
import { pacedPinger, type PingedClient } from "../../server/paced-pings.ts";

function clients(count: number) {
  return Array.from({ length: count }, () => {
    const client = { pingCount: 0, pings: 0, terminated: false, ping: () => void client.pings++, terminate: () => void (client.terminated = true) };
    return client satisfies PingedClient;
  });
}

describe("paced keep-alive pings", function () {
  it("pings every client once per interval, at most a slice's share per tick", function () {
    const all = clients(1000);
    const pinger = pacedPinger(all, 3, 10);
    const perTick = Array.from({ length: 10 }, () => pinger.tick());
    assert.deepEqual(perTick, Array(10).fill(100), "a tenth of the clients each tick");
    assert.ok(
      all.every((client) => client.pings === 1),
      "each client once in the interval",
    );
    // A client that answered (its pong resets pingCount) keeps being pinged, once per interval.
    for (const client of all) client.pingCount = 0;
    for (let i = 0; i < 10; i++) pinger.tick();
    assert.ok(all.every((client) => client.pings === 2 && !client.terminated));
  });

  it("terminates a client at its turn once it left maxRetries pings unanswered, and pings the new ones", function () {
    const all = clients(20);
    const pinger = pacedPinger(all, 2, 10);
    // Nobody answers: two intervals of pings, then each is terminated at its turn in the third.
    for (let i = 0; i < 20; i++) pinger.tick();
    assert.ok(all.every((client) => client.pings === 2 && !client.terminated));
    for (let i = 0; i < 5; i++) pinger.tick();
    assert.equal(all.filter((client) => client.terminated).length, 10, "half the slices' turns came: half terminated");
    const late = clients(5);
    all.push(...late);
    for (let i = 0; i < 10; i++) pinger.tick();
    assert.equal(all.filter((client) => client.terminated).length, 20, "every silent client went at its turn");
    assert.ok(
      late.every((client) => client.pings === 1),
      "a client that arrived later is pinged too",
    );
  });
});
