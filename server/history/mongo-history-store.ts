/**
 * The durable HistoryStore on MongoDB (or any MongoDB-wire server) through mongoose. Passes the same
 * contract suite as the in-memory store.
 */
import DataLoader from "dataloader";
import mongoose, { type Connection } from "mongoose";
import type { AppendOutcome, HistoryStore, Message, MessagePage } from "../../rooms/history-store.ts";
import type { Logger } from "../logger.ts";
import { historyModels } from "./models.ts";

export type MongoHistoryOptions = {
  logger: Logger;
  /** Server selection and socket timeouts, in ms. */
  timeoutMs: number;
  /** @default { w: "majority", j: true } */
  writeConcern?: { w: number | "majority"; j: boolean };
};

type MessageDoc = Omit<Message, "sentAt"> & { sentAt: Date };

const DUPLICATE_KEY = 11000;
/** Most conversations in one batched epoch read. */
const EPOCHS_PER_READ = 500;
/** The longest a batch of epoch reads waits for the read before it (one that hangs, say). */
const EPOCH_READ_WAIT_MS = 1000;
const PROJECTION = { _id: 0, conversationId: 1, seq: 1, senderId: 1, senderName: 1, text: 1, sentAt: 1, clientMsgId: 1, deleted: 1, filtered: 1, shadow: 1 } as const;

export class MongoHistoryStore implements HistoryStore {
  readonly #connection: Connection;
  readonly #models: ReturnType<typeof historyModels>;
  readonly #writeConcern: { w: number | "majority"; j: boolean };
  /**
   * Epoch reads, batched: every room that opens reads its conversation's epoch, and a drain opens
   * thousands of rooms on a node within seconds (at 6,700, one query each, FerretDB took 1.6 s p50
   * to open a room). While one read is out, the conversations asked for meanwhile wait for it and
   * then go together in one `$in` query: one read as before when reads are rare, no timer.
   */
  readonly #epochs: DataLoader<string, string>;
  #epochRead: Promise<unknown> | undefined;

  private constructor(connection: Connection, options: MongoHistoryOptions) {
    this.#connection = connection;
    this.#models = historyModels(connection);
    this.#writeConcern = options.writeConcern ?? { w: "majority", j: true };
    this.#epochs = new DataLoader((ids) => this.#readEpochs(ids), {
      cache: false,
      maxBatchSize: EPOCHS_PER_READ,
      batchScheduleFn: (dispatch) => {
        if (this.#epochRead === undefined) return process.nextTick(dispatch);
        // After the read that is out, or after a while if it hangs (each caller has its own timeout).
        let dispatched = false;
        const once = () => {
          if (dispatched) return;
          dispatched = true;
          clearTimeout(fallback);
          dispatch();
        };
        const fallback = setTimeout(once, EPOCH_READ_WAIT_MS);
        void this.#epochRead.then(once, once);
      },
    });
  }

  async #readEpochs(ids: readonly string[]): Promise<string[]> {
    const read = this.#models.Conversation.find({ _id: { $in: ids } }, { epoch: 1 })
      .lean<Array<{ _id: string; epoch?: string }>>()
      .exec();
    this.#epochRead = read;
    try {
      const docs = await read;
      const byId = new Map(docs.map((doc) => [doc._id, doc.epoch ?? "1"]));
      return ids.map((id) => byId.get(id) ?? "1");
    } finally {
      if (this.#epochRead === read) this.#epochRead = undefined;
    }
  }

  /** Connect, create the indexes, and return the store. */
  static async connect(url: string, options: MongoHistoryOptions): Promise<MongoHistoryStore> {
    const connection = mongoose.createConnection(url, {
      serverSelectionTimeoutMS: options.timeoutMs,
      socketTimeoutMS: Math.max(options.timeoutMs * 2, 10_000),
      connectTimeoutMS: options.timeoutMs,
      // A checkout waiting for a connection (the pool is cleared after a network error) gives up too.
      waitQueueTimeoutMS: options.timeoutMs,
      bufferCommands: false,
      autoIndex: false,
      autoCreate: true,
    });
    await connection.asPromise();
    const store = new MongoHistoryStore(connection, options);
    await Promise.all(Object.values(store.#models).map((model) => model.createIndexes()));
    // Migration: the unique index of one-document-per-user cursors would refuse the second position.
    await store.#models.ReadCursor.collection.dropIndex("conversation_user").catch(() => undefined);
    connection.on("disconnected", () => options.logger.warn({}, "history store disconnected"));
    connection.on("reconnected", () => options.logger.info({}, "history store reconnected"));
    options.logger.info({ host: connection.host, db: connection.name }, "history store connected");
    return store;
  }

  async appendMessages(messages: readonly Message[]): Promise<AppendOutcome> {
    if (messages.length === 0) return { stored: 0 };
    const docs: MessageDoc[] = messages.map((message) => ({ ...message, sentAt: new Date(message.sentAt) }));
    try {
      await this.#models.Message.collection.insertMany(docs, { ordered: true, writeConcern: this.#writeConcern });
    } catch (error) {
      const failure = firstWriteError(error);
      if (!failure || failure.code !== DUPLICATE_KEY) throw error;
      const refused = messages[failure.index]!;
      const original = await this.findByClientMsgId(refused.conversationId, refused.senderId, refused.clientMsgId);
      const kind = original ? "duplicate-client-msg" : "seq-taken";
      return { stored: failure.index, conflict: { index: failure.index, kind } };
    }
    return { stored: messages.length };
  }

  async findByClientMsgId(conversationId: string, senderId: string, clientMsgId: string): Promise<Message | undefined> {
    const doc = await this.#models.Message.findOne({ conversationId, senderId, clientMsgId }, PROJECTION).lean<MessageDoc>();
    return doc ? toMessage(doc) : undefined;
  }

  async lastSeq(conversationId: string): Promise<number> {
    const doc = await this.#models.Message.findOne({ conversationId }, { _id: 0, seq: 1 }).sort({ seq: -1 }).lean<{ seq: number }>();
    return doc?.seq ?? 0;
  }

  async listBefore(conversationId: string, beforeSeq: number | undefined, limit: number): Promise<MessagePage> {
    const filter = beforeSeq === undefined ? { conversationId } : { conversationId, seq: { $lt: beforeSeq } };
    const docs = await this.#models.Message.find(filter, PROJECTION)
      .sort({ seq: -1 })
      .limit(limit + 1)
      .lean<MessageDoc[]>();
    const hasMore = docs.length > limit;
    return { messages: docs.slice(0, limit).reverse().map(toMessage), hasMore };
  }

  async listAfter(conversationId: string, afterSeq: number, limit: number): Promise<MessagePage> {
    const docs = await this.#models.Message.find({ conversationId, seq: { $gt: afterSeq } }, PROJECTION)
      .sort({ seq: 1 })
      .limit(limit + 1)
      .lean<MessageDoc[]>();
    const hasMore = docs.length > limit;
    return { messages: docs.slice(0, limit).map(toMessage), hasMore };
  }

  async advanceReadCursor(conversationId: string, userId: string, seq: number): Promise<number> {
    // Insert-only, so concurrent advances cannot lower the cursor: FerretDB applies $max and
    // conditional updates as read-then-write, and lost those races.
    try {
      await this.#models.ReadCursor.collection.insertOne({ conversationId, userId, seq } as never, { writeConcern: this.#writeConcern });
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
    }
    const current = await this.readCursor(conversationId, userId);
    await this.#models.ReadCursor.deleteMany({ conversationId, userId, seq: { $lt: current } });
    return current;
  }

  async readCursor(conversationId: string, userId: string): Promise<number> {
    const doc = await this.#models.ReadCursor.findOne({ conversationId, userId }, { _id: 0, seq: 1 }).sort({ seq: -1 }).lean<{ seq: number }>();
    return doc?.seq ?? 0;
  }

  async recordConversation(conversationId: string, kind: "dm" | "group", members: readonly string[]): Promise<void> {
    // An insert, not an upsert: upserts racing message inserts deadlock FerretDB's SQLite backend
    // (docs/architecture.md, "Data stores"). A dm's members never change, so the first insert wins.
    try {
      await this.#models.Conversation.collection.insertOne({ _id: conversationId, kind, members: [...members].sort() } as never, { writeConcern: this.#writeConcern });
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
      if (kind === "group") {
        await this.#models.Conversation.updateOne({ _id: conversationId }, { $addToSet: { members: { $each: [...members] } } }, { writeConcern: this.#writeConcern });
      }
    }
  }

  async setMember(groupId: string, userId: string, member: boolean): Promise<void> {
    if (member) return this.recordConversation(groupId, "group", [userId]);
    await this.#models.Conversation.updateOne({ _id: groupId }, { $pull: { members: userId } }, { writeConcern: this.#writeConcern });
  }

  async members(conversationId: string): Promise<string[]> {
    const doc = await this.#models.Conversation.findById(conversationId, { _id: 0, members: 1 }).lean<{ members?: string[] }>();
    return [...(doc?.members ?? [])].sort();
  }

  async conversationsOf(userId: string, limit: number): Promise<string[]> {
    const docs = await this.#models.Conversation.find({ members: userId }, { _id: 1 }).sort({ _id: 1 }).limit(limit).lean<{ _id: string }[]>();
    return docs.map((doc) => doc._id);
  }

  async tombstone(conversationId: string, seq: number): Promise<boolean> {
    // Through the driver: mongoose would refuse the empty text its schema requires.
    const result = await this.#models.Message.collection.updateOne({ conversationId, seq }, { $set: { text: "", deleted: true }, $unset: { filtered: "" } }, { writeConcern: this.#writeConcern });
    return result.matchedCount > 0;
  }

  epoch(conversationId: string): Promise<string> {
    return this.#epochs.load(conversationId);
  }

  /** The connection, for the moderation store that shares it. */
  get connection(): Connection {
    return this.#connection;
  }

  async ping(): Promise<void> {
    const db = this.#connection.db;
    if (!db || this.#connection.readyState !== 1) throw new Error("history store is not connected");
    await db.command({ ping: 1 });
  }

  async close(): Promise<void> {
    await this.#connection.close();
  }
}

function isDuplicateKey(error: unknown): boolean {
  return typeof error === "object" && error !== null && (error as { code?: unknown }).code === DUPLICATE_KEY;
}

function toMessage(doc: MessageDoc): Message {
  return {
    conversationId: doc.conversationId,
    seq: doc.seq,
    senderId: doc.senderId,
    senderName: doc.senderName,
    text: doc.text,
    sentAt: new Date(doc.sentAt).toISOString(),
    clientMsgId: doc.clientMsgId,
    ...(doc.deleted && { deleted: true as const }),
    ...(doc.filtered && { filtered: true as const }),
    ...(doc.shadow && { shadow: true as const }),
  };
}

/** The first write error of a failed ordered insertMany, with its index and code. */
function firstWriteError(error: unknown): { index: number; code: number } | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const writeErrors = (error as { writeErrors?: unknown }).writeErrors;
  const first = Array.isArray(writeErrors) ? writeErrors[0] : writeErrors;
  if (first && typeof first === "object") {
    const { index, code } = first as { index?: unknown; code?: unknown };
    if (typeof index === "number" && typeof code === "number") return { index, code };
  }
  // A single-document insert may surface as a plain duplicate-key error.
  if (isDuplicateKey(error)) return { index: 0, code: DUPLICATE_KEY };
  return undefined;
}
