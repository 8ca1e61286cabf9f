/**
 * Benchmark of the content filter (issue #12): hit rate on the evasion corpus, false-positive rate
 * on the clean corpus, both per section and beside obscenity's defaults (its English dataset and
 * recommended transformers, as its README builds them), the misses and false positives, and what
 * the filter costs per message (mask mode, the default), median of several passes.
 *
 *   node loadtest/bench-filter.ts [--passes 7]
 *
 * Printed and written to loadtest/results/filter.md. The goals (>= 95 % hit, <= 1 % false
 * positives) are stated and checked here; test/unit/text-filter.test.ts asserts them.
 */
import { readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { RegExpMatcher, englishDataset, englishRecommendedTransformers } from "obscenity";
import { commandLine } from "../deploy/cli.ts";
import { createTextFilter, type TextFilter } from "../rooms/plugins/text-filter.ts";
import { Limits } from "../schema/chat.ts";

const values = commandLine({
  usage: "npm run bench:filter --",
  summary: "Hit rate on the offensive corpus, false-positive rate on the clean corpus, and the filter's cost in microseconds per message. Results go to --out/filter.md.",
  options: {
    passes: { kind: "integer", default: 7, min: 1, help: "timed passes over both corpora (the median is reported)" },
    out: { kind: "string", default: join(import.meta.dirname, "results"), help: "results folder" },
  },
});
const passes = Number(values.passes);

const HIT_GOAL = 0.95;
const FALSE_POSITIVE_GOAL = 0.01;
const LISTED = 30;

/** A corpus file: `# kind` lines head sections, blank lines separate them, every other line is one entry. */
type Section = { kind: string; entries: string[] };
function readCorpus(name: string): Section[] {
  const sections: Section[] = [];
  for (const line of readFileSync(join(import.meta.dirname, "..", "test", "fixtures", name), "utf8").split("\n")) {
    if (line.startsWith("# ")) sections.push({ kind: line.slice(2), entries: [] });
    else if (line.length > 0) sections.at(-1)?.entries.push(line);
  }
  return sections;
}

const flagged = (filter: TextFilter, text: string) => filter.check(text).action !== "pass";
const percent = (part: number, whole: number) => `${((100 * part) / whole).toFixed(1)} %`;
const show = (text: string) => JSON.stringify(text);

const buildStart = performance.now();
const filter = createTextFilter("mask");
const buildMs = performance.now() - buildStart;
const defaults = new RegExpMatcher({ ...englishDataset.build(), ...englishRecommendedTransformers });

const offensive = readCorpus("profanity-offensive.txt");
const clean = readCorpus("profanity-clean.txt");
const rows: string[] = [];
const misses: string[] = [];
const falsePositives: string[] = [];
let hits = 0;
let defaultHits = 0;
let offensiveCount = 0;
let flaggedClean = 0;
let defaultFlaggedClean = 0;
let cleanCount = 0;
for (const { kind, entries } of offensive) {
  const missed = entries.filter((entry) => !flagged(filter, entry));
  const byDefaults = entries.filter((entry) => defaults.hasMatch(entry)).length;
  misses.push(...missed);
  hits += entries.length - missed.length;
  defaultHits += byDefaults;
  offensiveCount += entries.length;
  rows.push(`| offensive: ${kind} | ${entries.length} | ${percent(entries.length - missed.length, entries.length)} | ${percent(byDefaults, entries.length)} |`);
}
for (const { kind, entries } of clean) {
  const wrong = entries.filter((entry) => flagged(filter, entry));
  const byDefaults = entries.filter((entry) => defaults.hasMatch(entry)).length;
  falsePositives.push(...wrong);
  flaggedClean += wrong.length;
  defaultFlaggedClean += byDefaults;
  cleanCount += entries.length;
  rows.push(`| clean: ${kind} | ${entries.length} | ${percent(wrong.length, entries.length)} | ${percent(byDefaults, entries.length)} |`);
}

/** Microseconds per message over `texts`: a warm-up pass, then the median of `passes` timed passes. */
function costUs(check: (text: string) => unknown, texts: readonly string[]): { median: number; min: number; max: number } {
  const perPass: number[] = [];
  for (let pass = 0; pass <= passes; pass++) {
    const start = process.hrtime.bigint();
    for (const text of texts) check(text);
    if (pass > 0) perPass.push(Number(process.hrtime.bigint() - start) / 1000 / texts.length);
  }
  perPass.sort((a, b) => a - b);
  return { median: perPass[Math.floor(perPass.length / 2)]!, min: perPass[0]!, max: perPass.at(-1)! };
}
const offensiveTexts = offensive.flatMap((section) => section.entries);
const cleanTexts = clean.flatMap((section) => section.entries);
const all = [...offensiveTexts, ...cleanTexts];
const cost = costUs((text) => filter.check(text), all);
const costClean = costUs((text) => filter.check(text), cleanTexts);
const costOffensive = costUs((text) => filter.check(text), offensiveTexts);
const costDefaults = costUs((text) => defaults.getAllMatches(text), all);
// The longest text a message may carry: ordinary chat, and chat dense with disguised profanity.
const longest = (lines: readonly string[]) => Array.from(lines.join(" ")).slice(0, Limits.maxTextChars).join("");
const costLongClean = costUs((text) => filter.check(text), Array(20).fill(longest(cleanTexts)));
const costLongOffensive = costUs((text) => filter.check(text), Array(20).fill(longest(offensiveTexts)));
const meanChars = all.reduce((sum, text) => sum + text.length, 0) / all.length;
const us = (value: number) => `${value.toFixed(2)} µs`;

const hitRate = hits / offensiveCount;
const falsePositiveRate = flaggedClean / cleanCount;
const met = hitRate >= HIT_GOAL && falsePositiveRate <= FALSE_POSITIVE_GOAL;
const cpu = os.cpus()[0]?.model.trim() ?? "unknown CPU";
const maskedOf = (text: string) => {
  const verdict = filter.check(text);
  return verdict.action === "mask" ? verdict.text : text;
};
const report = [
  "# Content filter: evasion corpus and cost (node loadtest/bench-filter.ts)",
  "",
  `${new Date().toISOString()}. ${cpu}, ${os.cpus().length} cores, Node ${process.version}, load average ${os.loadavg()[0]!.toFixed(1)} at the end (a shared machine times noisily), obscenity 0.4.6, mask mode.`,
  "",
  `- Hit rate on the offensive corpus: **${percent(hits, offensiveCount)}** (${hits} of ${offensiveCount}); goal >= ${HIT_GOAL * 100} %. obscenity's defaults: ${percent(defaultHits, offensiveCount)}.`,
  `- False positives on the clean corpus: **${percent(flaggedClean, cleanCount)}** (${flaggedClean} of ${cleanCount}); goal <= ${FALSE_POSITIVE_GOAL * 100} %. obscenity's defaults: ${percent(defaultFlaggedClean, cleanCount)}.`,
  `- Goals ${met ? "met" : "NOT met"}.`,
  `- Cost: **${us(cost.median)} per message** over both corpora (${all.length} entries, ${meanChars.toFixed(0)} UTF-16 units on average; median of ${passes} passes, min ${us(cost.min)}, max ${us(cost.max)}): ${us(costClean.median)} on the clean corpus, ${us(costOffensive.median)} on the offensive one. obscenity's own matcher (getAllMatches) on the same: ${us(costDefaults.median)}. Building the filter: ${buildMs.toFixed(1)} ms, once.`,
  `- A message at the length limit (${Limits.maxTextChars} code points): ${us(costLongClean.median)} for clean lines of the corpus, ${us(costLongOffensive.median)} for offensive ones.`,
  "",
  'Reading the numbers: the whitelist additions were made for traps of this clean corpus (and words found in English word lists), so its false-positive rate is partly a score on the data it was tuned on; the false friends are kept as the honest residue. Known misses: a word cut in two by a space, two or more marks inside a word ("cun..t": an ellipsis between words is too common to join across), a one-letter word before spaced letters ("a t. r. a. n. n. y"), and sound-alikes too short or too common to list.',
  "",
  "| section | entries | this filter (hit or flagged) | obscenity's defaults |",
  "|---|---|---|---|",
  ...rows,
  "",
  `## Misses (${misses.length}${misses.length > LISTED ? `, first ${LISTED}` : ""})`,
  "",
  ...(misses.length === 0 ? ["none"] : misses.slice(0, LISTED).map((text) => `- \`${show(text)}\``)),
  "",
  `## False positives (${falsePositives.length}${falsePositives.length > LISTED ? `, first ${LISTED}` : ""})`,
  "",
  ...(falsePositives.length === 0 ? ["none"] : falsePositives.slice(0, LISTED).map((text) => `- \`${show(text)}\` → \`${show(maskedOf(text))}\``)),
  "",
];
const text = report.join("\n");
console.log(text);
writeFileSync(join(String(values.out), "filter.md"), text);
