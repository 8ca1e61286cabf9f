/**
 * Where a server's CPU goes, kernel included: Linux `perf` sampling the process on CPU time, with
 * JavaScript frames named through node's --perf-basic-prof map.
 *
 * Why not only node --cpu-prof: V8's profiler counts a sample as "(idle)" while node's event loop is
 * in its poll phase, and that is where a server reads its sockets and answers, so a busy I/O
 * server shows mostly idle (stock Colyseus: 0.7 s busy in a window where /proc counted 3.3 s of
 * CPU). perf samples what ran on the CPU, so its shares add up to the CPU the benchmark measures.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";

/** Why perf cannot sample here, or undefined when it can. */
export function perfUnavailable(): string | undefined {
  const probe = spawnSync("perf", ["record", "-e", "cpu-clock", "-o", "/dev/null", "--", "true"], { encoding: "utf8" });
  if (probe.error) return "perf is not installed (Debian: apt-get install linux-perf)";
  if (probe.status !== 0) return `perf cannot sample here: ${(probe.stderr ?? "").trim().split("\n").at(-1)}`;
  return undefined;
}

/** The node flag that makes JavaScript frames readable to perf. */
export const PERF_NODE_ARGS = ["--perf-basic-prof"];

export type PerfRecording = { file: string; stop(): Promise<void> };

/** Sample `pid` on CPU time (999 Hz, call graphs) into `file`, stamped on CLOCK_MONOTONIC. */
export function recordPerf(pid: number, file: string): PerfRecording {
  const child: ChildProcess = spawn("perf", ["record", "-k", "CLOCK_MONOTONIC", "-e", "cpu-clock", "-F", "999", "-g", "-p", String(pid), "-o", file], { stdio: "ignore" });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    file,
    async stop() {
      child.kill("SIGINT");
      await exited;
    },
  };
}

/**
 * Shares of the samples between `fromUs` and `toUs` (monotonic µs): by binary (kernel, node's own
 * C++ and V8, JIT-compiled JavaScript, libc) and the top symbols by self time.
 */
export function summarisePerf(file: string, fromUs: number, toUs: number, top = 25): string {
  const time = `${(fromUs / 1e6).toFixed(6)},${(toUs / 1e6).toFixed(6)}`;
  const perfReport = (args: string[]) => spawnSync("perf", ["report", "-i", file, "--stdio", "--time", time, "-g", "none", ...args], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 }).stdout ?? "";
  const rows = (text: string) =>
    text
      .split("\n")
      .filter((line) => /^\s+\d+\.\d+%/.test(line))
      .map((line) =>
        line
          .trim()
          .replace(/\s+/g, " ")
          .replace(/\[JIT\] tid \d+/, "[JIT] JavaScript"),
      );
  const byBinary = perfReport(["--no-children", "--sort", "dso"]);
  const samples = /^# Samples: (\S+)/m.exec(byBinary)?.[1];
  // Inclusive shares of JavaScript functions (self and what they call): where the time is spent from.
  const inclusive = rows(perfReport(["--children", "--sort", "sym"])).filter((row) => row.includes("JS:"));
  return [
    `perf: ${samples ?? "?"} samples on CPU in the measured steps (shares of the server's CPU time)`,
    "by binary:",
    ...rows(byBinary).slice(0, 6),
    "top symbols (self):",
    ...rows(perfReport(["--no-children", "--sort", "sym"])).slice(0, top),
    "top JavaScript functions (self and callees, self share second):",
    ...inclusive.slice(0, top),
  ].join("\n");
}
