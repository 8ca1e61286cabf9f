/**
 * Boot the real entrypoint (server/main.ts) as a child process, the way `npm start` does: used by
 * the local cluster launcher, the benchmarks and the tests.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "./services.ts";
import { waitFor } from "./wait-for.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

/**
 * Every client of a node started here (tests, the local cluster, benchmarks) connects from this
 * machine, so the per-address bounds are lifted unless `env` sets them.
 */
export const LOCAL_CLIENTS = { MAX_CONNECTIONS_PER_IP: "1000000", JOINS_PER_SEC_PER_IP: "1000000" };

export type NodeProcess = {
  port: number;
  httpUrl: string;
  child: ChildProcess;
  /** Everything the node logged so far (JSON lines). */
  output(): string;
  /** SIGTERM and wait for exit. */
  stop(): Promise<void>;
  /** Send a signal without waiting. */
  signal(signal: NodeJS.Signals): void;
  exited: Promise<number | null>;
};

/**
 * Spawn the entrypoint with only PATH and `env` from the environment, keeping the tail of its output;
 * `onLine` also gets each line as it comes.
 */
function spawnEntrypoint(env: Record<string, string | undefined>, onLine?: (line: string) => void, root = ROOT): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, [join(root, "server", "main.ts")], {
    cwd: root,
    env: { PATH: process.env.PATH, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  let partial = "";
  const collect = (chunk: Buffer) => {
    const text = chunk.toString();
    output = (output + text).slice(-200_000);
    if (!onLine) return;
    const lines = (partial + text).split("\n");
    partial = lines.pop()!.slice(-10_000);
    for (const line of lines) onLine(line);
  };
  child.stdout!.on("data", collect);
  child.stderr!.on("data", collect);
  return { child, output: () => output };
}

/**
 * Start `node server/main.ts` with the given environment (PORT: a free one unless given); resolves
 * once /healthz answers. `onLine` gets every line the node prints. `root` runs another checkout of
 * Parley (an earlier release, for a mixed-version fleet) instead of this one.
 */
export async function startNode(env: Record<string, string | undefined> = {}, onLine?: (line: string) => void, root?: string): Promise<NodeProcess> {
  const port = env.PORT ? Number(env.PORT) : await freePort();
  const { child, output: outputOf } = spawnEntrypoint({ NODE_ENV: "test", LOG_LEVEL: "info", PORT: String(port), ...LOCAL_CLIENTS, ...env }, onLine, root);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const httpUrl = `http://127.0.0.1:${port}`;
  let done = false;
  void exited.then(() => (done = true));
  await waitFor(
    async () => {
      if (done) throw new Error(`node exited at start:\n${outputOf()}`);
      return (await fetch(`${httpUrl}/healthz`).catch(() => undefined))?.ok;
    },
    { timeoutMs: 20_000, what: `node on port ${port}` },
  ).catch((error: Error) => {
    child.kill("SIGKILL");
    throw new Error(`${error.message}\n${outputOf()}`);
  });
  return {
    port,
    httpUrl,
    child,
    output: outputOf,
    exited,
    signal: (signal) => void child.kill(signal),
    async stop() {
      if (!done) {
        child.kill("SIGTERM");
        await exited;
      }
    },
  };
}

/** Run the entrypoint to completion (for startup errors); resolves with exit code and output. */
export function runNodeToExit(env: Record<string, string | undefined>, timeoutMs = 20_000): Promise<{ code: number | null; output: string }> {
  const { child, output } = spawnEntrypoint(env);
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, output: output() });
    });
  });
}
