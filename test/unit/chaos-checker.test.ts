import assert from "node:assert/strict";
import { check, formatReport, nearestRank, type CheckReport, type ClientLog, type Finding, type LogEvent, type StoredMessage, type Window } from "../chaos/checker.ts";

const CONVERSATION = "channel:chaos";
/** Window boundaries: sends at t < 1000 are "before", [1000, 2000) "fault", [2000, 3000) "after". */
const WINDOWS: Window[] = [
  { name: "before", from: 0, to: 1000 },
  { name: "fault", from: 1000, to: 2000 },
  { name: "after", from: 2000, to: 3000 },
];

type Run = { logs: ClientLog[]; stored: Map<string, StoredMessage[]>; windows: Window[] };

const joined = (lastSeq: number, t = 0, conversationId = CONVERSATION): LogEvent => ({ type: "joined", conversationId, lastSeq, t });
const left = (lastSeq: number, t = 9000, conversationId = CONVERSATION): LogEvent => ({ type: "left", conversationId, lastSeq, t });
const send = (clientMsgId: string, t: number, conversationId = CONVERSATION): LogEvent => ({ type: "send", conversationId, clientMsgId, t });
const ack = (clientMsgId: string, seq: number, t: number, conversationId = CONVERSATION): LogEvent => ({ type: "ack", conversationId, clientMsgId, seq, duplicate: false, attempts: 1, t });
const fail = (clientMsgId: string, maybeStored: boolean, t: number): LogEvent => ({ type: "fail", conversationId: CONVERSATION, clientMsgId, code: "TIMEOUT", maybeStored, t });
const receive = (seq: number, senderId: string, clientMsgId: string, t: number, conversationId = CONVERSATION): LogEvent => ({
  type: "receive",
  conversationId,
  seq,
  senderId,
  clientMsgId,
  via: "live",
  t,
});
const stored = (seq: number, senderId: string, clientMsgId: string, conversationId = CONVERSATION): StoredMessage => ({ conversationId, seq, senderId, clientMsgId });

/**
 * A correct run: alice and bob each send one message, both receive both in order and leave caught
 * up. alice's a-1 is stored at seq 1 (sent t=100, received at 110 and 130), bob's b-1 at seq 2
 * (sent t=1100, received at 1150 and 1200).
 */
function cleanRun(): Run {
  const alice: ClientLog = {
    clientId: "c-alice",
    userId: "alice",
    events: [joined(0), send("a-1", 100), ack("a-1", 1, 105), receive(1, "alice", "a-1", 110), receive(2, "bob", "b-1", 1150), left(2)],
  };
  const bob: ClientLog = {
    clientId: "c-bob",
    userId: "bob",
    events: [joined(0), receive(1, "alice", "a-1", 130), send("b-1", 1100), ack("b-1", 2, 1120), receive(2, "bob", "b-1", 1200), left(2)],
  };
  return { logs: [alice, bob], stored: new Map([[CONVERSATION, [stored(1, "alice", "a-1"), stored(2, "bob", "b-1")]]]), windows: WINDOWS };
}

function logOf(run: Run, clientId: string): ClientLog {
  const log = run.logs.find((candidate) => candidate.clientId === clientId);
  assert.ok(log, `no log for ${clientId}`);
  return log;
}

function storedOf(run: Run, conversationId = CONVERSATION): StoredMessage[] {
  const messages = run.stored.get(conversationId);
  assert.ok(messages, `nothing stored for ${conversationId}`);
  return messages;
}

const FINDING_FIELDS = ["lost", "duplicated", "unexpected", "orderViolations", "gaps", "notCaughtUp"] as const;
type FindingField = (typeof FINDING_FIELDS)[number];

/** Assert that the report is not ok and that `field` is the only category with findings, and return them. */
function onlyFindings(report: CheckReport, field: FindingField): Finding[] {
  for (const other of FINDING_FIELDS) {
    if (other !== field) assert.deepEqual(report[other], [], `expected no ${other} findings`);
  }
  assert.ok(report[field].length > 0, `expected ${field} findings`);
  assert.equal(report.ok, false);
  return report[field];
}

const kinds = (findings: Finding[]) => findings.map((finding) => finding.kind);

describe("chaos checker", function () {
  describe("a correct history", function () {
    it("is ok with no findings and counts invoked, acked, stored and delivered", function () {
      const report = check(cleanRun());
      for (const field of FINDING_FIELDS) assert.deepEqual(report[field], [], `${field} is empty`);
      assert.equal(report.ok, true);
      assert.equal(report.invoked, 2);
      assert.equal(report.acked, 2);
      assert.equal(report.stored, 2);
      assert.equal(report.delivered, 4);
      assert.equal(report.unknownOutcomes, 0);
    });

    it("accepts a client that joins late and receives from joined.lastSeq + 1", function () {
      const run = cleanRun();
      run.logs.push({ clientId: "c-carol", userId: "carol", events: [joined(1, 500), receive(2, "bob", "b-1", 1160), left(2)] });
      const report = check(run);
      assert.equal(report.ok, true, formatReport("late joiner", report));
      assert.equal(report.delivered, 5);
    });

    it("counts a resent clientMsgId as one invocation and its duplicate ack as one ack", function () {
      const run = cleanRun();
      logOf(run, "c-alice").events.splice(3, 0, send("a-1", 106), { ...ack("a-1", 1, 107), duplicate: true } as LogEvent);
      const report = check(run);
      assert.equal(report.ok, true, formatReport("resend", report));
      assert.equal(report.invoked, 2);
      assert.equal(report.acked, 2);
    });
  });

  describe("lost", function () {
    it("reports a send acknowledged with a seq but missing from the store", function () {
      const run = cleanRun();
      // The resend's duplicate ack repeats the same claim: one finding, not two.
      logOf(run, "c-alice").events.splice(3, 0, send("a-2", 200), ack("a-2", 3, 210), send("a-2", 220), { ...ack("a-2", 3, 230), duplicate: true } as LogEvent);
      const [finding, ...rest] = onlyFindings(check(run), "lost");
      assert.deepEqual(rest, []);
      assert.equal(finding?.kind, "acked-missing");
      assert.equal(finding?.clientId, "c-alice");
      assert.equal(finding?.conversationId, CONVERSATION);
      assert.match(finding?.detail ?? "", /alice\/a-2/);
    });

    it("reports a send acknowledged with one seq but stored under another", function () {
      const run = cleanRun();
      // The store swapped the two messages' seqs; the receivers saw what the store holds.
      run.stored.set(CONVERSATION, [stored(1, "bob", "b-1"), stored(2, "alice", "a-1")]);
      for (const log of run.logs) {
        log.events = log.events.map((event) => (event.type === "receive" ? { ...event, senderId: event.seq === 1 ? "bob" : "alice", clientMsgId: event.seq === 1 ? "b-1" : "a-1" } : event));
      }
      const findings = onlyFindings(check(run), "lost");
      assert.deepEqual(kinds(findings), ["acked-wrong-seq", "acked-wrong-seq"]);
      assert.deepEqual(
        findings.map((finding) => finding.clientId),
        ["c-alice", "c-bob"],
      );
    });

    it("reports two acks of the same clientMsgId with different seqs as inconsistent", function () {
      const run = cleanRun();
      logOf(run, "c-alice").events.splice(3, 0, send("a-1", 106), { ...ack("a-1", 2, 107), duplicate: true } as LogEvent);
      const findings = onlyFindings(check(run), "lost");
      assert.ok(kinds(findings).includes("ack-inconsistent"), `got ${kinds(findings).join(", ")}`);
    });
  });

  describe("duplicated", function () {
    it("reports a clientMsgId of one sender stored twice", function () {
      const run = cleanRun();
      storedOf(run).push(stored(3, "alice", "a-1"));
      for (const log of run.logs) log.events.splice(-1, 1, receive(3, "alice", "a-1", 1300), left(3));
      const findings = onlyFindings(check(run), "duplicated");
      assert.deepEqual(kinds(findings), ["duplicate-message"]);
      assert.match(findings[0]!.detail, /seq 3.*seq 1/);
    });

    it("does not take the same clientMsgId of two different senders for a duplicate", function () {
      const run = cleanRun();
      logOf(run, "c-bob").events = [joined(0), receive(1, "alice", "a-1", 130), send("a-1", 1100), ack("a-1", 2, 1120), receive(2, "bob", "a-1", 1200), left(2)];
      logOf(run, "c-alice").events[4] = receive(2, "bob", "a-1", 1150);
      storedOf(run)[1] = stored(2, "bob", "a-1");
      assert.equal(check(run).ok, true);
    });

    it("reports a seq stored twice in one conversation", function () {
      const run = cleanRun();
      storedOf(run).splice(1, 0, stored(1, "carol", "c-1"));
      run.logs.push({ clientId: "c-carol", userId: "carol", events: [send("c-1", 150), ack("c-1", 1, 160)] });
      const findings = onlyFindings(check(run), "duplicated");
      assert.deepEqual(kinds(findings), ["duplicate-seq"]);
      assert.match(findings[0]!.detail, /seq 1/);
    });
  });

  describe("unexpected", function () {
    it("reports a stored message that no client of its sender ever sent", function () {
      const run = cleanRun();
      storedOf(run).push(stored(3, "alice", "ghost"));
      for (const log of run.logs) log.events.splice(-1, 1, receive(3, "alice", "ghost", 1300), left(3));
      const findings = onlyFindings(check(run), "unexpected");
      assert.deepEqual(kinds(findings), ["never-sent"]);
      assert.match(findings[0]!.detail, /alice\/ghost/);
    });

    it("reports a stored message from a user with no log, such as a service", function () {
      const run = cleanRun();
      storedOf(run).push(stored(3, "system", "announce-1"));
      for (const log of run.logs) log.events.splice(-1, 1, receive(3, "system", "announce-1", 1300), left(3));
      assert.deepEqual(kinds(onlyFindings(check(run), "unexpected")), ["never-sent"]);
    });

    it("reports a message sent by one user but stored under another sender", function () {
      const run = cleanRun();
      storedOf(run)[1] = stored(2, "alice", "b-1");
      for (const log of run.logs) log.events = log.events.map((event) => (event.type === "receive" && event.seq === 2 ? { ...event, senderId: "alice" } : event));
      const report = check(run);
      assert.deepEqual(kinds(report.unexpected), ["never-sent"]);
      assert.deepEqual(kinds(report.lost), ["acked-missing"], "bob's acknowledged b-1 is not stored as bob's");
    });

    it("reports a stored message whose send failed with maybeStored false", function () {
      const run = cleanRun();
      logOf(run, "c-alice").events.splice(3, 0, send("a-2", 200), fail("a-2", false, 300));
      storedOf(run).push(stored(3, "alice", "a-2"));
      for (const log of run.logs) log.events.splice(-1, 1, receive(3, "alice", "a-2", 1300), left(3));
      const findings = onlyFindings(check(run), "unexpected");
      assert.deepEqual(kinds(findings), ["stored-after-definite-fail"]);
      assert.equal(findings[0]!.clientId, "c-alice");
    });

    it("accepts a stored message whose definite fail was followed by a resend", function () {
      const run = cleanRun();
      const unknown: LogEvent = { type: "unknown", conversationId: CONVERSATION, clientMsgId: "a-2", reason: "closed", attempt: 1, t: 320 };
      logOf(run, "c-alice").events.splice(3, 0, send("a-2", 200), fail("a-2", false, 300), send("a-2", 310), unknown);
      storedOf(run).push(stored(3, "alice", "a-2"));
      for (const log of run.logs) log.events.splice(-1, 1, receive(3, "alice", "a-2", 1300), left(3));
      const report = check(run);
      assert.equal(report.ok, true, formatReport("resent after fail", report));
      assert.equal(report.unknownOutcomes, 1);
    });

    it("accepts a stored message whose send failed with maybeStored true", function () {
      const run = cleanRun();
      logOf(run, "c-alice").events.splice(3, 0, send("a-2", 200), fail("a-2", true, 300));
      storedOf(run).push(stored(3, "alice", "a-2"));
      for (const log of run.logs) log.events.splice(-1, 1, receive(3, "alice", "a-2", 1300), left(3));
      const report = check(run);
      assert.equal(report.ok, true, formatReport("maybe stored", report));
      assert.equal(report.acked, 2);
      assert.equal(report.unknownOutcomes, 0);
    });
  });

  describe("per receiver", function () {
    it("reports a message received before an earlier seq as a reorder", function () {
      const run = cleanRun();
      logOf(run, "c-bob").events = [joined(0), send("b-1", 1100), ack("b-1", 2, 1120), receive(2, "bob", "b-1", 1200), receive(1, "alice", "a-1", 1210), left(2)];
      const report = check(run);
      assert.deepEqual(kinds(report.orderViolations), ["reorder"]);
      assert.equal(report.orderViolations[0]!.clientId, "c-bob");
      assert.deepEqual(kinds(report.gaps), ["delivery-gap"], "seq 2 skipped seq 1 when it arrived");
      assert.equal(report.ok, false);
    });

    it("reports a seq delivered twice as a duplicate delivery", function () {
      const run = cleanRun();
      logOf(run, "c-alice").events.splice(4, 0, receive(1, "alice", "a-1", 120));
      const findings = onlyFindings(check(run), "orderViolations");
      assert.deepEqual(kinds(findings), ["duplicate-delivery"]);
      assert.equal(findings[0]!.clientId, "c-alice");
    });

    it("reports a seq at or below joined.lastSeq as a duplicate delivery", function () {
      const run = cleanRun();
      run.logs.push({ clientId: "c-carol", userId: "carol", events: [joined(1, 500), receive(1, "alice", "a-1", 510), receive(2, "bob", "b-1", 1160), left(2)] });
      assert.deepEqual(kinds(onlyFindings(check(run), "orderViolations")), ["duplicate-delivery"]);
    });

    it("reports a receiver that skips a seq as a delivery gap", function () {
      const run = cleanRun();
      logOf(run, "c-bob").events.splice(1, 1);
      const findings = onlyFindings(check(run), "gaps");
      assert.deepEqual(kinds(findings), ["delivery-gap"]);
      assert.equal(findings[0]!.clientId, "c-bob");
      assert.match(findings[0]!.detail, /missing seq 1\b/);
    });

    it("reports a receiver that starts after joined.lastSeq + 1 as a delivery gap", function () {
      const run = cleanRun();
      run.logs.push({ clientId: "c-carol", userId: "carol", events: [joined(0, 500), receive(2, "bob", "b-1", 1160), left(2)] });
      assert.deepEqual(kinds(onlyFindings(check(run), "gaps")), ["delivery-gap"]);
    });

    it("reports a receive that disagrees with the store's message at that seq", function () {
      const run = cleanRun();
      logOf(run, "c-bob").events[1] = receive(1, "alice", "a-other", 130);
      const findings = onlyFindings(check(run), "orderViolations");
      assert.deepEqual(kinds(findings), ["wrong-message"]);
      assert.match(findings[0]!.detail, /alice\/a-other.*alice\/a-1/);
    });

    it("reports a receive whose sender disagrees with the store's message at that seq", function () {
      const run = cleanRun();
      logOf(run, "c-bob").events[1] = receive(1, "mallory", "a-1", 130);
      const findings = onlyFindings(check(run), "orderViolations");
      assert.deepEqual(kinds(findings), ["wrong-message"]);
      assert.match(findings[0]!.detail, /mallory\/a-1/);
    });

    it("reports a receive of a seq the store does not have", function () {
      const run = cleanRun();
      logOf(run, "c-bob").events.splice(-1, 1, receive(3, "bob", "b-9", 1300), left(3));
      assert.deepEqual(kinds(check(run).orderViolations), ["wrong-message"]);
    });

    it("reports a receive before any joined marker", function () {
      const run = cleanRun();
      logOf(run, "c-bob").events.shift();
      assert.deepEqual(kinds(onlyFindings(check(run), "orderViolations")), ["receive-before-join"]);
    });

    it("judges each conversation of a client on its own", function () {
      const other = "group:side";
      const run = cleanRun();
      run.stored.set(other, [stored(1, "alice", "s-1", other)]);
      const alice = logOf(run, "c-alice");
      alice.events.push(joined(0, 9100, other), send("s-1", 9200, other), ack("s-1", 1, 9210, other), receive(1, "alice", "s-1", 9220, other), left(1, 9300, other));
      const report = check(run);
      assert.equal(report.ok, true, formatReport("two conversations", report));
      assert.equal(report.stored, 3);
    });
  });

  describe("store gaps", function () {
    it("reports a missing seq in the store", function () {
      const run = cleanRun();
      storedOf(run).push(stored(4, "alice", "a-4"));
      logOf(run, "c-alice").events.splice(-1, 1, send("a-4", 2100), ack("a-4", 4, 2110), receive(4, "alice", "a-4", 2120), left(4));
      const report = check(run);
      assert.deepEqual(kinds(report.gaps), ["store-gap", "delivery-gap"]);
      assert.match(report.gaps[0]!.detail, /no seq 3\b/);
      assert.equal(report.gaps[0]!.clientId, undefined);
      assert.deepEqual(kinds(report.notCaughtUp), ["not-caught-up"], "bob ended at 2 of 4");
      assert.deepEqual([report.lost, report.duplicated, report.unexpected, report.orderViolations], [[], [], [], []]);
    });

    it("reports a store that does not start at seq 1", function () {
      const run = cleanRun();
      run.stored.set(CONVERSATION, [stored(2, "bob", "b-1")]);
      run.logs = [{ clientId: "c-bob", userId: "bob", events: [joined(1), send("b-1", 1100), ack("b-1", 2, 1120), receive(2, "bob", "b-1", 1200), left(2)] }];
      const findings = onlyFindings(check(run), "gaps");
      assert.deepEqual(kinds(findings), ["store-gap"]);
      assert.match(findings[0]!.detail, /no seq 1\b/);
    });
  });

  describe("catching up", function () {
    it("reports a client whose left marker is below the store's last seq", function () {
      const run = cleanRun();
      const bob = logOf(run, "c-bob");
      bob.events.splice(-2, 2, left(1));
      const findings = onlyFindings(check(run), "notCaughtUp");
      assert.deepEqual(kinds(findings), ["not-caught-up"]);
      assert.equal(findings[0]!.clientId, "c-bob");
      assert.match(findings[0]!.detail, /seq 1\b.*2/);
    });

    it("uses the last received seq when a client has no left marker", function () {
      const run = cleanRun();
      const bob = logOf(run, "c-bob");
      bob.events.splice(-2, 2);
      assert.deepEqual(kinds(onlyFindings(check(run), "notCaughtUp")), ["not-caught-up"]);

      const caughtUp = cleanRun();
      logOf(caughtUp, "c-bob").events.pop();
      assert.equal(check(caughtUp).ok, true, "a client at the last seq without a left marker is caught up");
    });
  });

  describe("unknown outcomes", function () {
    it("counts sends with neither an ack nor a final fail, without failing the run", function () {
      const run = cleanRun();
      logOf(run, "c-alice").events.splice(
        3,
        0,
        send("a-2", 200),
        { type: "unknown", conversationId: CONVERSATION, clientMsgId: "a-2", reason: "timeout", attempt: 1, t: 300 },
        send("a-3", 310),
        send("a-4", 320),
        fail("a-4", true, 400),
      );
      const report = check(run);
      assert.equal(report.unknownOutcomes, 2);
      assert.equal(report.invoked, 5);
      assert.equal(report.acked, 2);
      assert.equal(report.ok, true);
    });

    it("counts an outcome as unknown again when a failed send is resent and never settled", function () {
      const run = cleanRun();
      logOf(run, "c-alice").events.splice(3, 0, send("a-2", 200), fail("a-2", true, 300), send("a-2", 310));
      assert.equal(check(run).unknownOutcomes, 1);
    });
  });

  describe("latency", function () {
    it("buckets each delivery by the window of its first send, with an all row", function () {
      const report = check(cleanRun());
      assert.deepEqual(report.latency, [
        { window: "before", deliveries: 2, p50Ms: 10, p99Ms: 30, maxMs: 30 },
        { window: "fault", deliveries: 2, p50Ms: 50, p99Ms: 100, maxMs: 100 },
        { window: "after", deliveries: 0, p50Ms: 0, p99Ms: 0, maxMs: 0 },
        { window: "all", deliveries: 4, p50Ms: 30, p99Ms: 100, maxMs: 100 },
      ]);
    });

    it("puts a send at a window's end into the next window", function () {
      const run = cleanRun();
      logOf(run, "c-bob").events[2] = send("b-1", 2000);
      const rows = check(run).latency;
      assert.deepEqual(
        rows.map((row) => [row.window, row.deliveries]),
        [
          ["before", 2],
          ["fault", 0],
          ["after", 2],
          ["all", 4],
        ],
      );
    });

    it("measures from the sender's first send, not a resend", function () {
      const run = cleanRun();
      // A resend at t=1000 falls in "fault"; the first send at t=100 still decides window and latency.
      logOf(run, "c-alice").events.splice(3, 0, send("a-1", 1000));
      const [before, fault] = check(run).latency;
      assert.deepEqual(before, { window: "before", deliveries: 2, p50Ms: 10, p99Ms: 30, maxMs: 30 });
      assert.equal(fault?.deliveries, 2);
    });

    it("measures from the earliest send of a user on any of its clients", function () {
      const run = cleanRun();
      // alice on a second device sends a-1 again at t=1500, and its log comes last.
      run.logs.push({ clientId: "c-alice-2", userId: "alice", events: [send("a-1", 1500), { ...ack("a-1", 1, 1510), duplicate: true } as LogEvent] });
      const [before, fault] = check(run).latency;
      assert.deepEqual(before, { window: "before", deliveries: 2, p50Ms: 10, p99Ms: 30, maxMs: 30 });
      assert.equal(fault?.deliveries, 2);
    });

    it("takes p50 and p99 by nearest rank over many samples", function () {
      const receivers: ClientLog[] = [];
      const messages: StoredMessage[] = [];
      const sender: ClientLog = { clientId: "c-s", userId: "s", events: [joined(0)] };
      for (let seq = 1; seq <= 200; seq++) {
        sender.events.push(send(`m-${seq}`, 2000 + seq), ack(`m-${seq}`, seq, 2000 + seq));
        messages.push(stored(seq, "s", `m-${seq}`));
      }
      // One receiver sees message seq with latency seq ms: samples 1..200.
      receivers.push({ clientId: "c-r", userId: "r", events: [joined(0), ...messages.map((message) => receive(message.seq, "s", message.clientMsgId, 2000 + 2 * message.seq)), left(200)] });
      sender.events.push(left(200));
      const report = check({ logs: [sender, ...receivers], stored: new Map([[CONVERSATION, messages]]), windows: WINDOWS });
      assert.equal(report.ok, true, formatReport("many samples", report));
      assert.deepEqual(
        report.latency.find((row) => row.window === "after"),
        { window: "after", deliveries: 200, p50Ms: 100, p99Ms: 198, maxMs: 200 },
      );
    });

    it("ignores deliveries of messages no logged client sent", function () {
      const run = cleanRun();
      storedOf(run).push(stored(3, "system", "x"));
      for (const log of run.logs) log.events.splice(-1, 1, receive(3, "system", "x", 1300), left(3));
      assert.equal(check(run).latency.at(-1)?.deliveries, 4);
    });

    it("computes nearest-rank percentiles", function () {
      assert.equal(nearestRank([], 50), 0);
      assert.equal(nearestRank([7], 99), 7);
      assert.equal(nearestRank([1, 2, 3, 4], 50), 2);
      assert.equal(nearestRank([1, 2, 3, 4, 5], 50), 3);
      assert.equal(nearestRank([1, 2, 3, 4, 5], 99), 5);
      assert.equal(nearestRank([1, 2, 3, 4, 5], 0), 1);
      assert.equal(nearestRank([1, 2, 3, 4, 5], 25), 2, "rank ceil(1.25) = 2");
      const hundredSeventy = Array.from({ length: 170 }, (_, index) => index + 1);
      assert.equal(nearestRank(hundredSeventy, 99), 169, "rank ceil(168.3) = 169");
    });
  });

  describe("formatReport", function () {
    it("prints every count, the latency rows and a PASS verdict for a correct run", function () {
      const report = check(cleanRun());
      const text = formatReport("clean run", report);
      assert.match(text, /^clean run\n/);
      for (const [label, value] of [
        ["invoked", 2],
        ["acked", 2],
        ["stored", 2],
        ["delivered", 4],
        ["unknown outcomes", 0],
        ["lost", 0],
        ["duplicated", 0],
        ["unexpected", 0],
        ["order violations", 0],
        ["gaps", 0],
        ["not caught up", 0],
      ] as const) {
        assert.match(text, new RegExp(`^${label} +${value}$`, "m"), `row ${label}`);
      }
      assert.match(text, /^before +2 +10 +30 +30$/m);
      assert.match(text, /^all +4 +30 +100 +100$/m);
      assert.match(text.split("\n").at(-1)!, /^PASS\b/);
    });

    it("prints the failing categories, examples of findings and a FAIL verdict", function () {
      const run = cleanRun();
      logOf(run, "c-alice").events.splice(3, 0, send("a-2", 200), ack("a-2", 3, 210), send("a-3", 220));
      const text = formatReport("broken run", check(run));
      assert.match(text, /^lost +1$/m);
      assert.match(text, /^unknown outcomes +1$/m);
      assert.match(text, /acked-missing channel:chaos \[c-alice\]: alice\/a-2/);
      const verdict = text.split("\n").at(-1)!;
      assert.match(verdict, /^FAIL: 1 lost; 1 send\(s\) with unknown outcome$/);
    });

    it("caps the examples it prints per category", function () {
      const run = cleanRun();
      for (let index = 0; index < 8; index++) logOf(run, "c-alice").events.splice(3, 0, send(`x-${index}`, 200), ack(`x-${index}`, 10 + index, 210));
      const text = formatReport("many", check(run));
      assert.equal(text.match(/acked-missing/g)?.length, 5);
      assert.match(text, /\.\.\. and 3 more/);
    });
  });

  describe("scale", function () {
    it("checks 300 clients and 30k events well under a second", function () {
      const clients = 300;
      const messagesPerSender = 10;
      const messages: StoredMessage[] = [];
      const logs: ClientLog[] = [];
      for (let client = 0; client < clients; client++) {
        logs.push({ clientId: `c-${client}`, userId: `u-${client}`, events: [joined(0)] });
      }
      // Only the first 10 clients send, 10 messages each; all 300 receive all 100: ~30k receives.
      let seq = 0;
      for (let client = 0; client < 10; client++) {
        for (let index = 0; index < messagesPerSender; index++) {
          seq++;
          const id = `m-${index}`;
          logs[client]!.events.push(send(id, seq), ack(id, seq, seq + 1));
          messages.push(stored(seq, `u-${client}`, id));
        }
      }
      for (const log of logs) {
        for (const message of messages) log.events.push(receive(message.seq, message.senderId, message.clientMsgId, message.seq + 5));
        log.events.push(left(seq));
      }
      const started = performance.now();
      const report = check({ logs, stored: new Map([[CONVERSATION, messages]]), windows: WINDOWS });
      const elapsedMs = performance.now() - started;
      assert.equal(report.ok, true);
      assert.equal(report.delivered, clients * messages.length);
      assert.ok(elapsedMs < 1000, `took ${elapsedMs.toFixed(0)} ms`);
    });
  });
});
