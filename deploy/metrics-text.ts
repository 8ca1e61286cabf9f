/**
 * Reading a node's /metrics (Prometheus text exposition) in tests and benchmarks: one parser for
 * the series and one sum over label sets, instead of a regular expression per caller. Every Parley
 * series carries the node's `node` label, so a metric is found by name and the labels it includes.
 */

/** The samples of a Prometheus text exposition: series (name with its labels) -> value. */
export function samplesOf(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const at = line.lastIndexOf(" ");
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return samples;
}

/** Metric `name`'s value summed over its series whose labels include `labels` (0 when none). */
export function sampleSum(samples: ReadonlyMap<string, number>, name: string, labels = ""): number {
  let sum = 0;
  for (const [series, value] of samples) {
    const next = series[name.length];
    if (series.startsWith(name) && (next === "{" || next === undefined) && series.includes(labels)) sum += value;
  }
  return sum;
}

/** Read a node's /metrics now. */
export async function scrape(httpUrl: string, init?: RequestInit): Promise<Map<string, number>> {
  return samplesOf(await (await fetch(`${httpUrl}/metrics`, init)).text());
}
