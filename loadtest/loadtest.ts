/**
 * Load scenario for people: seat clients in conversations on a running Parley node (or several
 * nodes of a cluster), run an open-loop mix of sends and reads at a fixed rate, show progress every
 * second, then summarise what the server accepted, refused (by code) and lost, and hold the run to
 * thresholds. Exit codes: 0 within thresholds, 1 over one, 2 a bad command line, 3 could not run
 * (an endpoint does not answer, or no client could join). Ctrl-C stops sending early and still
 * prints the summary. See loadtest/README.md.
 */
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { commandLine, failUsage, type Command, type Option } from "../deploy/cli.ts";
import { joinKitMember } from "./clients/kit.ts";
import { joinErrorCode, joinSdkMember } from "./clients/sdk.ts";
import { newRunId, parseTokenFile, seatMaker, userPrefixOf, type IdentitySource } from "./identities.ts";
import { parseMix, describeMix, runOpenLoop } from "./scenarios.ts";
import { probeEndpoints, seatClients } from "./seating.ts";
import { renderSummary, summarise } from "./summary.ts";
import { Tally } from "./tally.ts";
import { percentilesMs } from "./workload.ts";

const COMMAND = {
  usage: "npm run loadtest --",
  summary:
    "Seat clients in conversations on a running Parley node or cluster, run an open-loop mix of requests at a fixed rate, and report what was acknowledged, refused (by code) and lost. Exits 0 within the thresholds, 1 over one, 2 on a bad command line, 3 when it cannot run (endpoint down, no client joined).",
  options: {
    endpoint: { kind: "string", default: "http://127.0.0.1:2567", help: "node URL (http, https, ws or wss); a comma-separated list spreads clients over a cluster" },
    clients: { kind: "integer", default: 500, min: 1, max: 100_000, help: "clients, seated evenly in --rooms conversations" },
    rooms: { kind: "integer", default: 50, min: 1, max: 100_000, help: "conversations, channel:<conversation-prefix><n>" },
    rate: { kind: "number", default: 500, min: 0.1, max: 1_000_000, help: "operations per second in total (messages, with the default --mix), open loop" },
    duration: { kind: "number", default: 30, min: 0.1, max: 86_400, help: "seconds of load" },
    bytes: { kind: "integer", default: 100, min: 20, max: 2000, help: "text length of each message" },
    "ack-timeout": { kind: "integer", default: 10_000, min: 100, max: 600_000, help: "ms after which an unanswered request counts as no answer" },
    client: { kind: "string", default: "kit", choices: ["kit", "sdk"], help: "kit: the resilient client kit (client/); sdk: the bare @colyseus/sdk 0.18" },
    mix: { kind: "string", default: "send=100", help: "operation weights: send, history, sync, typing, unread (e.g. send=90,history=4,sync=4,typing=2)" },
    ramp: { kind: "number", default: 0, min: 0, max: 3600, help: "seconds over which joins start evenly; 0 joins as fast as they can" },
    "seat-timeout": { kind: "number", default: 30, min: 1, max: 3600, help: "seconds after the ramp after which clients still joining are given up" },
    drain: { kind: "number", default: 5, min: 0, max: 600, help: "seconds to wait after the load for outstanding acks and deliveries" },
    "max-refused-pct": { kind: "number", default: 1, min: 0, max: 100, help: "exit 1 when more than this % of requests on the wire were refused" },
    "max-lost-pct": { kind: "number", default: 0, min: 0, max: 100, help: "exit 1 when more than this % of expected deliveries (of every message not refused) never arrived" },
    "jwt-secret": { kind: "string", help: "sign an HS256 token per user with the node's JWT_SECRET (sub, name, exp in 1 h)" },
    "token-file": { kind: "string", help: "file of JWTs, one per line, handed to clients round-robin" },
    "conversation-prefix": { kind: "string", default: "load", help: "conversations are channel:<prefix><n>" },
    json: { kind: "string", help: "also write the summary as JSON to this file" },
  },
  examples: [
    "npm run loadtest -- --clients 500 --rooms 50 --rate 500",
    "npm run loadtest -- --endpoint http://10.0.0.1:2567,http://10.0.0.2:2567 --clients 2000 --rooms 200 --rate 2000 --duration 60 --ramp 20",
    "npm run loadtest -- --mix send=90,history=4,sync=4,typing=2,unread=1 --json result.json",
  ],
} as const satisfies Command<Record<string, Option>>;

const values = commandLine(COMMAND);

/** Print one line naming a bad value and exit 2. */
function usage(message: string): never {
  return failUsage(COMMAND, message);
}

const endpoints = values.endpoint.split(",").map((text) => httpEndpoint(text.trim()));
const mix = parseMix(values.mix);
if (typeof mix === "string") usage(`--mix: ${mix}`);
if (values.rooms > values.clients) usage(`--rooms (${values.rooms}) must not exceed --clients (${values.clients}): a conversation needs a client`);
if (!/^[A-Za-z0-9_-]{1,40}$/.test(values["conversation-prefix"])) usage(`--conversation-prefix must be 1..40 of A-Za-z0-9_-, got "${values["conversation-prefix"]}"`);
if (values.json !== undefined && !(existsSync(dirname(values.json)) && statSync(dirname(values.json)).isDirectory())) usage(`--json: the folder of ${values.json} does not exist`);
const source = identitySource();

/** An endpoint as the clients take it: http(s), without a trailing slash. */
function httpEndpoint(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return usage(`--endpoint must be a comma-separated list of URLs, got "${text}"`);
  }
  if (!["http:", "https:", "ws:", "wss:"].includes(url.protocol)) usage(`--endpoint must use http, https, ws or wss, got "${text}"`);
  url.protocol = url.protocol.replace("ws", "http");
  return url.href.replace(/\/$/, "");
}

/** Development identities, or tokens from --jwt-secret or --token-file. */
function identitySource(): IdentitySource {
  const secret = values["jwt-secret"];
  const file = values["token-file"];
  if (secret !== undefined && file !== undefined) return usage("--jwt-secret and --token-file exclude each other");
  if (secret !== undefined) {
    if (Buffer.byteLength(secret) < 32) usage("--jwt-secret must be at least 32 bytes, as the node's JWT_SECRET is");
    return { kind: "jwt-secret", secret: new TextEncoder().encode(secret) };
  }
  if (file === undefined) return { kind: "development" };
  let text = "";
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    usage(`--token-file: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
  const tokens = parseTokenFile(text);
  if (tokens.length === 0) usage(`--token-file: ${file} holds no token (one JWT per line)`);
  return { kind: "token-file", tokens };
}

/** Print one line and exit 3: the run could not take place. */
function cannotRun(message: string): never {
  console.error(`npm run loadtest: ${message}`);
  process.exit(3);
}

const unreachable = await probeEndpoints(endpoints, 3000);
if (unreachable.length > 0) cannotRun(unreachable.map(({ endpoint, problem }) => `cannot reach ${endpoint}: ${problem}`).join("; "));

const runId = newRunId();
const tally = new Tally(runId);
const sizes = Array.from({ length: values.rooms }, (_, n) => Math.floor(values.clients / values.rooms) + (n < values.clients % values.rooms ? 1 : 0));
const memberOptions = { endpoints, requestTimeoutMs: values["ack-timeout"], joinTimeoutMs: 10_000, maxJoinAttempts: 8, reports: tally };
const clientName = values.client === "kit" ? "client kit" : "bare SDK";
const usersLabel = source.kind === "token-file" ? "users named by --token-file" : `users ${userPrefixOf(runId)}*`;
console.log(
  `run ${runId}: seating ${values.clients} clients (${clientName}, ${source.kind} identities, ${usersLabel}) in ${values.rooms} conversations channel:${values["conversation-prefix"]}<n> on ${endpoints.join(", ")}`,
);
const startedAt = new Date().toISOString();
const seated = await seatClients(
  { sizes, rampMs: values.ramp * 1000, deadlineMs: (values.ramp + values["seat-timeout"]) * 1000 },
  seatMaker({ runId, conversationPrefix: values["conversation-prefix"], source, inboxPerConversation: mix.unread > 0 }),
  (seat, signal) => (values.client === "kit" ? joinKitMember(seat, memberOptions, signal) : joinSdkMember(seat, memberOptions, signal)),
  (error) => (error instanceof Error && "code" in error && typeof error.code === "string" ? error.code : joinErrorCode(error)),
);
const joinFailures = [...seated.failedByCode].map(([code, n]) => `${code} ${n}`).join(", ");
console.log(`seated ${seated.seated} of ${values.clients} in ${seated.seconds.toFixed(1)} s${joinFailures ? `; joins failed: ${joinFailures}` : ""}`);
if (seated.seated === 0) cannotRun(`no client could join through ${endpoints.join(", ")} (joins failed: ${joinFailures})`);

const stop = new AbortController();
// The first Ctrl-C stops the load (the drain and the summary follow); a second one exits at once.
process.on("SIGINT", () => (stop.signal.aborted ? process.exit(130) : stop.abort()));
const progress = startProgress(tally);
const sendStarted = performance.now();
await runOpenLoop(seated.seating, tally, { ratePerSec: values.rate, durationMs: values.duration * 1000, textBytes: values.bytes, mix, runId, signal: stop.signal });
const sendSeconds = (performance.now() - sendStarted) / 1000;
const drainUntil = performance.now() + values.drain * 1000;
while ((tally.pendingSends > 0 || tally.missing > 0) && performance.now() < drainUntil) await new Promise((resolve) => setTimeout(resolve, 20));
clearInterval(progress);

const summary = summarise(tally, {
  runId,
  userIdPrefix: source.kind === "token-file" ? null : userPrefixOf(runId),
  startedAt,
  endpoints,
  client: values.client as "kit" | "sdk",
  identities: source.kind,
  settings: {
    clients: values.clients,
    rooms: values.rooms,
    ratePerSec: values.rate,
    durationSec: values.duration,
    bytes: values.bytes,
    rampSec: values.ramp,
    mix: describeMix(mix),
    ackTimeoutMs: values["ack-timeout"],
    conversationPrefix: values["conversation-prefix"],
  },
  joins: { wanted: values.clients, seated: seated.seated, seconds: Math.round(seated.seconds * 1000) / 1000, failedByCode: seated.failedByCode },
  sendSeconds: Math.round(sendSeconds * 1000) / 1000,
  stoppedEarly: stop.signal.aborted,
  thresholds: { maxRefusedPct: values["max-refused-pct"], maxLostPct: values["max-lost-pct"] },
});
console.log(renderSummary(summary));
if (values.json !== undefined) {
  try {
    writeFileSync(values.json, `${JSON.stringify(summary, null, 2)}\n`);
    console.log(`summary written to ${values.json}`);
  } catch (error) {
    cannotRun(`cannot write --json ${values.json} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
}
for (const breach of summary.thresholds.exceeded) console.error(`threshold exceeded: ${breach}`);
await Promise.race([Promise.all(seated.seating.flat().map((member) => member.close())), new Promise((resolve) => setTimeout(resolve, 5000))]);
process.exit(summary.thresholds.exceeded.length > 0 ? 1 : 0);

/** Print a line every second: rates since the last line, latency so far, refusals and what is outstanding. */
function startProgress(tally: Tally): ReturnType<typeof setInterval> {
  const send = tally.counts("send");
  const refused = () => [...tally.kinds.values()].reduce((total, counts) => total + [...counts.refusals.values()].reduce((a, b) => a + b, 0), 0);
  const fmt = (ms: number) => (Number.isNaN(ms) ? "–" : ms.toFixed(1));
  const started = performance.now();
  let last = { sent: 0, acked: 0, delivered: 0, refused: 0, at: started };
  return setInterval(() => {
    const now = { sent: send.issued, acked: send.answered, delivered: tally.delivered, refused: refused(), at: performance.now() };
    const seconds = (now.at - last.at) / 1000;
    const rate = (key: "sent" | "acked" | "delivered") => ((now[key] - last[key]) / seconds).toFixed(0);
    console.log(
      `${((now.at - started) / 1000).toFixed(0).padStart(4)} s  sent ${rate("sent").padStart(6)}/s  acked ${rate("acked").padStart(6)}/s  delivered ${rate("delivered").padStart(7)}/s  ` +
        `refused ${String(now.refused - last.refused).padStart(5)}  ack p99 ${fmt(percentilesMs(send.latency).p99)} ms  delivery p99 ${fmt(percentilesMs(tally.deliveryLatency).p99)} ms  unacked ${tally.pendingSends}`,
    );
    last = now;
  }, 1000);
}
