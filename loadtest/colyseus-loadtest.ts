/**
 * Parley's `chat` room under @colyseus/loadtest, the tool Colyseus users know: its live terminal
 * view shows connections, failures, bytes, CPU and memory while every client sends plain
 * `room.send("send", { clientMsgId, text })` on an interval (a fan-out soak).
 *
 *   npm run loadtest:colyseus -- --numClients 500 --endpoint ws://127.0.0.1:2567 [--delay 10]
 *                                [--rooms 50] [--interval 2000] [--bytes 100] [--conversation-prefix load]
 *
 * The tool (0.17.8, the newest on npm) brings its own @colyseus/sdk 0.17 and counts only the joins
 * made through that copy, so this scenario joins through it rather than the project's 0.18 SDK.
 * SDK 0.17 has no `room.request`: there is no ack to time. Following docs/protocol.md section 9,
 * a sender's own message coming back is its acknowledgement and a refusal comes back as an `error`
 * message naming `request: "send"` and the clientMsgId; both are counted and logged every 5 s.
 * Development identities only (the node runs without JWT_SECRET). `npm run loadtest` is the tool
 * that holds a run to thresholds; see loadtest/README.md.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { cli, type Options } from "@colyseus/loadtest";
import { failUsage } from "../deploy/cli.ts";
import { newRunId } from "./identities.ts";
import { timedText } from "./workload.ts";

/** The part of an SDK 0.17 room this scenario uses. */
type Room17 = {
  send(type: string, payload?: unknown): void;
  onMessage(type: string, handler: (payload: never) => void): void;
  onLeave(handler: (code: number) => void): void;
};
type Client17 = { joinOrCreate(roomName: string, options: Record<string, unknown>): Promise<Room17> };

/** Every server message of room `chat` (docs/protocol.md section 3): the SDK warns about unregistered ones. */
const CHAT_SERVER_MESSAGES = ["message", "typing", "read", "migrate", "error", "welcome", "deleted", "removed"];

/** Rejoins a client attempts in a row after an unexpected close or a migrate. */
const MAX_REJOINS = 5;
const REPORT_EVERY_MS = 5000;

const USAGE = { usage: "npm run loadtest:colyseus --" };
const EXTRA_HELP = `Parley's scenario for @colyseus/loadtest (its own options follow):
    --rooms: conversations channel:<conversation-prefix><n>; client i joins n = i % rooms (default 10)
    --interval: milliseconds between two sends of one client (default 2000)
    --bytes: text length of each message (default 100)
    --conversation-prefix: conversations are channel:<prefix><n> (default load)
`;

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: { rooms: { type: "string" }, interval: { type: "string" }, bytes: { type: "string" }, "conversation-prefix": { type: "string" }, help: { type: "boolean" } },
  strict: false,
});
if (values.help) console.log(EXTRA_HELP);
const wholeNumber = (name: string, raw: unknown, fallback: number, min: number, max: number): number => {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (typeof raw !== "string" || !Number.isInteger(value) || value < min || value > max) failUsage(USAGE, `--${name} must be a whole number from ${min} to ${max}, got "${String(raw)}"`);
  return value;
};
const settings = {
  rooms: wholeNumber("rooms", values.rooms, 10, 1, 100_000),
  intervalMs: wholeNumber("interval", values.interval, 2000, 10, 3_600_000),
  bytes: wholeNumber("bytes", values.bytes, 100, 20, 2000),
  conversationPrefix: String(values["conversation-prefix"] ?? "load"),
  runId: newRunId(),
};
if (!/^[A-Za-z0-9_-]{1,40}$/.test(settings.conversationPrefix)) failUsage(USAGE, `--conversation-prefix must be 1..40 of A-Za-z0-9_-, got "${settings.conversationPrefix}"`);

/** The @colyseus/sdk that @colyseus/loadtest itself imports: the copy whose joins its view counts. */
async function loadtestSdk(): Promise<{ Client: new (endpoint: string) => Client17; version: string }> {
  const require = createRequire(import.meta.resolve("@colyseus/loadtest"));
  const manifestPath = require.resolve("@colyseus/sdk/package.json");
  const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as { version: string; exports: { ".": { import: string } } };
  const sdk = (await import(pathToFileURL(join(dirname(manifestPath), manifest.exports["."].import)).href)) as { Client: new (endpoint: string) => Client17 };
  return { Client: sdk.Client, version: manifest.version };
}

/** Counts since the last report line. */
function createCounters() {
  return { sent: 0, echoed: 0, deliveries: 0, refused: new Map<string, number>(), migrates: 0, rejoins: 0, latencies: [] as number[] };
}

const { Client, version: sdkVersion } = await loadtestSdk();
let counters = createCounters();
const report = setInterval(() => {
  const latencies = counters.latencies.sort((a, b) => a - b);
  const p99 = latencies.length === 0 ? "–" : latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.99))]!.toFixed(1);
  const refused = [...counters.refused].map(([code, n]) => `${code} ${n}`).join(", ") || "none";
  console.info(
    `last ${REPORT_EVERY_MS / 1000} s: sent ${counters.sent}, own echoes (acks) ${counters.echoed}, refused ${refused}, deliveries ${counters.deliveries} (p99 ${p99} ms), migrates ${counters.migrates}, rejoins ${counters.rejoins}`,
  );
  counters = createCounters();
}, REPORT_EVERY_MS);
report.unref();

/** One load client: join its conversation, send on an interval, rejoin after a migrate or a drop. */
async function main(options: Options): Promise<void> {
  const index = options.clientId;
  const userId = `cl${settings.runId}-${index}`;
  const conversationId = `channel:${settings.conversationPrefix}${index % settings.rooms}`;
  const client = new Client(options.endpoint);
  let sent = 0;
  let rejoins = 0;

  const join = async (): Promise<void> => {
    const room = await client.joinOrCreate(options.roomName, { conversationId, userId, name: `Colyseus load ${index}` });
    for (const type of CHAT_SERVER_MESSAGES) room.onMessage(type, () => undefined);
    room.onMessage("message", (message: { senderId?: string; text?: string }) => {
      counters.deliveries++;
      if (message.senderId === userId) counters.echoed++;
      const sentAt = Number.parseFloat(message.text ?? "");
      if (Number.isFinite(sentAt) && counters.latencies.length < 100_000) counters.latencies.push(performance.now() - sentAt);
    });
    room.onMessage("error", (error: { code?: string; request?: string }) => {
      const key = `${error.request ?? "message"}:${error.code ?? "UNKNOWN"}`;
      counters.refused.set(key, (counters.refused.get(key) ?? 0) + 1);
    });
    room.onMessage("migrate", () => void counters.migrates++);
    // Spread the first sends over one interval, so clients that joined together do not send together.
    let timer: ReturnType<typeof setInterval> | undefined;
    const first = setTimeout(() => {
      timer = setInterval(() => {
        room.send("send", { clientMsgId: `${userId}-${sent++}`, text: timedText(settings.bytes) });
        counters.sent++;
      }, settings.intervalMs);
    }, Math.random() * settings.intervalMs);
    room.onLeave((code) => {
      clearTimeout(first);
      clearInterval(timer);
      // 4000: we left; 4403: removed by moderation, which a client must not undo by itself.
      if (code === 4000 || code === 4403 || rejoins >= MAX_REJOINS) return console.warn(`client ${index} left with ${code}`);
      rejoins++;
      counters.rejoins++;
      setTimeout(
        () =>
          join().then(
            () => void (rejoins = 0),
            (error: unknown) => console.error(`client ${index} could not rejoin: ${String(error)}`),
          ),
        250 + Math.random() * 750,
      );
    });
  };
  await join();
}

// Parley's room is `chat`: the tool wants it named, so name it unless the caller did.
if (!process.argv.some((arg) => /^--room(Id)?(=|$)/.test(arg))) process.argv.push("--room", "chat");
cli(main);
console.info(
  `Parley chat scenario: run ${settings.runId}, users cl${settings.runId}-<i>, ${settings.rooms} conversations channel:${settings.conversationPrefix}<n>, a send every ${settings.intervalMs} ms per client, @colyseus/sdk ${sdkVersion}`,
);
