/**
 * Summarise a V8 .cpuprofile (from node --cpu-prof): the functions with the most self time, and
 * self time by package, as shares of busy (non-idle) time, so "where does the time go" fits on one
 * screen. Native frames such as `writev` and `writeBuffer` are socket writes (syscalls).
 *
 *   node loadtest/profile-summary.ts <file.cpuprofile> [top]
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

type ProfileNode = { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number };
type CpuProfile = { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number };
/** Spans on the monotonic clock (µs) to keep samples from; outside them (start-up, joins) is left out. */
export type ProfileWindows = ReadonlyArray<readonly [number, number]>;

/** Where a script lives: the npm package, Parley's own folder, or Node/V8 itself. */
function packageOf(url: string, functionName: string): string {
  if (url === "") return functionName.startsWith("(") ? functionName : "(native)";
  const inModules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (inModules) return inModules[1]!;
  if (url.startsWith("node:")) return "node core";
  const own = /\/work\/[^/]+\/([^/]+)\//.exec(url) ?? /\/(server|rooms|schema|client|loadtest)\//.exec(url);
  return own ? `parley ${own[1]}/` : url;
}

/**
 * Top functions by self time and self time by package, as printable text; only the samples inside
 * `windows` when given (the benchmark's measured steps).
 */
export function summariseProfile(file: string, top = 25, windows?: ProfileWindows): string {
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  const inWindows = (at: number) => windows === undefined || windows.some(([from, to]) => at >= from && at <= to);
  let at = profile.startTime;
  profile.samples.forEach((id, index) => {
    const delta = profile.timeDeltas[index] ?? 0;
    at += delta;
    if (inWindows(at)) selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
  });
  // Percentages are of busy time: idle samples say nothing about where work goes.
  for (const id of selfUs.keys()) if (byId.get(id)!.callFrame.functionName === "(idle)") selfUs.delete(id);
  const total = [...selfUs.values()].reduce((sum, us) => sum + us, 0);
  const byFunction = new Map<string, number>();
  const byPackage = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    const where = url ? `${url.replace(/^.*node_modules\//, "").replace(/^file:\/\/\/work\/[^/]+\//, "")}:${lineNumber + 1}` : "";
    const key = `${functionName || "(anonymous)"} ${where}`.trim();
    byFunction.set(key, (byFunction.get(key) ?? 0) + us);
    const pkg = packageOf(url, functionName);
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + us);
  }
  const rows = (map: Map<string, number>, n: number) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, us]) => `${((us / total) * 100).toFixed(1).padStart(5)}%  ${name}`)
      .join("\n");
  return `busy self time ${(total / 1e6).toFixed(1)} s${windows ? " in the measured steps" : ""} (percentages of it)\nby package:\n${rows(byPackage, 12)}\ntop functions:\n${rows(byFunction, top)}`;
}

/** The most recent .cpuprofile in `dir`, if any. */
export function newestProfile(dir: string): string | undefined {
  const files = readdirSync(dir)
    .filter((name) => name.endsWith(".cpuprofile"))
    .map((name) => join(dir, name));
  return files.sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
}

if (import.meta.main) {
  const [file, top] = process.argv.slice(2);
  if (!file) throw new Error("usage: node loadtest/profile-summary.ts <file.cpuprofile> [top]");
  console.log(summariseProfile(file, Number(top ?? 25)));
}
