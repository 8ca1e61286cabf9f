/**
 * Servers under test as child processes pinned to one CPU, and what they cost: CPU time and peak
 * RSS read from /proc (Linux), so the load generator's own process is never counted.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { freePort, portAccepts } from "../deploy/services.ts";
import { waitFor } from "../deploy/wait-for.ts";

/** True when `taskset` can pin processes to CPUs. */
export const hasTaskset = spawnSync("sh", ["-c", "command -v taskset"]).status === 0;

/** Pin a running process, all its threads, to `cpu`. */
export function pinProcess(pid: number, cpu: number): void {
  if (hasTaskset) spawnSync("taskset", ["-a", "-p", "-c", String(cpu), String(pid)], { stdio: "ignore" });
}

/** CPU time a process used so far, in microseconds (user + system, from /proc/<pid>/stat). */
export function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // Fields 14 and 15 of stat (utime, stime) are 11 and 12 after the command name, in clock ticks.
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1_000_000) / CLOCK_TICKS_PER_SEC;
}
const CLOCK_TICKS_PER_SEC = Number(spawnSync("getconf", ["CLK_TCK"]).stdout?.toString().trim()) || 100;

/** CPU time all processes on the machine used so far, in microseconds (busy time from /proc/stat). */
export function machineBusyMicros(): number {
  const [user, nice, system, , , irq, softirq, steal] = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  return ((user! + nice! + system! + irq! + softirq! + steal!) * 1_000_000) / CLOCK_TICKS_PER_SEC;
}

/** Peak resident set size of a process so far, in MiB (VmHWM). */
export function peakRssMb(pid: number): number {
  const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
  return Number(kb) / 1024;
}

/** A server under test, started and listening. */
export type ServerProcess = {
  endpoint: string;
  pid: number;
  output(): string;
  stop(): Promise<void>;
};

/**
 * Start `node <script>` with PORT set (plus `env`), pinned to `cpu`; resolves once it accepts TCP.
 * A server that exits before listening rejects with the last lines it printed.
 */
export async function startServer(script: string, env: Record<string, string>, cpu: number, nodeArgs: string[] = []): Promise<ServerProcess> {
  const port = await freePort();
  const command = hasTaskset ? "taskset" : process.execPath;
  const args = [...(hasTaskset ? ["-c", String(cpu), process.execPath] : []), ...nodeArgs, script];
  const child: ChildProcess = spawn(command, args, { env: { PATH: process.env.PATH, NODE_ENV: "development", ...env, PORT: String(port) }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const keep = (chunk: Buffer) => void (output = (output + chunk.toString()).slice(-20_000));
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once("exit", () => resolve(void (exited = true))));
  await waitFor(async () => exited || (await portAccepts(port)), { timeoutMs: 30_000, what: `${script} to listen` });
  if (exited) throw new Error(output.trim().split("\n").slice(-3).join("\n") || `${script} exited at start`);
  return {
    endpoint: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    output: () => output,
    async stop() {
      if (exited) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      await exit;
      clearTimeout(timer);
    },
  };
}
