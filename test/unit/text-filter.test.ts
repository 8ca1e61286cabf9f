import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createTextFilter, REFUSED_MESSAGE, type TextFilter } from "../../rooms/plugins/text-filter.ts";

/** Entries of a corpus file (test/fixtures): every line but `# kind` headings and blank lines. */
function corpus(name: string): string[] {
  return readFileSync(join(import.meta.dirname, "..", "fixtures", name), "utf8")
    .split("\n")
    .filter((line) => line.length > 0 && !line.startsWith("# "));
}

const codePoints = (text: string) => Array.from(text).length;
const flagged = (filter: TextFilter, text: string) => filter.check(text).action !== "pass";

/** Deterministic odd strings: letters, leetspeak, look-alikes, marks, invisible characters, emoji and lone surrogates. */
function oddStrings(count: number): string[] {
  const pieces = [
    "f",
    "u",
    "c",
    "k",
    "s",
    "h",
    "i",
    "t",
    "a",
    "1",
    "|",
    "$",
    "@",
    " ",
    ".",
    "-",
    "*",
    "ѕ",
    "ο",
    "ｆ",
    "𝐟",
    "\u0336",
    "\u200b",
    "\u00ad",
    "😂",
    "👨‍👩‍👧",
    "\ud800",
    "\udc00",
    "\ud83d",
    "\u202e",
    "\n",
    "\0",
    "世",
    "ß",
    "İ",
  ];
  let state = 7;
  const next = () => ((state = (Math.imul(state, 1103515245) + 12345) >>> 0) >>> 8) % pieces.length;
  return Array.from({ length: count }, () => Array.from({ length: 1 + (next() % 40) }, () => pieces[next()]!).join(""));
}

describe("text filter", function () {
  const mask = createTextFilter("mask");

  it("masks a plain word with one asterisk per letter and leaves the rest of the text as it was", function () {
    assert.deepEqual(mask.check("well fuck this lag 😤"), { action: "mask", text: "well **** this lag 😤" });
    assert.deepEqual(mask.check("Shit."), { action: "mask", text: "****." });
  });

  it("masks disguised words (digits, look-alikes, full-width, styled letters, spacing, punctuation) in place", function () {
    const cases: Array<[string, string]> = [
      ["gg ez you b1tch 🙂", "gg ez you ***** 🙂"],
      ["привет ѕһіт 世界", "привет **** 世界"],
      ["ｆｕｃｋ off", "**** off"],
      ["𝐟𝐮𝐜𝐤 😀 ok", "**** 😀 ok"],
      ["f.u.c.k you", "******* you"],
      ["f u c k you", "* * * * you"],
      ["fuuuuuck", "********"],
      ["you are a c0ck, sir", "you are a ****, sir"],
    ];
    for (const [text, masked] of cases) assert.deepEqual(mask.check(text), { action: "mask", text: masked }, text);
  });

  it("never lengthens a text: the masked text has the code points of the original, asterisks in the spans", function () {
    for (const text of [...corpus("profanity-offensive.txt").slice(0, 300), "\ud800fuck\udc00", "💩 shit 💩"]) {
      const verdict = mask.check(text);
      if (verdict.action !== "mask") continue;
      assert.equal(codePoints(verdict.text), codePoints(text), text);
      assert.ok(verdict.text.includes("*"), text);
    }
  });

  it("never masks a number read as leetspeak: scores, prices, times and timestamps stay as sent", function () {
    const filter = createTextFilter("mask");
    for (const text of ["score 455 to 3", "8008 points", "it costs 455.50", "at 12:455", "5318008", "76114.455 xxxx", "717 kills"]) {
      assert.deepEqual(filter.check(text), { action: "pass" }, text);
    }
    assert.equal(filter.check("room 5h1t").action, "mask", "a word with letters in it is still caught");
  });

  it("reads no word into a number's punctuation in refuse mode either: a score or time with a decimal point is not refused", function () {
    const refuse = createTextFilter("refuse");
    for (const text of ["4.550 see you at the gate", "8.008 gg", "won 45.5 to 3", "7.175 see you"]) {
      assert.deepEqual(refuse.check(text), { action: "pass" }, text);
      assert.deepEqual(mask.check(text), { action: "pass" }, text);
    }
    // Beside a number, a disguised word is still caught, in its own token or glued to the number.
    const caught: Array<[string, string]> = [
      ["45.5 s1ut", "45.5 ****"],
      ["12.5b1tch", "12.5*****"],
      ["10:45.5 f.uck", "10:45.5 *****"],
      ["1 2 3 f u c k", "1 2 3 * * * *"],
    ];
    for (const [text, masked] of caught) {
      assert.deepEqual(mask.check(text), { action: "mask", text: masked }, text);
      assert.equal(refuse.check(text).action, "refuse", text);
    }
  });

  it("passes the Scunthorpe traps: words that contain a listed word but are clean", function () {
    const traps = [
      "class assignment",
      "Scunthorpe United",
      "the cockpit",
      "Essex",
      "Sussex",
      "grapes",
      "my therapist",
      "a cocktail",
      "assassin build",
      "bass guitar",
      "a passage",
      "Dickens",
      "the analysis",
      "the title screen",
      "shitake mushrooms",
      "shiitake",
      "cum laude",
      "cumin",
      "Penistone",
      "flame retardant",
      "booby trap",
      "Fukuoka server",
      "assorted loot",
      "don't overanalyze it",
      "human trafficking quest",
      "the pen is mightier",
      "kung fu panda",
      "who're you with?",
      "Uranus",
      "arsenal",
      "Montenegro",
      "snigger",
    ];
    for (const trap of traps) assert.deepEqual(mask.check(trap), { action: "pass" }, trap);
  });

  it("refuses a message with a listed word in refuse mode, with a short message naming no word, and passes clean text", function () {
    const refuse = createTextFilter("refuse");
    assert.deepEqual(refuse.check("shut up you b!tch"), { action: "refuse", message: REFUSED_MESSAGE });
    assert.deepEqual(refuse.check("s h i t"), { action: "refuse", message: REFUSED_MESSAGE });
    assert.deepEqual(refuse.check("gg wp, class assignment done"), { action: "pass" });
  });

  it("passes everything in off mode", function () {
    const off = createTextFilter("off");
    for (const text of ["fuck", "ｆｕｃｋ", "gg wp", ""]) assert.deepEqual(off.check(text), { action: "pass" });
  });

  it("never throws on odd input: empty, blank, very long, lone surrogates, only emoji, controls, random mixes", function () {
    const refuse = createTextFilter("refuse");
    const odd = [
      "",
      " ",
      "\n\t",
      "😂😂😂",
      "👨‍👩‍👧‍👦",
      "\ud800",
      "\udfff",
      "\udc00\ud800",
      "\u202e\u0336\u200b",
      "\0\u0001",
      "1|1|1|",
      "a a a a a a",
      "...",
      "fuck".repeat(5000),
      "a ".repeat(50_000),
      "x".repeat(100_000),
      ...oddStrings(2000),
    ];
    for (const text of odd) {
      for (const filter of [mask, refuse]) {
        const verdict = filter.check(text);
        assert.ok(["pass", "mask", "refuse"].includes(verdict.action));
        if (verdict.action === "mask") assert.ok(codePoints(verdict.text) <= codePoints(text));
      }
    }
  });

  it("meets the goals on the evasion corpus: at least 95 % of offensive spellings flagged, at most 1 % of clean lines", function () {
    const offensive = corpus("profanity-offensive.txt");
    const clean = corpus("profanity-clean.txt");
    assert.ok(offensive.length >= 500 && new Set(offensive).size === offensive.length, "at least 500 distinct offensive spellings");
    assert.ok(clean.length >= 500 && new Set(clean).size === clean.length, "at least 500 distinct clean lines");
    const hitRate = offensive.filter((text) => flagged(mask, text)).length / offensive.length;
    const falsePositiveRate = clean.filter((text) => flagged(mask, text)).length / clean.length;
    console.log(`      hit rate ${(hitRate * 100).toFixed(1)} % of ${offensive.length}, false positives ${(falsePositiveRate * 100).toFixed(1)} % of ${clean.length}`);
    assert.ok(hitRate >= 0.95, `hit rate ${hitRate}`);
    assert.ok(falsePositiveRate <= 0.01, `false-positive rate ${falsePositiveRate}`);
  });
});
