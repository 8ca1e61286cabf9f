/**
 * Boot the real entrypoint (server/main.ts) as a child process, the way `npm start` does, and talk
 * to it with the stock @colyseus/sdk.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@colyseus/sdk";
import { SignJWT } from "jose";
import { freePort } from "./services.ts";
import { waitFor } from "./wait-for.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

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

/** Spawn the entrypoint with only PATH and `env` from the environment, keeping the tail of its output. */
function spawnEntrypoint(env: Record<string, string | undefined>): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, [join(ROOT, "server", "main.ts")], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-200_000);
  };
  child.stdout!.on("data", collect);
  child.stderr!.on("data", collect);
  return { child, output: () => output };
}

/** Start `node server/main.ts` with the given environment (PORT: a free one unless given); resolves once /healthz answers. */
export async function startNode(env: Record<string, string | undefined> = {}): Promise<NodeProcess> {
  const port = env.PORT ? Number(env.PORT) : await freePort();
  const { child, output: outputOf } = spawnEntrypoint({ NODE_ENV: "test", LOG_LEVEL: "info", PORT: String(port), ...env });
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

/** A stock SDK client for a node. */
export function sdkClient(node: Pick<NodeProcess, "httpUrl">, token?: string): Client {
  const client = new Client(node.httpUrl);
  if (token) client.auth.token = token;
  return client;
}

/** Sign an HS256 user token the way an identity service would. */
export function signToken(secret: string, claims: { sub: string; name?: string; roles?: string[] }, expiresIn: string | number = "1h"): Promise<string> {
  return new SignJWT({ name: claims.name ?? claims.sub, ...(claims.roles ? { roles: claims.roles } : {}) })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(claims.sub)
    .setIssuedAt()
    .setExpirationTime(expiresIn)
    .sign(new TextEncoder().encode(secret));
}

/** A unique suffix for conversation ids, so suites never share a conversation. */
export function unique(prefix = "t"): string {
  return `${prefix}${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
}
