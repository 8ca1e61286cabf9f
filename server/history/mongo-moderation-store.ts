/**
 * The durable ModerationStore on MongoDB (or any MongoDB-wire server), on the history store's
 * connection. Passes the same contract suite as the in-memory store. Writes use the history's write
 * concern: an action's reply comes once it is durable.
 */
import { Schema, type Connection } from "mongoose";
import type { ModerationSnapshot, Sanction } from "../../rooms/moderation.ts";
import { reportIdOf, scopeOf, type ModerationStore, type StoredReport } from "../../rooms/moderation-store.ts";
import type { Message } from "../../schema/chat.ts";
import { RefusalError } from "../../schema/codes.ts";
import type { AuditEntry, Report, ReportResolution } from "../../schema/moderation.ts";

const actionSchema = new Schema({ _id: String }, { collection: "moderation_actions", versionKey: false, autoIndex: false, strict: false });
actionSchema.index({ at: -1 }, { name: "at" });
actionSchema.index({ userId: 1, at: -1 }, { name: "user_at" });
actionSchema.index({ conversationId: 1, at: -1 }, { name: "conversation_at" });
const sanctionSchema = new Schema({ _id: String }, { collection: "sanctions", versionKey: false, autoIndex: false, strict: false });
const slowModeSchema = new Schema({ _id: String }, { collection: "slow_modes", versionKey: false, autoIndex: false, strict: false });
const blockSchema = new Schema({ _id: String }, { collection: "blocks", versionKey: false, autoIndex: false, strict: false });
const reportSchema = new Schema({ _id: String }, { collection: "reports", versionKey: false, autoIndex: false, strict: false });
reportSchema.index({ at: -1 }, { name: "at" });
// A report's resolution, under the report's id: the first insert wins on the unique _id. Not a field
// of the report: a conditional update (`resolution: { $exists: false }`) is not atomic on every
// MongoDB-wire server (FerretDB 1.24 on SQLite let two racing updates both match); an insert is.
const reportResolutionSchema = new Schema({ _id: String }, { collection: "report_resolutions", versionKey: false, autoIndex: false, strict: false });

const DUPLICATE_KEY = 11000;
type WriteConcern = { w: number | "majority"; j: boolean };

export class MongoModerationStore implements ModerationStore {
  readonly #models;
  readonly #writeConcern: WriteConcern;

  private constructor(connection: Connection, writeConcern: WriteConcern) {
    this.#models = {
      Action: connection.model("ModerationAction", actionSchema),
      Sanction: connection.model("Sanction", sanctionSchema),
      SlowMode: connection.model("SlowMode", slowModeSchema),
      Block: connection.model("Block", blockSchema),
      Report: connection.model("Report", reportSchema),
      ReportResolution: connection.model("ReportResolution", reportResolutionSchema),
    };
    this.#writeConcern = writeConcern;
  }

  /** The store on an open connection, its indexes created. */
  static async open(connection: Connection, writeConcern: WriteConcern): Promise<MongoModerationStore> {
    const store = new MongoModerationStore(connection, writeConcern);
    await Promise.all(Object.values(store.#models).map((model) => model.createIndexes()));
    return store;
  }

  async findAction(actionId: string): Promise<AuditEntry | undefined> {
    const doc = await this.#models.Action.collection.findOne({ _id: actionId as never });
    return doc ? toAuditEntry(doc) : undefined;
  }

  async recordAction(entry: AuditEntry): Promise<{ entry: AuditEntry; duplicate: boolean }> {
    try {
      await this.#models.Action.collection.insertOne({ _id: entry.actionId as never, ...entry, atDate: new Date(entry.at) }, { writeConcern: this.#writeConcern });
      return { entry, duplicate: false };
    } catch (error) {
      if ((error as { code?: unknown }).code !== DUPLICATE_KEY) throw error;
      const first = await this.findAction(entry.actionId);
      if (!first) throw error;
      return { entry: first, duplicate: true };
    }
  }

  async listActions({ userId, conversationId, limit }: { userId?: string; conversationId?: string; limit: number }): Promise<AuditEntry[]> {
    const filter: Record<string, string> = {};
    if (userId !== undefined) filter.userId = userId;
    if (conversationId !== undefined) filter.conversationId = conversationId;
    const docs = await this.#models.Action.collection.find(filter).sort({ at: -1 }).limit(limit).toArray();
    return docs.map(toAuditEntry);
  }

  async putSanction(sanction: Sanction): Promise<void> {
    const _id = `${sanction.kind} ${sanction.userId} ${scopeOf(sanction.conversationId)}`;
    await this.#models.Sanction.collection.replaceOne({ _id: _id as never }, { ...sanction }, { upsert: true, writeConcern: this.#writeConcern });
  }

  async liftSanctions(userId: string, conversationId: string | undefined, kinds: ReadonlyArray<Sanction["kind"]>): Promise<void> {
    const filter: Record<string, unknown> = { userId, kind: { $in: [...kinds] } };
    if (conversationId !== undefined) filter.conversationId = conversationId;
    await this.#models.Sanction.collection.deleteMany(filter, { writeConcern: this.#writeConcern });
  }

  async setSlowMode(conversationId: string, intervalMs: number): Promise<void> {
    if (intervalMs > 0) await this.#models.SlowMode.collection.replaceOne({ _id: conversationId as never }, { intervalMs }, { upsert: true, writeConcern: this.#writeConcern });
    else await this.#models.SlowMode.collection.deleteOne({ _id: conversationId as never }, { writeConcern: this.#writeConcern });
  }

  async setBlock(userId: string, blockedId: string, blocked: boolean): Promise<void> {
    const _id = `${userId} ${blockedId}`;
    if (blocked) await this.#models.Block.collection.replaceOne({ _id: _id as never }, { userId, blockedId }, { upsert: true, writeConcern: this.#writeConcern });
    else await this.#models.Block.collection.deleteOne({ _id: _id as never }, { writeConcern: this.#writeConcern });
  }

  async loadState(now: number): Promise<ModerationSnapshot> {
    const [sanctions, slowModes, blocks] = await Promise.all([
      this.#models.Sanction.collection.find({}).toArray(),
      this.#models.SlowMode.collection.find({}).toArray(),
      this.#models.Block.collection.find({}).toArray(),
    ]);
    return {
      sanctions: sanctions
        .map(
          (doc) =>
            ({ kind: doc.kind, userId: doc.userId, ...(doc.conversationId !== undefined && { conversationId: doc.conversationId }), ...(doc.until !== undefined && { until: doc.until }) }) as Sanction,
        )
        .filter((sanction) => sanction.until === undefined || sanction.until > now),
      slowModes: slowModes.map((doc) => ({ conversationId: String(doc._id), intervalMs: Number(doc.intervalMs) })),
      blocks: blocks.map((doc) => ({ userId: String(doc.userId), blockedId: String(doc.blockedId) })),
    };
  }

  async addReport(report: Omit<Report, "reportId">): Promise<{ reportId: string; duplicate: boolean }> {
    const reportId = reportIdOf(report.reporterId, report.conversationId, report.seq);
    try {
      await this.#models.Report.collection.insertOne({ _id: reportId as never, ...report }, { writeConcern: this.#writeConcern });
      return { reportId, duplicate: false };
    } catch (error) {
      if ((error as { code?: unknown }).code !== DUPLICATE_KEY) throw error;
      return { reportId, duplicate: true };
    }
  }

  async listReports(limit: number): Promise<StoredReport[]> {
    const docs = await this.#models.Report.collection.find({}).sort({ at: -1 }).limit(limit).toArray();
    const resolutions = await this.#models.ReportResolution.collection.find({ _id: { $in: docs.map((doc) => doc._id) } }).toArray();
    const byReportId = new Map(resolutions.map((doc) => [String(doc._id), doc]));
    return docs.map((doc) => toStoredReport(doc, byReportId.get(String(doc._id))));
  }

  async findReport(reportId: string): Promise<StoredReport | undefined> {
    const [doc, resolution] = await Promise.all([this.#models.Report.collection.findOne({ _id: reportId as never }), this.#models.ReportResolution.collection.findOne({ _id: reportId as never })]);
    return doc ? toStoredReport(doc, resolution ?? undefined) : undefined;
  }

  async resolveReport(reportId: string, resolution: ReportResolution): Promise<{ resolution: ReportResolution; duplicate: boolean }> {
    // Reports are never deleted, so one found now is still there when its resolution is written.
    if (!(await this.#models.Report.collection.findOne({ _id: reportId as never }, { projection: { _id: 1 } }))) throw new RefusalError("NOT_FOUND", `no report ${reportId}`);
    const stored = toResolution(resolution);
    try {
      await this.#models.ReportResolution.collection.insertOne({ _id: reportId as never, ...stored }, { writeConcern: this.#writeConcern });
      return { resolution: stored, duplicate: false };
    } catch (error) {
      if ((error as { code?: unknown }).code !== DUPLICATE_KEY) throw error;
      const first = await this.#models.ReportResolution.collection.findOne({ _id: reportId as never });
      if (!first) throw error;
      return { resolution: toResolution(first), duplicate: true };
    }
  }
}

function toStoredReport(doc: Record<string, unknown>, resolution: Record<string, unknown> | undefined): StoredReport {
  return {
    reportId: String(doc._id),
    conversationId: doc.conversationId as string,
    seq: doc.seq as number,
    reporterId: doc.reporterId as string,
    reason: doc.reason as string,
    at: doc.at as string,
    context: (doc.context as Message[]).map((message) => ({ ...message })),
    ...(resolution && { resolution: toResolution(resolution) }),
  };
}

/** The resolution's own fields only, in a stable order (an absent actionId stays absent). */
function toResolution(value: Record<string, unknown>): ReportResolution {
  return {
    outcome: value.outcome as ReportResolution["outcome"],
    by: String(value.by),
    at: String(value.at),
    ...(value.actionId !== undefined && value.actionId !== null && { actionId: String(value.actionId) }),
  };
}

function toAuditEntry(doc: Record<string, unknown>): AuditEntry {
  const { _id, atDate: _atDate, ...entry } = doc;
  return { ...(entry as unknown as AuditEntry), actionId: String(_id) };
}
