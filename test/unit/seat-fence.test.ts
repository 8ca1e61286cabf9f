import assert from "node:assert/strict";
import { Room } from "@colyseus/core";
import { fenceSeats } from "../../rooms/plugins/seat-fence.ts";

describe("seat fence", function () {
  it("reserves a seat only when its authorisation is for this room, and reports each refusal", async function () {
    class Conversation extends Room {
      conversationId = "dm:a:b";
    }
    const reserved: string[] = [];
    const proto = Conversation.prototype as unknown as { _reserveSeat: (sessionId: string, options: unknown, auth: unknown) => Promise<boolean> };
    // Stand in for Colyseus's own reservation, which the fence wraps.
    proto._reserveSeat = async (sessionId) => {
      reserved.push(sessionId);
      return true;
    };
    const refused: unknown[] = [];
    fenceSeats(
      Conversation,
      (room, auth) => (auth as { conversationId?: string } | undefined)?.conversationId === room.conversationId,
      (_room, auth) => refused.push(auth),
    );

    const room = new Conversation() as unknown as typeof proto;
    assert.equal(await room._reserveSeat("s1", {}, { conversationId: "dm:a:b" }), true);
    assert.equal(await room._reserveSeat("s2", {}, { conversationId: "channel:lobby" }), false);
    assert.equal(await room._reserveSeat("s3", {}, undefined), false, "a seat with no authorisation at all");
    assert.deepEqual(reserved, ["s1"]);
    assert.deepEqual(refused, [{ conversationId: "channel:lobby" }, undefined]);
  });
});
