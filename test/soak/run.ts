/**
 * `npm run soak -- --duration 1h [--sessions 40] [--conversations 10] [--out FILE]`: churn on a real
 * 3-node cluster for that long, then the checks of soak.ts. Prints the result (and appends it to
 * --out); exits 1 if a message was lost, duplicated or reordered, or Redis kept a stale listing or route.
 * The store: MONGO_URL, else FerretDB on the machine's PostgreSQL (PARLEY_POSTGRES_URL), else FerretDB
 * on SQLite, which falls behind this churn within minutes (the run says so).
 */
import { appendFileSync } from "node:fs";
import os from "node:os";
import { commandLine, failUsage, type Command, type Option } from "../../deploy/cli.ts";
import { storeThatKeepsUp } from "../../deploy/services.ts";
import { formatSoak, runSoak, SOAK_DEFAULTS } from "./soak.ts";

const COMMAND = {
  usage: "npm run soak --",
  summary: "Connection and conversation churn on a real 3-node cluster for --duration; then nothing may be lost and Redis must hold no stale listing or route. Reports each node's RSS slope.",
  options: {
    duration: { kind: "string", default: "1h", help: "how long: 90s, 5m, 1h" },
    sessions: { kind: "integer", min: 1, max: 5000, default: SOAK_DEFAULTS.sessions, help: "users connected at any moment" },
    conversations: { kind: "integer", min: 1, max: 10_000, default: SOAK_DEFAULTS.conversations, help: "conversations per generation (a new generation every minute)" },
    out: { kind: "string", help: "append the result (Markdown) to this file" },
  },
} as const satisfies Command<Record<string, Option>>;
const values = commandLine(COMMAND);

const durationMs = parseDuration(String(values.duration));
if (durationMs === undefined) failUsage(COMMAND, `--duration: "${values.duration}" is not a duration like 90s, 5m or 1h`);

const say = (line: string) => console.log(`  [soak] ${line}`);
const store = await storeThatKeepsUp(say);
const options = { ...SOAK_DEFAULTS, durationMs, sessions: Number(values.sessions), conversations: Number(values.conversations), mongoUrl: store.url, say };
const result = await runSoak(options).finally(() => store.stop());
const text = `## Soak, ${new Date().toISOString()} (npm run soak -- --duration ${values.duration})\n\n${os.cpus()[0]?.model}, ${os.cpus().length} cores, Node ${process.version}; store ${store.label}.\n${formatSoak(options, result)}\n`;
console.log(text);
if (values.out) appendFileSync(String(values.out), `${text}\n`);
process.exit(result.report.ok && result.staleListings === 0 && result.staleRoutes === 0 ? 0 : 1);

function parseDuration(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(s|m|h)$/.exec(text.trim());
  if (!match) return undefined;
  const value = Number(match[1]) * { s: 1000, m: 60_000, h: 3_600_000 }[match[2] as "s" | "m" | "h"];
  return value > 0 ? value : undefined;
}
