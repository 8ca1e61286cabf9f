/**
 * Real services for tests: redis-server and a MongoDB-wire server (mongod if installed, else
 * FerretDB on SQLite), each on a free port in a temporary directory. Used by run-tests.ts and by
 * tests that need a service of their own.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, connect } from "node:net";
import { homedir, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { waitFor } from "./wait-for.ts";

export type Service = { url: string; port: number; stop(): Promise<void> };

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

/** Resolves once something accepts TCP connections on the port. */
export async function portAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: "127.0.0.1" });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

function onPath(command: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" }).status === 0;
}

async function startProcess(name: string, command: string, args: string[], port: number, dir: string): Promise<ChildProcess> {
  const child = spawn(command, args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  let exited = false;
  child.once("exit", () => (exited = true));
  try {
    await waitFor(async () => exited || (await portAccepts(port)), { timeoutMs: 30_000, what: `${name} to listen on ${port}` });
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
  if (exited) throw new Error(`${name} exited at start: ${stderr.trim()} (dir ${dir})`);
  return child;
}

function stopper(child: ChildProcess, dir: string) {
  return async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await gone;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
}

/** Start redis-server on a free port, keeping nothing on disk. */
export async function startRedis(port?: number): Promise<Service> {
  if (!onPath("redis-server")) throw new Error("redis-server is not installed: apt-get install redis-server (or set REDIS_URL)");
  port ??= await freePort();
  const dir = mkdtempSync(join(tmpdir(), "parley-redis-"));
  const child = await startProcess("redis-server", "redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir], port, dir);
  return { url: `redis://127.0.0.1:${port}`, port, stop: stopper(child, dir) };
}

const FERRETDB_VERSION = "v1.24.2";

/** Where the FerretDB binary is kept between runs. */
export function ferretdbPath(): string {
  return process.env.PARLEY_FERRETDB ?? join(homedir(), ".cache", "parley", `ferretdb-${FERRETDB_VERSION}`);
}

/** Build FerretDB once if it is missing; throws naming what to install when it cannot. */
export function ensureFerretdb(log: (line: string) => void = () => {}): string {
  const binary = ferretdbPath();
  if (existsSync(binary)) return binary;
  log(`building FerretDB ${FERRETDB_VERSION} once into ${binary} (a few minutes)`);
  const script = join(dirname(fileURLToPath(import.meta.url)), "build-ferretdb.sh");
  const built = spawnSync("bash", [script, binary], { stdio: ["ignore", "inherit", "inherit"] });
  if (built.status !== 0 || !existsSync(binary)) {
    throw new Error("no MongoDB-wire server: install mongod, or Go to build FerretDB (apt-get install golang), or set MONGO_URL");
  }
  return binary;
}

/** Start a MongoDB-wire server on a free port: mongod if installed, else FerretDB on SQLite. */
export async function startMongoWire(log?: (line: string) => void): Promise<Service & { kind: "mongod" | "ferretdb" }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "parley-mongo-"));
  if (onPath("mongod")) {
    const child = await startProcess("mongod", "mongod", ["--port", String(port), "--bind_ip", "127.0.0.1", "--dbpath", dir, "--quiet"], port, dir);
    return { kind: "mongod", url: `mongodb://127.0.0.1:${port}/parley`, port, stop: stopper(child, dir) };
  }
  const binary = ensureFerretdb(log);
  const args = ["--handler=sqlite", `--sqlite-url=file:${dir}/`, `--listen-addr=127.0.0.1:${port}`, "--debug-addr=-", "--telemetry=disable", "--log-level=error", `--state-dir=${dir}`];
  const child = await startProcess("ferretdb", binary, args, port, dir);
  return { kind: "ferretdb", url: `mongodb://127.0.0.1:${port}/parley`, port, stop: stopper(child, dir) };
}

/** Where tests look for PostgreSQL (a role that may create databases) unless PARLEY_POSTGRES_URL says. */
export const DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/postgres";

function psql(url: string, sql: string): { ok: boolean; error: string } {
  const result = spawnSync("psql", [url, "-v", "ON_ERROR_STOP=1", "-tAc", sql], { encoding: "utf8", timeout: 15_000 });
  return { ok: result.status === 0, error: (result.stderr || result.error?.message || "").trim() };
}

/**
 * FerretDB on PostgreSQL, in a database of its own made for the run and dropped at stop: a
 * MongoDB-wire store that keeps up with hours of churn (FerretDB on SQLite does not). Resolves to
 * undefined, with the reason, when there is no `psql` or no PostgreSQL answering at `postgresUrl`.
 */
export async function startFerretdbOnPostgres(
  postgresUrl = process.env.PARLEY_POSTGRES_URL ?? DEFAULT_POSTGRES_URL,
  log?: (line: string) => void,
): Promise<{ service: Service & { postgresDatabase: string }; reason?: undefined } | { service?: undefined; reason: string }> {
  if (!onPath("psql")) return { reason: "no psql on PATH (apt-get install postgresql, or set SOAK_MONGO_URL)" };
  const probe = psql(postgresUrl, "select 1");
  if (!probe.ok) return { reason: `no PostgreSQL at ${postgresUrl.replace(/\/\/[^@]*@/, "//")} (${probe.error.split("\n")[0]}); set PARLEY_POSTGRES_URL or SOAK_MONGO_URL` };
  const database = `parley_${process.pid}_${Date.now().toString(36)}`;
  const created = psql(postgresUrl, `CREATE DATABASE ${database}`);
  if (!created.ok) return { reason: `could not create a PostgreSQL database: ${created.error.split("\n")[0]}` };
  const target = new URL(postgresUrl);
  target.pathname = `/${database}`;
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "parley-ferretdb-pg-"));
  const binary = ensureFerretdb(log);
  const args = ["--handler=postgresql", `--postgresql-url=${target.toString()}`, `--listen-addr=127.0.0.1:${port}`, "--debug-addr=-", "--telemetry=disable", "--log-level=error", `--state-dir=${dir}`];
  let stopFerret: () => Promise<void>;
  try {
    stopFerret = stopper(await startProcess("ferretdb", binary, args, port, dir), dir);
  } catch (error) {
    psql(postgresUrl, `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    throw error;
  }
  const stop = async () => {
    await stopFerret();
    psql(postgresUrl, `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  };
  return { service: { url: `mongodb://127.0.0.1:${port}/parley`, port, stop, postgresDatabase: database } };
}

/**
 * A store for hours of churn or full-scale load: MONGO_URL when set, else FerretDB on the machine's
 * PostgreSQL, else none (`url` undefined: the caller's own FerretDB on SQLite, which falls behind;
 * `log` is told why). `label` names it for a report; `stop` ends what was started here.
 */
export async function storeThatKeepsUp(log: (line: string) => void): Promise<{ url?: string; label: string; stop(): Promise<void> }> {
  if (process.env.MONGO_URL) return { url: process.env.MONGO_URL, label: "MONGO_URL", stop: async () => undefined };
  const onPostgres = await startFerretdbOnPostgres(undefined, log);
  if (onPostgres.service) return { url: onPostgres.service.url, label: "FerretDB on PostgreSQL", stop: onPostgres.service.stop };
  log(`the store is FerretDB on SQLite, which falls behind at this load within minutes: ${onPostgres.reason}`);
  return { label: "FerretDB on SQLite", stop: async () => undefined };
}

/** The same server as `url`, with another database name, so suites do not see each other's data. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}
