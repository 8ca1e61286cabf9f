import assert from "node:assert/strict";
import { dmIdFor, parseConversationId } from "../../rooms/conversation-id.ts";

describe("conversation ids", () => {
  it("accepts channel, group and canonical dm ids", () => {
    assert.deepEqual(parseConversationId("channel:lobby"), { kind: "channel", id: "channel:lobby", name: "lobby" });
    assert.deepEqual(parseConversationId("group:g-1"), { kind: "group", id: "group:g-1", groupId: "g-1" });
    assert.deepEqual(parseConversationId("dm:alice:bob"), { kind: "dm", id: "dm:alice:bob", members: ["alice", "bob"] });
  });

  it("refuses a dm id whose users are out of code-point order or the same", () => {
    assert.ok("invalid" in parseConversationId("dm:bob:alice"));
    assert.ok("invalid" in parseConversationId("dm:alice:alice"));
    assert.ok("invalid" in parseConversationId("dm:B:a") === false, "uppercase sorts before lowercase");
  });

  it("refuses unknown kinds, bad names and non-strings", () => {
    for (const bad of ["room:x", "channel:", "channel:a b", "channel:a:b", `channel:${"x".repeat(65)}`, 42, null, undefined, "dm:a"]) {
      assert.ok("invalid" in parseConversationId(bad), `expected ${String(bad)} to be invalid`);
    }
  });

  it("builds the canonical dm id either way round", () => {
    assert.equal(dmIdFor("zed", "amy"), "dm:amy:zed");
    assert.equal(dmIdFor("amy", "zed"), "dm:amy:zed");
  });
});
