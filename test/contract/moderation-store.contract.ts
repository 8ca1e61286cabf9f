/**
 * The ModerationStore contract: what every implementation (memory, Mongo) must do, as one mocha
 * suite. Each test uses users and conversations of its own, so the suite can share a database.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import type { ModerationStore } from "../../rooms/moderation-store.ts";
import { RefusalError } from "../../schema/codes.ts";
import type { AuditEntry, ReportResolution } from "../../schema/moderation.ts";

export type ModerationStoreFixture = { store: ModerationStore; cleanup: () => Promise<void> };

const fresh = (label: string) => `${label}${randomUUID().slice(0, 8)}`;

function entry(overrides: Partial<AuditEntry> = {}): AuditEntry {
  return { actionId: fresh("act"), type: "mute", userId: fresh("u"), by: "mod", at: new Date().toISOString(), ...overrides };
}

const dismissed = (by = "mod"): ReportResolution => ({ outcome: "dismissed", by, at: new Date().toISOString() });
const acted = (by = "admin"): ReportResolution => ({ outcome: "acted", by, at: new Date().toISOString(), actionId: fresh("act") });

export function moderationStoreContract(name: string, makeStore: () => Promise<ModerationStoreFixture>): void {
  describe(`ModerationStore contract: ${name}`, function () {
    let fixture: ModerationStoreFixture;
    const store = () => fixture.store;
    before(async () => {
      fixture = await makeStore();
    });
    after(async () => fixture?.cleanup());

    /** A new report of a conversation of its own. */
    async function addReport(): Promise<{ reportId: string; conversationId: string }> {
      const conversationId = `channel:${fresh("r")}`;
      const context = [{ conversationId, seq: 1, senderId: "x", senderName: "X", text: "hi", sentAt: new Date(0).toISOString(), clientMsgId: "c1" }];
      const { reportId } = await store().addReport({ conversationId, seq: 1, reporterId: fresh("rpt"), reason: "rude", at: new Date().toISOString(), context });
      return { reportId, conversationId };
    }

    it("records an action once: the same actionId again returns the first entry as a duplicate", async function () {
      const first = entry({ reason: "spam", until: new Date(Date.now() + 60_000).toISOString() });
      assert.deepEqual(await store().recordAction(first), { entry: first, duplicate: false });
      const again = await store().recordAction({ ...first, reason: "different" });
      assert.deepEqual(again, { entry: first, duplicate: true });
      assert.deepEqual(await store().findAction(first.actionId), first);
      assert.equal(await store().findAction(fresh("missing")), undefined);
    });

    it("lists the audit log newest first, by user or by conversation", async function () {
      const userId = fresh("u");
      const conversationId = `channel:${fresh("c")}`;
      const base = Date.now();
      const older = entry({ userId, at: new Date(base).toISOString() });
      const newer = entry({ userId, type: "kick", conversationId, at: new Date(base + 1000).toISOString() });
      await store().recordAction(older);
      await store().recordAction(newer);
      assert.deepEqual(await store().listActions({ userId, limit: 10 }), [newer, older]);
      assert.deepEqual(await store().listActions({ conversationId, limit: 10 }), [newer]);
      assert.deepEqual(await store().listActions({ userId, limit: 1 }), [newer]);
    });

    it("holds sanctions in force until lifted or expired, scoped to a conversation or everywhere", async function () {
      const userId = fresh("u");
      const now = Date.now();
      await store().putSanction({ kind: "mute", userId });
      await store().putSanction({ kind: "ban", userId, conversationId: "channel:a", until: now + 60_000 });
      await store().putSanction({ kind: "shadow_mute", userId, conversationId: "channel:b", until: now - 1 });
      await store().putSanction({ kind: "mute", userId }); // the same sanction again replaces it
      const mine = (await store().loadState(now)).sanctions.filter((sanction) => sanction.userId === userId);
      assert.deepEqual(
        mine.sort((a, b) => a.kind.localeCompare(b.kind)),
        [
          { kind: "ban", userId, conversationId: "channel:a", until: now + 60_000 },
          { kind: "mute", userId },
        ],
        "the expired shadow mute is left out",
      );
      await store().liftSanctions(userId, "channel:a", ["ban"]);
      await store().liftSanctions(userId, undefined, ["mute", "shadow_mute"]);
      assert.deepEqual(
        (await store().loadState(now)).sanctions.filter((sanction) => sanction.userId === userId),
        [],
      );
    });

    it("keeps slow modes and blocks until ended", async function () {
      const conversationId = `channel:${fresh("slow")}`;
      const [userId, blockedId] = [fresh("u"), fresh("b")];
      await store().setSlowMode(conversationId, 5000);
      await store().setBlock(userId, blockedId, true);
      await store().setBlock(userId, blockedId, true);
      let state = await store().loadState(Date.now());
      assert.deepEqual(
        state.slowModes.filter((mode) => mode.conversationId === conversationId),
        [{ conversationId, intervalMs: 5000 }],
      );
      assert.deepEqual(
        state.blocks.filter((block) => block.userId === userId),
        [{ userId, blockedId }],
      );
      await store().setSlowMode(conversationId, 0);
      await store().setBlock(userId, blockedId, false);
      state = await store().loadState(Date.now());
      assert.equal(
        state.slowModes.some((mode) => mode.conversationId === conversationId),
        false,
      );
      assert.equal(
        state.blocks.some((block) => block.userId === userId),
        false,
      );
    });

    it("records one report per reporter and message, with its context, and lists them newest first", async function () {
      const conversationId = `channel:${fresh("r")}`;
      const context = [{ conversationId, seq: 1, senderId: "x", senderName: "X", text: "hi", sentAt: new Date(0).toISOString(), clientMsgId: "c1" }];
      const first = await store().addReport({ conversationId, seq: 1, reporterId: "alice", reason: "rude", at: new Date(Date.now() + 5000).toISOString(), context });
      const again = await store().addReport({ conversationId, seq: 1, reporterId: "alice", reason: "again", at: new Date().toISOString(), context });
      const other = await store().addReport({ conversationId, seq: 1, reporterId: "bob", reason: "rude", at: new Date(Date.now() + 10_000).toISOString(), context });
      assert.equal(first.duplicate, false);
      assert.deepEqual(again, { reportId: first.reportId, duplicate: true });
      assert.notEqual(other.reportId, first.reportId);
      const listed = (await store().listReports(50)).filter((report) => report.conversationId === conversationId);
      assert.deepEqual(
        listed.map((report) => [report.reporterId, report.reason]),
        [
          ["bob", "rude"],
          ["alice", "rude"],
        ],
      );
      assert.deepEqual(listed[1]!.context, context);
    });

    it("resolves a report once: a second resolution, the same or another, stores nothing and returns the first", async function () {
      const { reportId } = await addReport();
      const first = dismissed();
      assert.deepEqual(await store().resolveReport(reportId, first), { resolution: first, duplicate: false });
      assert.deepEqual(await store().resolveReport(reportId, first), { resolution: first, duplicate: true }, "the same resolution again is idempotent");
      assert.deepEqual(await store().resolveReport(reportId, acted()), { resolution: first, duplicate: true }, "another resolution does not replace the first");
      assert.deepEqual((await store().findReport(reportId))?.resolution, first);
    });

    it("keeps exactly one of two resolutions racing on the same report, and answers both with it", async function () {
      const { reportId } = await addReport();
      const [a, b] = await Promise.all([store().resolveReport(reportId, dismissed("mod1")), store().resolveReport(reportId, acted("admin1"))]);
      assert.deepEqual([a.duplicate, b.duplicate].sort(), [false, true], "exactly one call wins");
      assert.deepEqual(a.resolution, b.resolution, "both calls return the stored resolution");
      assert.deepEqual((await store().findReport(reportId))?.resolution, a.resolution);
    });

    it("refuses NOT_FOUND to resolve a report it never recorded, and stores nothing for it", async function () {
      const reportId = `rep_${randomUUID().replaceAll("-", "").slice(0, 24)}`;
      await assert.rejects(store().resolveReport(reportId, dismissed()), (error: unknown) => error instanceof RefusalError && error.refusal.code === "NOT_FOUND");
      assert.equal(await store().findReport(reportId), undefined);
    });

    it("lists and finds each report with its resolution once resolved, and an open one without", async function () {
      const open = await addReport();
      const resolved = await addReport();
      const resolution = acted();
      await store().resolveReport(resolved.reportId, resolution);
      const listed = new Map((await store().listReports(500)).map((report) => [report.reportId, report]));
      assert.deepEqual(listed.get(resolved.reportId)?.resolution, resolution);
      assert.ok(listed.has(open.reportId), "the open report is listed");
      assert.equal(listed.get(open.reportId)?.resolution, undefined);
      const found = await store().findReport(open.reportId);
      assert.equal(found?.conversationId, open.conversationId);
      assert.equal(found?.resolution, undefined);
    });
  });
}
