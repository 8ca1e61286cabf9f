/**
 * The in-memory ModerationStore: a single node's default, and the unit tests'. Lost on exit, like
 * the in-memory history. Passes the same contract suite as the MongoDB store.
 */
import { RefusalError } from "../schema/codes.ts";
import type { AuditEntry, Report, ReportResolution } from "../schema/moderation.ts";
import type { ModerationSnapshot, Sanction } from "./moderation.ts";
import { reportIdOf, scopeOf, type ModerationStore, type StoredReport } from "./moderation-store.ts";

export class MemoryModerationStore implements ModerationStore {
  #actions: AuditEntry[] = [];
  #byActionId = new Map<string, AuditEntry>();
  /** `${kind} ${userId} ${scope}` -> sanction. */
  #sanctions = new Map<string, Sanction>();
  #slowModes = new Map<string, number>();
  #blocks = new Set<string>();
  #reports = new Map<string, StoredReport>();

  async findAction(actionId: string): Promise<AuditEntry | undefined> {
    const entry = this.#byActionId.get(actionId);
    return entry && { ...entry };
  }

  async recordAction(entry: AuditEntry): Promise<{ entry: AuditEntry; duplicate: boolean }> {
    const first = this.#byActionId.get(entry.actionId);
    if (first) return { entry: { ...first }, duplicate: true };
    const copy = { ...entry };
    this.#byActionId.set(entry.actionId, copy);
    this.#actions.push(copy);
    return { entry: { ...copy }, duplicate: false };
  }

  async listActions({ userId, conversationId, limit }: { userId?: string; conversationId?: string; limit: number }): Promise<AuditEntry[]> {
    const matching = this.#actions.filter((entry) => (userId === undefined || entry.userId === userId) && (conversationId === undefined || entry.conversationId === conversationId));
    return matching
      .slice(-limit)
      .reverse()
      .map((entry) => ({ ...entry }));
  }

  async putSanction(sanction: Sanction): Promise<void> {
    this.#sanctions.set(`${sanction.kind} ${sanction.userId} ${scopeOf(sanction.conversationId)}`, { ...sanction });
  }

  async liftSanctions(userId: string, conversationId: string | undefined, kinds: ReadonlyArray<Sanction["kind"]>): Promise<void> {
    for (const [key, sanction] of this.#sanctions) {
      if (sanction.userId !== userId || !kinds.includes(sanction.kind)) continue;
      if (conversationId !== undefined && sanction.conversationId !== conversationId) continue;
      this.#sanctions.delete(key);
    }
  }

  async setSlowMode(conversationId: string, intervalMs: number): Promise<void> {
    if (intervalMs > 0) this.#slowModes.set(conversationId, intervalMs);
    else this.#slowModes.delete(conversationId);
  }

  async setBlock(userId: string, blockedId: string, blocked: boolean): Promise<void> {
    const key = `${userId} ${blockedId}`;
    if (blocked) this.#blocks.add(key);
    else this.#blocks.delete(key);
  }

  async loadState(now: number): Promise<ModerationSnapshot> {
    return {
      sanctions: [...this.#sanctions.values()].filter((sanction) => sanction.until === undefined || sanction.until > now).map((sanction) => ({ ...sanction })),
      slowModes: [...this.#slowModes].map(([conversationId, intervalMs]) => ({ conversationId, intervalMs })),
      blocks: [...this.#blocks].map((key) => {
        const [userId, blockedId] = key.split(" ") as [string, string];
        return { userId, blockedId };
      }),
    };
  }

  async addReport(report: Omit<Report, "reportId">): Promise<{ reportId: string; duplicate: boolean }> {
    const reportId = reportIdOf(report.reporterId, report.conversationId, report.seq);
    if (this.#reports.has(reportId)) return { reportId, duplicate: true };
    this.#reports.set(reportId, { reportId, ...report, context: report.context.map((message) => ({ ...message })) });
    return { reportId, duplicate: false };
  }

  async listReports(limit: number): Promise<StoredReport[]> {
    return [...this.#reports.values()].slice(-limit).reverse().map(copyOf);
  }

  async findReport(reportId: string): Promise<StoredReport | undefined> {
    const report = this.#reports.get(reportId);
    return report && copyOf(report);
  }

  // No await between the check and the write: one event-loop turn, so the first caller wins.
  async resolveReport(reportId: string, resolution: ReportResolution): Promise<{ resolution: ReportResolution; duplicate: boolean }> {
    const report = this.#reports.get(reportId);
    if (!report) throw new RefusalError("NOT_FOUND", `no report ${reportId}`);
    if (report.resolution) return { resolution: { ...report.resolution }, duplicate: true };
    report.resolution = { ...resolution };
    return { resolution: { ...resolution }, duplicate: false };
  }
}

function copyOf(report: StoredReport): StoredReport {
  return { ...report, context: report.context.map((message) => ({ ...message })), ...(report.resolution && { resolution: { ...report.resolution } }) };
}
