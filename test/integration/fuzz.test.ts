/**
 * Fuzz: 10,000 random payloads and malformed frames against a running node. No crash, no unhandled
 * rejection, acknowledged messages stay, and the node still serves afterwards.
 */
import assert from "node:assert/strict";
import { pack } from "msgpackr";
import { sdkClient, startNode, unique, type NodeProcess } from "../support/node-process.ts";

const ROOM_DATA = 13;
const ROOM_REQUEST = 21;
const LEAVE_ROOM = 12;

/** A deterministic generator, so a failure can be replayed from its seed. */
function random(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (max: number) => Math.floor(next() * max);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  const value = (depth = 0): unknown => {
    switch (int(depth > 2 ? 7 : 9)) {
      case 0:
        return int(2) === 0 ? -int(1e9) : int(1e15);
      case 1:
        return next() * 1e6;
      case 2:
        return "x".repeat(int(3000));
      case 3:
        return pick(["", " ", "\u0000", "😀", "e\u0301", "<script>", "a".repeat(65), "ok-id"]);
      case 4:
        return pick([null, true, false, undefined, Number.NaN, Infinity]);
      case 5:
        return Buffer.from(Array.from({ length: int(64) }, () => int(256)));
      case 6:
        return int(1e6);
      case 7:
        return Array.from({ length: int(5) }, () => value(depth + 1));
      default:
        return Object.fromEntries(Array.from({ length: int(5) }, () => [pick(["clientMsgId", "text", "seq", "afterSeq", "beforeSeq", "limit", "__proto__", "constructor", "x"]), value(depth + 1)]));
    }
  };
  const bytes = (length: number) => Buffer.from(Array.from({ length }, () => int(256)));
  return { int, pick, value, bytes };
}

function varint(value: number): Buffer {
  // @colyseus/schema number encoding for small unsigned ints (positive fixint or uint16/uint32).
  if (value < 128) return Buffer.from([value]);
  if (value < 0x10000) return Buffer.from([0xcd, value & 0xff, (value >> 8) & 0xff]);
  return Buffer.from([0xce, value & 0xff, (value >> 8) & 0xff, (value >> 16) & 0xff, (value >>> 24) & 0xff]);
}

function str(value: string): Buffer {
  const body = Buffer.from(value);
  return Buffer.concat([Buffer.from([0xa0 | Math.min(body.length, 31)]), body.subarray(0, 31)]);
}

describe("fuzz", function () {
  let node: NodeProcess;
  before(async () => {
    node = await startNode({ SEND_RATE_PER_SEC: "100000", SEND_BURST: "100000", REQUEST_RATE_PER_SEC: "100000", MAX_FRAMES_PER_SEC: "1000000" });
  });
  after(async () => node?.stop());

  it("survives 10,000 random payloads and malformed frames with typed errors and nothing lost", async function () {
    this.timeout(120_000);
    const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 1e9);
    console.log(`      fuzz seed ${seed} (FUZZ_SEED=${seed} replays it)`);
    const rng = random(seed);
    const conversationId = `channel:${unique()}`;
    const room = await sdkClient(node).joinOrCreate("chat", { conversationId, userId: "fuzzer" });
    room.onMessage("*", () => {});
    room.onLeave((code: number, reason?: string) => console.log(`      fuzzing client left: ${code} ${reason ?? ""}`));
    const witness = await sdkClient(node).joinOrCreate("chat", { conversationId, userId: "witness" });
    witness.onMessage("*", () => {});
    const before = await witness.request("send", { clientMsgId: "before-fuzz", text: "acknowledged before the fuzz" });

    let refusedWithCode = 0;
    let requestId = 1_000_000;
    for (let round = 0; round < 20; round++) {
      const requests: Promise<unknown>[] = [];
      for (let i = 0; i < 500; i++) {
        const kind = rng.int(5);
        if (kind === 0) {
          // A well-formed request of a real type with a random payload, through the SDK.
          requests.push(
            room.request(rng.pick(["send", "history", "sync", "read", "delete", "report"]), rng.value(), { timeout: 20_000 }).then(
              () => undefined,
              (error: { reason?: { code?: string } }) => {
                if (error.reason?.code) refusedWithCode++;
              },
            ),
          );
        } else if (kind === 1) {
          // A request frame with a random type and a valid or broken msgpack body.
          const body = rng.int(2) === 0 ? Buffer.from(pack(rng.value())) : rng.bytes(rng.int(40));
          room.connection.send(Buffer.concat([Buffer.from([ROOM_REQUEST]), varint(requestId++), str(rng.pick(["send", "sync", "nope", "", "typing", "delete", "report"])), body]));
        } else if (kind === 2) {
          // A fire-and-forget frame with a random type and a random body.
          room.connection.send(Buffer.concat([Buffer.from([ROOM_DATA]), str(rng.pick(["typing", "send", "zzz"])), rng.bytes(rng.int(40))]));
        } else if (kind === 3) {
          // Truncated and garbage frames of any code but LEAVE_ROOM.
          const frame = rng.bytes(1 + rng.int(30));
          if ((frame[0]! & 0x1f) === LEAVE_ROOM) frame[0] = ROOM_DATA; // Colyseus reads the low 5 bits as the code
          room.connection.send(frame);
        } else {
          room.send(rng.pick(["typing", "unknown", "send"]), rng.value());
        }
      }
      await Promise.all(requests);
    }

    assert.ok(refusedWithCode > 100, `random payloads were refused with typed reasons (${refusedWithCode})`);
    assert.equal(
      room.connection.isOpen,
      true,
      `the fuzzing client is still connected; node log:\n${node
        .output()
        .split("\n")
        .filter((l) => !l.includes('"level":30'))
        .slice(-15)
        .join("\n")}`,
    );
    const after = await room.request("send", { clientMsgId: "after-fuzz", text: "still serving" });
    assert.ok(after.seq > before.seq);
    const fresh = await sdkClient(node).joinOrCreate("chat", { conversationId, userId: "newcomer" });
    const { messages } = await fresh.request("sync", { afterSeq: 0, limit: 500 });
    assert.equal(messages[0].clientMsgId, "before-fuzz", "acknowledged history survived");
    assert.equal(node.child.exitCode, null, "the node is alive");
    assert.doesNotMatch(node.output(), /unhandled rejection|uncaughtException|FATAL/i);
    assert.equal((await fetch(`${node.httpUrl}/healthz`)).status, 200);
  });
});
