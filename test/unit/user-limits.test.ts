import assert from "node:assert/strict";
import { createUserLimits, type UserLimitName } from "../../rooms/plugins/user-limits.ts";

function limits(overrides: Partial<Parameters<typeof createUserLimits>[0]> = {}) {
  const refused: Array<[UserLimitName, string]> = [];
  const made = createUserLimits({ maxConnections: 3, maxConversations: 2, reservationsPerMinute: 2, roomsPerMinute: 1, onRefused: (limit, userId) => refused.push([limit, userId]), ...overrides });
  return { limits: made, refused };
}

describe("per-user limits", function () {
  it("admits seats up to the connections bound, refuses the next, and admits again after a release", function () {
    const { limits: user, refused } = limits({ maxConversations: 10 });
    for (let i = 0; i < 3; i++) assert.equal(user.admitSeat("u", "channel:a"), undefined);
    assert.equal(user.admitSeat("u", "channel:a")?.code, "LIMIT_EXCEEDED");
    assert.deepEqual(refused, [["connections", "u"]]);
    user.releaseSeat("u", "channel:a");
    assert.equal(user.admitSeat("u", "channel:a"), undefined);
  });

  it("counts distinct conversations, so another connection to one already joined is admitted", function () {
    const { limits: user, refused } = limits();
    assert.equal(user.admitSeat("u", "channel:a"), undefined);
    assert.equal(user.admitSeat("u", "channel:b"), undefined);
    assert.equal(user.admitSeat("u", "channel:c")?.code, "LIMIT_EXCEEDED");
    assert.equal(user.admitSeat("u", "channel:b"), undefined);
    assert.deepEqual(refused, [["conversations", "u"]]);
  });

  it("keeps users apart and forgets a user once their last seat is released", function () {
    const { limits: user } = limits();
    user.admitSeat("u", "channel:a");
    user.admitSeat("v", "channel:a");
    assert.equal(user.usersSeated, 2);
    user.releaseSeat("u", "channel:a");
    user.releaseSeat("u", "channel:a"); // a second release of the same seat changes nothing
    assert.equal(user.usersSeated, 1);
    user.releaseSeat("v", "channel:a");
    assert.equal(user.usersSeated, 0);
  });

  it("rate-limits reservations and room creations per user with a retry time", async function () {
    const { limits: user, refused } = limits();
    assert.equal(await user.takeReservation("u"), undefined);
    assert.equal(await user.takeReservation("u"), undefined);
    const third = await user.takeReservation("u");
    assert.equal(third?.code, "RATE_LIMITED");
    assert.ok((third?.retryAfterMs ?? 0) > 0);
    assert.equal(await user.takeReservation("v"), undefined, "another user is not limited");
    assert.equal(await user.takeRoomCreation("u"), undefined);
    assert.equal((await user.takeRoomCreation("u"))?.code, "RATE_LIMITED");
    assert.deepEqual(refused, [
      ["reservations", "u"],
      ["rooms", "u"],
    ]);
  });
});
