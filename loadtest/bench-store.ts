/**
 * What the durable store itself costs per message (issue #16: "the store on its own line"): the
 * MongoDB-wire server's CPU per stored message, against the indexes of the messages collection and
 * the size of each insert, with nothing of Parley in between but the driver call a group commit
 * makes (an ordered insertMany with the node's write concern).
 *
 *   npm run bench:store                       # 20,000 messages per case, batches of 5, 20, 100, 2 rounds
 *   npm run bench:store -- --batches 20 --rounds 3
 *
 * The store is the one the other benches use (mongod if installed, else FerretDB on SQLite), pinned to
 * CPU 0 and this process to CPU 1. Index sets: the messages collection's own (models.ts: _id, the seq
 * fence and the clientMsgId fence), without the clientMsgId fence, and _id alone; each case in a new
 * database. Printed and written to --out/store.md. Numbers are reported, never asserted.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MongoClient } from "mongodb";
import { commandLine, failUsage, positiveList } from "../deploy/cli.ts";
import { startMongoWire } from "../deploy/services.ts";
import { messageSchema } from "../server/history/models.ts";
import { machineLine } from "./report.ts";
import { cpuMicros, hasTaskset, pinProcess } from "./server-process.ts";
import { pidListeningOn } from "./systems.ts";
import { timedText } from "./workload.ts";

const COMMAND = {
  usage: "npm run bench:store --",
  summary: "The MongoDB-wire store's CPU per stored message against the messages collection's indexes and the insert's batch size. Results go to --out/store.md.",
  options: {
    messages: { kind: "integer", default: 20_000, min: 100, help: "messages inserted per case (after 2,000 unmeasured)" },
    batches: { kind: "string", default: "5,20,100", help: "comma-separated messages per insertMany" },
    rounds: { kind: "integer", default: 2, min: 1, help: "rounds over every case (the median is reported)" },
    conversations: { kind: "integer", default: 100, min: 1, help: "conversations the messages spread over" },
    out: { kind: "string", default: join(import.meta.dirname, "results"), help: "results folder (store.md)" },
  },
} as const;
const values = commandLine(COMMAND);
const total = Number(values.messages);
const batches = positiveList(COMMAND, "batches", values.batches);
if (batches.some((batch) => !Number.isInteger(batch))) failUsage(COMMAND, `--batches must be whole numbers of messages, got "${values.batches}"`);
const rounds = Number(values.rounds);
const conversations = Number(values.conversations);
const WARMUP_MESSAGES = 2000;

type IndexSpec = { keys: Record<string, 1>; name: string };
const modelIndexes: IndexSpec[] = messageSchema.indexes().map(([keys, options]) => ({ keys: keys as Record<string, 1>, name: String(options.name) }));
const INDEX_SETS: Array<{ label: string; indexes: IndexSpec[] }> = [
  { label: "as in models.ts (_id, conversation_seq, conversation_sender_clientMsgId)", indexes: modelIndexes },
  { label: "without conversation_sender_clientMsgId", indexes: modelIndexes.filter((index) => index.name !== "conversation_sender_clientMsgId") },
  { label: "_id only", indexes: [] },
];

pinProcess(process.pid, 1);
const store = await startMongoWire((line) => console.log(line));
const storePid = pidListeningOn(store.port);
if (storePid !== undefined) pinProcess(storePid, 0);
const storeCpu = () => (storePid === undefined ? Number.NaN : cpuMicros(storePid));
const client = await new MongoClient(store.url).connect();
// The node's default write concern (server/config.ts: MONGO_WRITE_CONCERN, MONGO_JOURNAL).
const writeConcern = { w: "majority" as const, j: true };
const text = timedText(100);

type Case = { indexes: string; batch: number; cpuUs: number[]; wallUs: number[] };
const cases: Case[] = [];
try {
  for (let round = 0; round < rounds; round++) {
    for (const set of INDEX_SETS) {
      for (const batch of batches) {
        const db = client.db(`parley_bench_store_${Date.now()}`);
        await db.createCollection("messages");
        const messages = db.collection("messages");
        for (const index of set.indexes) await messages.createIndex(index.keys, { unique: true, name: index.name });
        const lastSeq = new Array<number>(conversations).fill(0);
        const message = (i: number) => {
          const conversation = i % conversations;
          const sender = Math.floor(i / conversations) % 10;
          return {
            conversationId: `channel:load${conversation}`,
            seq: ++lastSeq[conversation]!,
            senderId: `load${conversation}_${sender}`,
            senderName: `Load ${conversation}/${sender}`,
            text,
            sentAt: new Date(),
            clientMsgId: `bench-${round}-${i}`,
          };
        };
        const insert = async (from: number, to: number) => {
          for (let i = from; i < to; i += batch)
            await messages.insertMany(
              Array.from({ length: Math.min(batch, to - i) }, (_, k) => message(i + k)),
              { ordered: true, writeConcern },
            );
        };
        await insert(0, WARMUP_MESSAGES);
        const cpuBefore = storeCpu();
        const started = performance.now();
        await insert(WARMUP_MESSAGES, WARMUP_MESSAGES + total);
        const wallUs = ((performance.now() - started) * 1000) / total;
        const cpuUs = (storeCpu() - cpuBefore) / total;
        await db.dropDatabase();
        let entry = cases.find((c) => c.indexes === set.label && c.batch === batch);
        if (entry === undefined) cases.push((entry = { indexes: set.label, batch, cpuUs: [], wallUs: [] }));
        entry.cpuUs.push(cpuUs);
        entry.wallUs.push(wallUs);
        console.log(`round ${round + 1}/${rounds}  ${set.label}, batch ${batch}: store CPU ${cpuUs.toFixed(1)} µs a message, ${wallUs.toFixed(1)} µs of wall time`);
      }
    }
  }
} finally {
  await client.close();
  await store.stop();
}

const median = (list: number[]) => {
  const sorted = [...list].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};
const baseline = cases[0]!;
const report = [
  "# The store's own cost per message (issue #16)",
  "",
  `Run ${new Date().toISOString()} by \`npm run bench:store -- --messages ${total} --batches ${batches.join(",")} --rounds ${rounds}\` (loadtest/bench-store.ts). Numbers are reported, never asserted.`,
  "",
  `- Machine: ${machineLine()}; ${hasTaskset ? "the store on CPU 0, this process on CPU 1 (taskset)" : "no taskset: unpinned"}.`,
  `- Store: ${store.kind === "mongod" ? "mongod" : "FerretDB on SQLite"}; write concern \`w: majority, j: true\` (the node's default); one insertMany at a time, ordered, as the group commit writes.`,
  `- Workload: ${total} messages per case after ${WARMUP_MESSAGES} unmeasured, over ${conversations} conversations, ${text.length}-character texts, each case in a new database; median of ${rounds} rounds.`,
  "",
  "| indexes | messages per insert | store CPU µs per message | against the first row | wall µs per message |",
  "|---|---|---|---|---|",
  ...cases.map((c) => `| ${c.indexes} | ${c.batch} | ${median(c.cpuUs).toFixed(1)} | ${(median(c.cpuUs) / median(baseline.cpuUs)).toFixed(2)}x | ${median(c.wallUs).toFixed(1)} |`),
  "",
].join("\n");
mkdirSync(String(values.out), { recursive: true });
writeFileSync(join(String(values.out), "store.md"), report);
console.log(`\n${report}\nwritten: ${join(String(values.out), "store.md")}`);
