/**
 * Where moderation lives durably: the audit log, the sanctions, slow modes and blocks in force, and
 * reports. Rooms and the HTTP API see only this interface; server/ picks the implementation
 * (memory-moderation-store.ts, or server/history/mongo-moderation-store.ts). Every implementation
 * passes test/contract/moderation-store.contract.ts.
 */
import { createHash } from "node:crypto";
import type { AuditEntry, Report, ReportResolution } from "../schema/moderation.ts";
import type { ModerationSnapshot, Sanction } from "./moderation.ts";

/** A report as stored: with its resolution once it has one. */
export type StoredReport = Report & { resolution?: ReportResolution };

export interface ModerationStore {
  /** The audit entry recorded under `actionId`, if any. */
  findAction(actionId: string): Promise<AuditEntry | undefined>;
  /** Record an action once: a second entry with the same actionId stores nothing and returns the first. */
  recordAction(entry: AuditEntry): Promise<{ entry: AuditEntry; duplicate: boolean }>;
  /** Audit entries, newest first, optionally of one user or conversation. */
  listActions(filter: { userId?: string; conversationId?: string; limit: number }): Promise<AuditEntry[]>;
  /** Put a sanction in force, replacing one of the same kind, user and scope. Idempotent. */
  putSanction(sanction: Sanction): Promise<void>;
  /** Lift sanctions of `kinds` on a user: in one conversation, or everywhere (conversationId absent). */
  liftSanctions(userId: string, conversationId: string | undefined, kinds: ReadonlyArray<Sanction["kind"]>): Promise<void>;
  /** Set a conversation's slow mode; 0 ends it. */
  setSlowMode(conversationId: string, intervalMs: number): Promise<void>;
  /** Block or unblock. Idempotent. */
  setBlock(userId: string, blockedId: string, blocked: boolean): Promise<void>;
  /** Everything in force at `now` (expired sanctions left out). */
  loadState(now: number): Promise<ModerationSnapshot>;
  /** Record a report once per reporter and message; again returns the same reportId. */
  addReport(report: Omit<Report, "reportId">): Promise<{ reportId: string; duplicate: boolean }>;
  /** Reports, newest first, each with its resolution when it has one. */
  listReports(limit: number): Promise<StoredReport[]>;
  /** One report with its resolution, if it was recorded. */
  findReport(reportId: string): Promise<StoredReport | undefined>;
  /**
   * Record a report's resolution once, atomically: the first one stands, and any later one (the
   * same or another, from any node) stores nothing and returns the first as a duplicate. Refused
   * NOT_FOUND for a report never recorded.
   */
  resolveReport(reportId: string, resolution: ReportResolution): Promise<{ resolution: ReportResolution; duplicate: boolean }>;
}

/** A report's id: the same for the same reporter and message, so a second report is the first. */
export function reportIdOf(reporterId: string, conversationId: string, seq: number): string {
  return `rep_${createHash("sha256").update(`${conversationId}\u0000${seq}\u0000${reporterId}`).digest("hex").slice(0, 24)}`;
}

/** The scope key of a sanction: its conversation, or "" for everywhere. */
export function scopeOf(conversationId: string | undefined): string {
  return conversationId ?? "";
}
