/**
 * MessageBuffer (the in-memory store's messages, outside V8's heap)
 * against a plain array doing the same: every 25 operations of a long random run, and at its end, every message
 * reads back exactly as the array holds it.
 */
import assert from "node:assert/strict";
import type { Message } from "../../rooms/history-store.ts";
import { MessageBuffer } from "../../rooms/message-buffer.ts";

/** A small seeded generator (mulberry32), so a failure repeats. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TEXTS = ["a", "gg", "see you at the north gate after this round", "¿qué tal? ñandú", "こんにちは、また後で", "🎮🔥 👩‍💻", "x".repeat(700)];

function message(seq: number, text: string): Message {
  return { conversationId: "channel:buffer", seq, senderId: `user-${seq % 7}`, senderName: "Ana", text, sentAt: "2026-12-03T00:00:00.000Z", clientMsgId: `m-${seq}` };
}

function assertSame(buffer: MessageBuffer, model: readonly Message[], step: string): void {
  assert.equal(buffer.size, model.length, `${step}: size`);
  assert.deepEqual(buffer.messagesBetween(0, buffer.size), model, `${step}: messages`);
  for (const [index, held] of model.entries()) assert.equal(buffer.indexOf(held.seq), index, `${step}: indexOf(${held.seq})`);
}

describe("MessageBuffer", () => {
  it("reads back what a plain array holds through 3,000 random pushes, inserts and rewrites", () => {
    const next = random(20261203);
    const buffer = new MessageBuffer();
    const model: Message[] = [];
    let seq = 0;
    for (let step = 0; step < 3000; step++) {
      const pick = next();
      const text = TEXTS[Math.floor(next() * TEXTS.length)]!;
      if (pick < 0.5) {
        seq += 1 + Math.floor(next() * 3);
        buffer.push(message(seq, text));
        model.push(message(seq, text));
      } else if (pick < 0.65 && model.length > 0) {
        // A seq between two held ones (the store numbering out of order).
        const index = Math.floor(next() * model.length);
        const below = index === 0 ? 0 : model[index - 1]!.seq;
        if (model[index]!.seq - below > 1) {
          const inserted = message(below + 1, text);
          assert.equal(buffer.indexAbove(below), index);
          buffer.insert(index, inserted);
          model.splice(index, 0, inserted);
        }
      } else if (pick < 0.8 && model.length > 0) {
        // A tombstone, or a longer text: shorter entries stay in place, longer ones move the rest.
        const index = Math.floor(next() * model.length);
        const replaced = { ...model[index]!, text: next() < 0.5 ? "" : text, ...(next() < 0.5 && { deleted: true as const }) };
        buffer.replace(index, replaced);
        model[index] = replaced;
      }
      if (step % 25 === 0) assertSame(buffer, model, `step ${step}`);
    }
    assertSame(buffer, model, "at the end");
  });

  it("finds a seq's place: indexAbove and indexOf on gaps, ends and an empty buffer", () => {
    const buffer = new MessageBuffer();
    assert.deepEqual([buffer.size, buffer.indexAbove(5), buffer.indexOf(5)], [0, 0, -1]);
    for (const seq of [2, 4, 6]) buffer.push(message(seq, "hi"));
    assert.deepEqual(
      [1, 2, 3, 6, 7].map((seq) => buffer.indexAbove(seq)),
      [0, 1, 1, 3, 3],
    );
    assert.deepEqual(
      [1, 2, 3, 6, 7].map((seq) => buffer.indexOf(seq)),
      [-1, 0, -1, 2, -1],
    );
  });
});
