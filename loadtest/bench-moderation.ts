/**
 * How soon a moderation action holds on another node: a 2-node cluster (its own Redis and
 * MongoDB-wire store unless REDIS_URL / MONGO_URL are set), the target seated on node B, the action
 * taken through node A's HTTP API; the time from the HTTP reply to the first send node B refuses
 * (mute) or accepts again (unmute). Printed, never asserted.
 *
 *   npm run bench:moderation -- [--rounds 50]
 */
import os from "node:os";
import { Client, type Room } from "@colyseus/sdk";
import { commandLine } from "../deploy/cli.ts";
import { startCluster } from "../deploy/cluster.ts";
import { startMongoWire, startRedis, type Service } from "../deploy/services.ts";

const values = commandLine({
  usage: "npm run bench:moderation --",
  summary: "Time from a moderation action's HTTP reply (node A) to its effect on a user seated on node B: mute, then unmute, round after round.",
  options: { rounds: { kind: "integer", default: 50, min: 1, max: 10_000, help: "mute/unmute rounds" } },
});

const services: Service[] = [];
const redisUrl = process.env.REDIS_URL ?? services[services.push(await startRedis()) - 1]!.url;
const mongoUrl = process.env.MONGO_URL ?? services[services.push(await startMongoWire()) - 1]!.url;
const cluster = await startCluster({ nodes: 2, redisUrl, mongoUrl, env: { SEND_RATE_PER_SEC: "100000", SEND_BURST: "100000", REQUEST_RATE_PER_SEC: "100000" } });
const [a, b] = cluster.nodes as [(typeof cluster.nodes)[0], (typeof cluster.nodes)[0]];
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

try {
  const target = `target${Date.now().toString(36)}`;
  const room: Room = await new Client(b.httpUrl).joinOrCreate("chat", { conversationId: `channel:bench-moderation-${target}`, userId: target });
  room.onMessage("*", () => undefined);
  let n = 0;
  const sendOutcome = () =>
    room.request("send", { clientMsgId: `m${n++}`, text: "probe" }).then(
      () => "accepted",
      (error: { reason?: { code?: string } }) => error.reason?.code ?? "failed",
    );
  const act = async (type: string) => {
    const response = await fetch(`${a.httpUrl}/v1/moderation/actions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-parley-user": "bench", "x-parley-roles": "moderator" },
      body: JSON.stringify({ actionId: `bench-${target}-${n++}`, type, userId: target }),
    });
    if (!response.ok) throw new Error(`${type} answered ${response.status}: ${await response.text()}`);
    return performance.now();
  };
  /** Milliseconds from `repliedAt` until a send's outcome is `wanted`, probing back to back. */
  const until = async (repliedAt: number, wanted: string) => {
    for (;;) {
      if ((await sendOutcome()) === wanted) return performance.now() - repliedAt;
      if (performance.now() - repliedAt > 10_000) throw new Error(`no ${wanted} within 10 s`);
    }
  };
  const mute: number[] = [];
  const unmute: number[] = [];
  for (let round = 0; round < values.rounds; round++) {
    mute.push(await until(await act("mute"), "FORBIDDEN"));
    unmute.push(await until(await act("unmute"), "accepted"));
  }
  const row = (name: string, list: number[]) => {
    const sorted = [...list].sort((x, y) => x - y);
    return `| ${name} | ${list.length} | ${percentile(sorted, 50).toFixed(1)} | ${percentile(sorted, 99).toFixed(1)} | ${sorted.at(-1)!.toFixed(1)} |`;
  };
  console.log(
    [
      `# Moderation propagation (npm run bench:moderation -- --rounds ${values.rounds})`,
      "",
      `${new Date().toISOString()}. ${os.cpus()[0]?.model}, ${os.cpus().length} cores, Node ${process.version}. Two nodes on one machine, Redis pub/sub, store ${process.env.MONGO_URL ? "MONGO_URL" : "FerretDB (SQLite)"}.`,
      "The time includes one send round trip on node B (the probe that sees the change).",
      "",
      "| action | rounds | p50 ms | p99 ms | max ms |",
      "|---|---|---|---|---|",
      row("mute, until node B refuses", mute),
      row("unmute, until node B accepts", unmute),
    ].join("\n"),
  );
} finally {
  await cluster.stop();
  await Promise.all(services.map((service) => service.stop()));
}
