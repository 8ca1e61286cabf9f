/**
 * Runs the HistoryStore contract against every implementation: in memory, and on the MongoDB-wire
 * server of MONGO_URL (a database of its own per run, dropped afterwards).
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import mongoose from "mongoose";
import { MemoryHistoryStore } from "../../rooms/memory-history-store.ts";
import { MongoHistoryStore } from "../../server/history/mongo-history-store.ts";
import { createLogger } from "../../server/logger.ts";
import { withDatabase } from "../../deploy/services.ts";
import { historyStoreContract } from "./history-store.contract.ts";

historyStoreContract("MemoryHistoryStore", async () => {
  const store = new MemoryHistoryStore();
  return { store, cleanup: () => store.close() };
});

describe("MongoHistoryStore on MONGO_URL", function () {
  const mongoUrl = process.env.MONGO_URL;

  before(function () {
    if (mongoUrl === undefined || mongoUrl === "") {
      console.log("    skipping the MongoHistoryStore contract: MONGO_URL is not set (npm test provides one)");
      this.skip();
    }
  });

  historyStoreContract("MongoHistoryStore", () => mongoStoreOnNewDatabase(mongoUrl!, "parley_contract"));
});

describe("MongoHistoryStore's batched epoch reads, on MONGO_URL", function () {
  const mongoUrl = process.env.MONGO_URL;
  let store: MongoHistoryStore;
  let cleanup: (() => Promise<void>) | undefined;

  before(async function () {
    if (mongoUrl === undefined || mongoUrl === "") {
      console.log("    skipping the batched epoch reads: MONGO_URL is not set (npm test provides one)");
      this.skip();
    }
    ({ store, cleanup } = await mongoStoreOnNewDatabase(mongoUrl!, "parley_epochs"));
  });

  after(async function () {
    await cleanup?.();
  });

  it("gives each of 1,200 rooms opening at once its own conversation's epoch (reads batched 500 at a time)", async function () {
    const ids = Array.from({ length: 1200 }, (_, i) => `channel:epochs-${i}`);
    // As a restore leaves them: some conversations with an epoch of their own, the rest without one.
    const restored = new Map(ids.filter((_, i) => i % 7 === 3).map((id, i) => [id, `restored-${i}`]));
    await store.connection.collection("conversations").insertMany([...restored].map(([id, epoch]) => ({ _id: id, epoch }) as never));
    const first = await Promise.all(ids.map((id) => store.epoch(id)));
    assert.deepEqual(
      first,
      ids.map((id) => restored.get(id) ?? "1"),
    );
    // Reads are not cached: a new epoch shows at the next read.
    await store.connection.collection("conversations").updateOne({ _id: ids[0] as never }, { $set: { epoch: "later" } }, { upsert: true });
    assert.equal(await store.epoch(ids[0]!), "later");
  });
});

/** A MongoHistoryStore on a database of its own on `mongoUrl`'s server, and how to close it and drop that database. */
async function mongoStoreOnNewDatabase(mongoUrl: string, prefix: string): Promise<{ store: MongoHistoryStore; cleanup(): Promise<void> }> {
  const url = withDatabase(mongoUrl, `${prefix}_${randomUUID().replaceAll("-", "").slice(0, 12)}`);
  const store = await MongoHistoryStore.connect(url, { logger: createLogger({ logLevel: "silent" }), timeoutMs: 5000 });
  return {
    store,
    cleanup: async () => {
      await store.close();
      await dropDatabase(url);
    },
  };
}

/** Drop a per-run database through a connection of its own (the store does not expose one). */
async function dropDatabase(url: string): Promise<void> {
  const connection = await mongoose.createConnection(url, { serverSelectionTimeoutMS: 5000 }).asPromise();
  try {
    await connection.dropDatabase();
  } finally {
    await connection.close();
  }
}
