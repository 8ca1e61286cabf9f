import assert from "node:assert/strict";
import { parseChatRequest as parseRequest, type ChatRequestType } from "../../schema/chat.ts";
import { cleanText as normaliseText } from "../../rooms/text.ts";

/** Assert that a payload is refused with a message naming the request type and `field`. */
function assertRefused(type: ChatRequestType, payload: unknown, field: string): void {
  const result = parseRequest(type, payload);
  assert.equal(result.ok, false, `expected ${type} ${JSON.stringify(payload)} to be refused`);
  if (result.ok) return;
  assert.ok(result.message.startsWith(`${type}: `), `"${result.message}" starts with the request type`);
  assert.ok(result.message.includes(field), `"${result.message}" names ${field}`);
}

describe("chat requests", function () {
  describe("send", function () {
    it("accepts a clientMsgId and a text", function () {
      assert.deepEqual(parseRequest("send", { clientMsgId: "a1", text: "hello" }), { ok: true, value: { clientMsgId: "a1", text: "hello" } });
    });

    it("accepts clientMsgIds of 1 to 64 letters, digits and _-.:", function () {
      for (const clientMsgId of ["x", "A-z_0.9:x", "0193f6b2-7c1e-7aa0-9a52-3f1c6d3e8a10", "k".repeat(64)]) {
        assert.ok(parseRequest("send", { clientMsgId, text: "hi" }).ok, `${clientMsgId} is a valid clientMsgId`);
      }
    });

    it("refuses a clientMsgId that is empty, too long or has other characters, naming clientMsgId", function () {
      for (const clientMsgId of ["", "k".repeat(65), "a b", "a/b", "caf\u00e9", "\u{1F600}", "a\nb", 42, null]) {
        assertRefused("send", { clientMsgId, text: "hi" }, "clientMsgId");
      }
    });

    it("refuses a missing clientMsgId or text, naming the field", function () {
      assertRefused("send", { text: "hi" }, "clientMsgId");
      assertRefused("send", { clientMsgId: "a1" }, "text");
      assertRefused("send", undefined, "clientMsgId");
    });

    it("refuses a text that is not a string, naming text", function () {
      for (const text of [42, null, ["hi"], { text: "hi" }]) assertRefused("send", { clientMsgId: "a1", text }, "text");
    });

    it("leaves the length of a long text to the room, which refuses it TOO_LONG rather than INVALID", function () {
      const result = parseRequest("send", { clientMsgId: "a1", text: "x".repeat(100_001) });
      assert.ok(result.ok);
    });

    it("refuses a payload that is not an object", function () {
      for (const payload of ["hello", 42, true, ["a1", "hello"]]) {
        const result = parseRequest("send", payload);
        assert.equal(result.ok, false, `expected ${JSON.stringify(payload)} to be refused`);
        if (!result.ok) assert.ok(result.message.startsWith("send: "));
      }
    });
  });

  describe("history", function () {
    it("accepts no payload, beforeSeq and limit", function () {
      assert.deepEqual(parseRequest("history", undefined), { ok: true, value: {} });
      assert.deepEqual(parseRequest("history", {}), { ok: true, value: {} });
      assert.deepEqual(parseRequest("history", { beforeSeq: 10, limit: 100 }), { ok: true, value: { beforeSeq: 10, limit: 100 } });
      assert.deepEqual(parseRequest("history", { limit: 1 }), { ok: true, value: { limit: 1 } });
    });

    it("refuses a limit outside 1..100 or not whole, naming limit", function () {
      for (const limit of [0, 101, -5, 2.5, "10"]) assertRefused("history", { limit }, "limit");
    });

    it("refuses a beforeSeq below 1, fractional or not a number, naming beforeSeq", function () {
      for (const beforeSeq of [0, -1, 1.5, "5", Number.MAX_SAFE_INTEGER + 2]) assertRefused("history", { beforeSeq }, "beforeSeq");
    });
  });

  describe("sync", function () {
    it("accepts afterSeq 0 and a limit up to 500", function () {
      assert.deepEqual(parseRequest("sync", { afterSeq: 0 }), { ok: true, value: { afterSeq: 0 } });
      assert.deepEqual(parseRequest("sync", { afterSeq: 41, limit: 500 }), { ok: true, value: { afterSeq: 41, limit: 500 } });
    });

    it("refuses a missing or negative afterSeq, naming afterSeq", function () {
      assertRefused("sync", {}, "afterSeq");
      assertRefused("sync", undefined, "afterSeq");
      assertRefused("sync", { afterSeq: -1 }, "afterSeq");
      assertRefused("sync", { afterSeq: "0" }, "afterSeq");
    });

    it("refuses a limit outside 1..500, naming limit", function () {
      for (const limit of [0, 501, 1.5]) assertRefused("sync", { afterSeq: 0, limit }, "limit");
    });
  });

  describe("read", function () {
    it("accepts a whole, non-negative seq", function () {
      assert.deepEqual(parseRequest("read", { seq: 0 }), { ok: true, value: { seq: 0 } });
      assert.deepEqual(parseRequest("read", { seq: 12 }), { ok: true, value: { seq: 12 } });
    });

    it("refuses a missing, negative, fractional or string seq, naming seq", function () {
      for (const payload of [{}, { seq: -1 }, { seq: 2.5 }, { seq: "3" }, { seq: Number.NaN }, { seq: Number.POSITIVE_INFINITY }]) {
        assertRefused("read", payload, "seq");
      }
    });
  });
});

describe("message text normalisation", function () {
  it("composes to NFC: a decomposed \u00e9 becomes one character", function () {
    const result = normaliseText("cafe\u0301");
    assert.equal(result.text, "caf\u00e9");
    assert.equal(result.length, 4);
  });

  it("trims surrounding whitespace and keeps inner whitespace", function () {
    assert.deepEqual(normaliseText("  \t hello  world \n"), { text: "hello  world", length: 12, invisible: false, bidiRemoved: 0 });
  });

  it("counts an emoji as one character although it takes two UTF-16 units", function () {
    const result = normaliseText("\u{1F600}");
    assert.equal("\u{1F600}".length, 2);
    assert.deepEqual(result, { text: "\u{1F600}", length: 1, invisible: false, bidiRemoved: 0 });
    assert.equal(normaliseText("hi \u{1F44B}").length, 4);
  });

  it("counts code points, so 2,000 emoji are 2,000 characters", function () {
    assert.equal(normaliseText("\u{1F600}".repeat(2000)).length, 2000);
  });

  it("leaves nothing of a blank text", function () {
    assert.deepEqual(normaliseText(" \n\t "), { text: "", length: 0, invisible: true, bidiRemoved: 0 });
  });

  it("leaves already-normal text unchanged", function () {
    const text = "\u65E5\u672C\u8A9E caf\u00e9 \u{1F600}";
    assert.deepEqual(normaliseText(text), { text, length: 10, invisible: false, bidiRemoved: 0 });
  });

  it("finds text made only of zero-width and other invisible characters blank", function () {
    for (const text of ["\u200B", "\u200B\u200C\u200D\u2060\uFEFF", "\u3164", " \u00AD \u034F ", "\u{E0020}\u{E0041}"]) {
      assert.equal(normaliseText(text).invisible, true, JSON.stringify(text));
    }
    assert.equal(normaliseText("a\u200B").invisible, false);
    assert.equal(normaliseText("\u{1F469}\u200D\u{1F4BB}").invisible, false, "an emoji joined by ZWJ shows");
  });

  it("removes an unpaired right-to-left override so the text cannot reverse what follows it", function () {
    assert.deepEqual(normaliseText("\u202Eevil"), { text: "evil", length: 4, invisible: false, bidiRemoved: 1 });
    assert.equal(normaliseText("gnp.\u202Eexe").text, "gnp.exe");
    assert.equal(normaliseText("a\u2067b").text, "ab", "an isolate never closed");
    assert.equal(normaliseText("a\u202Cb\u2069c").text, "abc", "closers without openers");
    assert.equal(normaliseText("\u202Eone\ntwo\u202C").text, "one\ntwo", "a paragraph end closes the override; the later PDF has no opener");
  });

  it("keeps bidi controls that are closed, so mixed-direction text renders as written", function () {
    const text = "price \u2067\u05E9\u05DC\u05D5\u05DD\u2069 ok \u202Bx\u202C";
    assert.deepEqual(normaliseText(text), { text, length: text.length, invisible: false, bidiRemoved: 0 });
  });

  it("drops an embedding left open inside a closed isolate", function () {
    assert.equal(normaliseText("\u2066a\u202Eb\u2069c").text, "\u2066ab\u2069c");
  });
});

describe("protocol 1.1 requests", function () {
  it("takes delete { seq } and report { seq, reason }, and refuses wrong types, missing fields and oversize reasons naming the field", function () {
    assert.deepEqual(parseRequest("delete", { seq: 3 }), { ok: true, value: { seq: 3 } });
    assert.deepEqual(parseRequest("report", { seq: 3, reason: "spam" }), { ok: true, value: { seq: 3, reason: "spam" } });
    for (const [type, payload, field] of [
      ["delete", {}, "seq"],
      ["delete", { seq: "3" }, "seq"],
      ["delete", { seq: 0 }, "seq"],
      ["delete", { seq: 1.5 }, "seq"],
      ["report", { seq: 3 }, "reason"],
      ["report", { seq: 3, reason: "" }, "reason"],
      ["report", { seq: 3, reason: "x".repeat(501) }, "reason"],
      ["report", { seq: -1, reason: "spam" }, "seq"],
      ["report", { seq: 3, reason: 42 }, "reason"],
    ] as const) {
      assertRefused(type, payload, field);
    }
  });
});
