/**
 * Runs the HistoryStore contract against every implementation: in memory, and on the MongoDB-wire
 * server of MONGO_URL (a database of its own per run, dropped afterwards).
 */
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

  historyStoreContract("MongoHistoryStore", async () => {
    const url = withDatabase(mongoUrl!, `parley_contract_${randomUUID().replaceAll("-", "").slice(0, 12)}`);
    const store = await MongoHistoryStore.connect(url, { logger: createLogger({ logLevel: "silent" }), timeoutMs: 5000 });
    return {
      store,
      cleanup: async () => {
        await store.close();
        await dropDatabase(url);
      },
    };
  });
});

/** Drop a per-run database through a connection of its own (the store does not expose one). */
async function dropDatabase(url: string): Promise<void> {
  const connection = await mongoose.createConnection(url, { serverSelectionTimeoutMS: 5000 }).asPromise();
  try {
    await connection.dropDatabase();
  } finally {
    await connection.close();
  }
}
