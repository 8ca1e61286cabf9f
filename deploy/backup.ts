/**
 * Backup and restore of Parley's store over the MongoDB driver, for the drill of
 * docs/runbooks/backup-restore.md where `mongodump` is not installable. Production uses
 * `mongodump` or snapshots; whichever restores, the epoch bump below must follow it.
 *
 *   MONGO_URL=... npm run backup -- export --file parley.jsonl
 *   MONGO_URL=... npm run backup -- restore --file parley.jsonl
 *
 * A restore puts back every collection as it was in the file, then gives every conversation that
 * has messages a new history `epoch`: its `seq`s may be reused from now on, and clients that kept
 * the old epoch drop their `lastSeq` and reload (docs/protocol.md, section 8.3). Drain every node
 * afterwards so that rooms start again from the restored store.
 */
import { createReadStream, createWriteStream } from "node:fs";
import { createInterface } from "node:readline";
import mongoose from "mongoose";
import { parseConversationId } from "../rooms/conversation-id.ts";
import { commandLine, failUsage } from "./cli.ts";

const { EJSON } = mongoose.mongo.BSON;

/** The collections of a Parley database, in restore order. */
export const COLLECTIONS = ["messages", "conversations", "read_cursors", "moderation_actions", "sanctions", "slow_modes", "blocks", "reports"] as const;

type Db = NonNullable<mongoose.Connection["db"]>;

/** Write every document of every collection as one EJSON line `{ c, d }`; returns the count per collection. */
export async function exportStore(db: Db, file: string): Promise<Record<string, number>> {
  const out = createWriteStream(file);
  const counts: Record<string, number> = {};
  for (const name of COLLECTIONS) {
    counts[name] = 0;
    for await (const doc of db.collection(name).find({})) {
      if (!out.write(`${EJSON.stringify({ c: name, d: doc }, { relaxed: false })}\n`)) await new Promise<void>((resolve) => out.once("drain", () => resolve()));
      counts[name]++;
    }
  }
  await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
  return counts;
}

/**
 * Replace every collection with the file's documents, then set a new epoch on every conversation
 * with messages. Returns the counts and the epoch.
 */
export async function restoreStore(db: Db, file: string, epoch = `restored-${new Date().toISOString()}`): Promise<{ counts: Record<string, number>; epoch: string; conversations: number }> {
  const batches = new Map<string, unknown[]>(COLLECTIONS.map((name) => [name, []]));
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of lines) {
    if (line.trim() === "") continue;
    const { c, d } = EJSON.parse(line) as { c: string; d: unknown };
    const batch = batches.get(c);
    if (batch === undefined) throw new Error(`the file names an unknown collection "${c}"`);
    batch.push(d);
  }
  const counts: Record<string, number> = {};
  for (const name of COLLECTIONS) {
    const docs = batches.get(name)!;
    await db.collection(name).deleteMany({});
    if (docs.length > 0) await db.collection(name).insertMany(docs as never[], { ordered: true });
    counts[name] = docs.length;
  }
  // Every conversation with messages gets the new epoch; channels have no conversation document yet.
  const ids = (await db.collection("messages").distinct("conversationId")) as string[];
  for (const id of ids) {
    const parsed = parseConversationId(id);
    const kind = "invalid" in parsed ? "channel" : parsed.kind;
    await db.collection("conversations").updateOne({ _id: id as never }, { $set: { epoch }, $setOnInsert: { kind } }, { upsert: true });
  }
  return { counts, epoch, conversations: ids.length };
}

async function main(): Promise<void> {
  const command = {
    usage: "npm run backup --",
    summary:
      "Export Parley's store (MONGO_URL) to a file of EJSON lines, or restore one: every collection replaced, then every conversation with messages given a new history epoch, so clients reload instead of skipping reused seqs. Drain every node after a restore. Usage: npm run backup -- export|restore --file FILE",
    options: { file: { kind: "string", help: "the backup file (EJSON lines)" } },
  } as const;
  const [action, ...rest] = process.argv.slice(2);
  if (action === "--help" || action === "-h") {
    commandLine(command, ["--help"]);
    return;
  }
  if (action !== "export" && action !== "restore") failUsage(command, `the first argument must be export or restore, got "${action ?? ""}"`);
  const values = commandLine(command, rest);
  if (!values.file) failUsage(command, "--file is required");
  const url = process.env.MONGO_URL;
  if (!url) failUsage(command, "MONGO_URL is required: the store to export or restore");
  const connection = await mongoose.createConnection(url, { serverSelectionTimeoutMS: 10_000 }).asPromise();
  try {
    const db = connection.db!;
    if (action === "export") console.log(JSON.stringify({ exported: await exportStore(db, values.file) }));
    else console.log(JSON.stringify(await restoreStore(db, values.file)));
  } finally {
    await connection.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
