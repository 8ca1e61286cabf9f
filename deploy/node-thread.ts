/**
 * Parley nodes in worker threads of this process: each runs `createApp` as server/start.ts wires it
 * (deploy/node-thread-entry.ts), with an environment of its own, for tests where several nodes
 * matter but separate processes do not. Colyseus keeps its matchmaker in module state, one per
 * module graph; a worker thread has a module graph of its own, so two or three nodes share a process
 * without sharing a matchmaker. What a thread cannot do: take a signal (`drain()` stands in for
 * SIGTERM), or die like a killed process (`terminate()` closes its sockets cleanly).
 */
import { Worker } from "node:worker_threads";
import { LOCAL_CLIENTS } from "./node-process.ts";
import { freePort } from "./services.ts";
import { waitFor } from "./wait-for.ts";

export type NodeThread = {
  name: string;
  port: number;
  httpUrl: string;
  publicAddress: string;
  /** Everything the node logged so far (JSON lines). */
  output(): string;
  /** Drain as on SIGTERM, without waiting; `exited` tells when it is done. */
  drain(): void;
  /** The thread's exit code: 0 drained, 1 timed out or failed. */
  exited: Promise<number>;
  /** Stop the thread at once (its sockets close). */
  terminate(): Promise<void>;
};

/** Start one node thread with `env` (PORT: a free one unless given); resolves once it listens. */
export async function startNodeThread(name: string, env: Record<string, string | undefined>): Promise<NodeThread> {
  const port = env.PORT ? Number(env.PORT) : await freePort();
  const publicAddress = env.PUBLIC_ADDRESS ?? `127.0.0.1:${port}`;
  const worker = new Worker(new URL("./node-thread-entry.ts", import.meta.url), {
    env: { PATH: process.env.PATH, NODE_ENV: "test", LOG_LEVEL: "info", ...LOCAL_CLIENTS, ...env, PORT: String(port), PUBLIC_ADDRESS: publicAddress },
    stdout: true,
    stderr: true,
  });
  let output = "";
  const collect = (chunk: Buffer) => void (output = (output + chunk.toString()).slice(-200_000));
  worker.stdout.on("data", collect);
  worker.stderr.on("data", collect);
  let listening = false;
  let failure: Error | undefined;
  worker.on("message", (message: { kind?: unknown }) => void (message.kind === "listening" && (listening = true)));
  worker.on("error", (error) => void (failure = error));
  const exited = new Promise<number>((resolve) => worker.once("exit", resolve));
  let done = false;
  void exited.then(() => (done = true));
  await waitFor(
    () => {
      if (failure || done) throw new Error(`node thread ${name} stopped at start: ${failure?.message ?? "exited"}\n${output}`);
      return listening;
    },
    { timeoutMs: 20_000, what: `node thread ${name} on port ${port}` },
  ).catch(async (error: Error) => {
    await worker.terminate();
    throw error;
  });
  return {
    name,
    port,
    httpUrl: `http://127.0.0.1:${port}`,
    publicAddress,
    output: () => output,
    drain: () => worker.postMessage({ kind: "drain" }),
    exited,
    async terminate() {
      if (!done) await worker.terminate();
    },
  };
}

/** `count` room-hosting nodes (ROLE=all) in threads of this process, on one Redis and one store. */
export async function startThreadCluster(options: {
  count: number;
  redisUrl: string;
  mongoUrl?: string;
  env?: Record<string, string | undefined>;
}): Promise<{ nodes: NodeThread[]; stop(): Promise<void> }> {
  const started = await Promise.allSettled(
    Array.from({ length: options.count }, (_, index) =>
      startNodeThread(`thread-${index + 1}`, { LOG_LEVEL: "warn", ...options.env, ROLE: "all", REDIS_URL: options.redisUrl, MONGO_URL: options.mongoUrl }),
    ),
  );
  const nodes = started.flatMap((one) => (one.status === "fulfilled" ? [one.value] : []));
  const failed = started.find((one) => one.status === "rejected");
  if (failed) {
    await Promise.all(nodes.map((node) => node.terminate()));
    throw failed.reason;
  }
  return { nodes, stop: async () => void (await Promise.all(nodes.map((node) => node.terminate()))) };
}
