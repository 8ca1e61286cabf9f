/**
 * Background conversations for the cluster benchmarks (bench-cluster.ts, bench-drain.ts): filler
 * children (cluster-filler.ts) each create and hold up to `roomsPerFiller` rooms, one seated client
 * each, through the nodes round-robin. Children exist because one process may hold only ~9,000
 * sockets here.
 */
import { fork, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { waitFor } from "../deploy/wait-for.ts";
import type { FillerReply, FillerRequest } from "./cluster-protocol.ts";

export type Filler = { child: ChildProcess; replies: FillerReply[] };

export async function startFiller(): Promise<Filler> {
  const child = fork(join(import.meta.dirname, "cluster-filler.ts"), [], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const filler: Filler = { child, replies: [] };
  child.on("message", (reply: FillerReply) => filler.replies.push(reply));
  await waitFor(() => filler.replies.some((reply) => reply.kind === "ready"), { timeoutMs: 20_000, what: "a filler to start" });
  return filler;
}

export async function ask<K extends FillerReply["kind"]>(filler: Filler, request: FillerRequest, kind: K, timeoutMs: number): Promise<Extract<FillerReply, { kind: K }>> {
  filler.replies = [];
  filler.child.send(request);
  return waitFor(() => filler.replies.find((reply): reply is Extract<FillerReply, { kind: K }> => reply.kind === kind), { timeoutMs, intervalMs: 100, what: `filler reply ${kind}` });
}

export type FillOptions = { roomsPerFiller: number; concurrency: number };

/** Background conversations [from, to): filler f holds indexes [f * roomsPerFiller, (f + 1) * roomsPerFiller). */
export async function fillTo(fillers: Filler[], nodeUrls: string[], from: number, to: number, roomIds: Map<number, string>, { roomsPerFiller, concurrency }: FillOptions) {
  const started = performance.now();
  const jobs = fillers.map((filler, f) => {
    const low = Math.max(from, f * roomsPerFiller);
    const high = Math.min(to, (f + 1) * roomsPerFiller);
    if (low >= high) return undefined;
    return ask(filler, { kind: "fill", from: low, to: high, nodeUrls, concurrency }, "filled", 30 * 60_000);
  });
  const replies = (await Promise.all(jobs)).filter((reply) => reply !== undefined);
  for (const reply of replies) for (const [index, roomId] of reply.roomIds) roomIds.set(index, roomId);
  const errors = replies.reduce((sum, reply) => sum + reply.errors, 0);
  const firstError = replies.find((reply) => reply.firstError)?.firstError;
  return { rooms: to - from - errors, errors, firstError, seconds: (performance.now() - started) / 1000 };
}

/** Every filler leaves its rooms (or is killed if it does not answer). */
export async function stopFillers(fillers: Filler[]): Promise<void> {
  await Promise.all(fillers.map((filler) => ask(filler, { kind: "leave" }, "left", 120_000).catch(() => filler.child.kill("SIGKILL"))));
}
