/**
 * Runs the ModerationStore contract against every implementation: in memory, and on the
 * MongoDB-wire server of MONGO_URL (a database of its own per run, dropped afterwards).
 */
import { randomUUID } from "node:crypto";
import { withDatabase } from "../../deploy/services.ts";
import { MemoryModerationStore } from "../../rooms/memory-moderation-store.ts";
import { MongoHistoryStore } from "../../server/history/mongo-history-store.ts";
import { MongoModerationStore } from "../../server/history/mongo-moderation-store.ts";
import { createLogger } from "../../server/logger.ts";
import { moderationStoreContract } from "./moderation-store.contract.ts";

moderationStoreContract("MemoryModerationStore", async () => ({ store: new MemoryModerationStore(), cleanup: async () => undefined }));

describe("MongoModerationStore on MONGO_URL", function () {
  const mongoUrl = process.env.MONGO_URL;
  before(function () {
    if (!mongoUrl) {
      console.log("    skipping the MongoModerationStore contract: MONGO_URL is not set (npm test provides one)");
      this.skip();
    }
  });

  moderationStoreContract("MongoModerationStore", async () => {
    const url = withDatabase(mongoUrl!, `parley_moderation_${randomUUID().replaceAll("-", "").slice(0, 12)}`);
    const history = await MongoHistoryStore.connect(url, { logger: createLogger({ logLevel: "silent" }), timeoutMs: 5000 });
    const store = await MongoModerationStore.open(history.connection, { w: 1, j: false });
    return {
      store,
      cleanup: async () => {
        await history.connection.dropDatabase();
        await history.close();
      },
    };
  });
});
