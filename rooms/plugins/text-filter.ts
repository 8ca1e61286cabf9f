/**
 * The content filter (issue #12): finds profanity in chat text with obscenity's English dataset,
 * recommended transformers and matcher, extended where the evasion corpus (test/fixtures/profanity-
 * *.txt, measured by `node loadtest/bench-filter.ts`) showed a gain. It masks, refuses or passes.
 *
 * Cost: 4 to 10 µs per chat message (a clean 100-byte line 4 µs, with or without a number in it),
 * under 3 ms for one at the 2,000 code point limit full of disguised profanity; building a filter
 * takes some 20 ms (loadtest/results/filter.md).
 *
 * Limits: English only (a false friend in another language, German "dick" or Romanian "cum", is
 * flagged); a word cut in two by a space ("fu ck") slips through, because joining any two words
 * would flag "the pen is"; context is not understood ("hooker" in rugby is flagged).
 */
import {
  DataSet,
  RegExpMatcher,
  SyntaxKind,
  collapseDuplicatesTransformer,
  createSimpleTransformer,
  englishDataset,
  englishRecommendedWhitelistMatcherTransformers,
  parseRawPattern,
  remapCharactersTransformer,
  resolveConfusablesTransformer,
  resolveLeetSpeakTransformer,
  toAsciiLowerCaseTransformer,
  type LiteralNode,
  type ParsedPattern,
  type PhraseBuilder,
  type TransformerContainer,
  type WildcardNode,
} from "obscenity";

/** What the filter does with a message that contains a listed word; `off` passes everything. */
export type TextFilterMode = "mask" | "refuse" | "off";

/** The verdict on one text: pass it, send it masked, or refuse it (as an INVALID refusal). */
export type TextFilterVerdict = { action: "pass" } | { action: "mask"; text: string } | { action: "refuse"; message: string };

/** Checks one message; never throws, whatever the string. */
export interface TextFilter {
  check(text: string): TextFilterVerdict;
}

/** The refusal message of `refuse` mode: short, and naming no word. */
export const REFUSED_MESSAGE = "the text contains words that are not allowed";

/** A filter in `mode`; its matcher is built here, once, never per message. */
export function createTextFilter(mode: TextFilterMode): TextFilter {
  if (mode === "off") return { check: () => ({ action: "pass" }) };
  const matcher = createMatcher();
  if (mode === "refuse") {
    const refused = (text: string) => matcher.has(text) || derivedViews(text).some((view) => matcher.has(view.text, view.changed));
    return { check: (text) => (refused(text) ? { action: "refuse", message: REFUSED_MESSAGE } : { action: "pass" }) };
  }
  return {
    check(text) {
      // Matches in the text and in its derived views, as inclusive UTF-16 spans of the text.
      const found = matcher.find(text);
      for (const view of derivedViews(text)) for (const [start, end] of matcher.find(view.text, view.changed)) found.push([view.from[start]!, view.to[end]!]);
      // A span with no letter is a number read as leetspeak ("455", "8008", a time, a score): never masked.
      const spans = found.filter(([start, end]) => HAS_LETTER.test(text.slice(start, end + 1)));
      return spans.length === 0 ? { action: "pass" } : { action: "mask", text: maskSpans(text, spans) };
    },
  };
}

const HAS_LETTER = /\p{L}/u;

/** One `*` per code point inside a span (whitespace kept): the text never grows and no surrogate pair is split. */
function maskSpans(text: string, spans: ReadonlyArray<[number, number]>): string {
  const masked = new Uint8Array(text.length);
  for (const [start, end] of spans) masked.fill(1, start, end + 1);
  let out = "";
  let index = 0;
  for (const point of text) {
    out += masked[index] === 1 && !/\s/.test(point) ? "*" : point;
    index += point.length;
  }
  return out;
}

type Metadata = { originalWord?: string };

/** A phrase of patterns in obscenity's syntax (| a word boundary, [x] optional, ? any character) and whitelisted terms. */
function phrase(originalWord: string, patterns: readonly string[], whitelistedTerms: readonly string[] = []) {
  return (builder: PhraseBuilder<Metadata>) => {
    builder.setMetadata({ originalWord });
    for (const raw of patterns) builder.addPattern(parseRawPattern(raw));
    for (const term of whitelistedTerms) builder.addWhitelistedTerm(term);
    return builder;
  };
}

/**
 * Clean words the dataset flags, each a false positive on the clean corpus or in an English word
 * list. The dataset's "danal", "eanal", ... catch "anal" glued to a word, so "reanalyze" too.
 */
const CLEAN_WORDS = [
  ...["cockpit", "shiitake", "shiite", "cum laude", "cumin", "penistone", "dickinson", "niggard", "fukuoka", "fukushima", "wankel", "retardant", "booby trap", "gasmask"],
  ...["titter", "assort", "rapeseed", "analg", "chink in the armo", "traffick", "feckless", "annal", "rapped", "rappel", "pachinko", "mishit"],
  ...Array.from("defgijklopqrstuvwxyz", (letter) => `${letter}analy`),
];

/** obscenity's English dataset, plus what the corpus showed it missed or flagged wrongly. */
function createDataset(): DataSet<Metadata> {
  return (
    new DataSet<Metadata>()
      .addAll(englishDataset)
      // v reads u below ("fvck", "cvnt"), so the dataset's own v-word is spelled with u.
      .removePhrasesIf((built) => built.metadata?.originalWord === "vagina")
      .addPhrase(phrase("vagina", ["uagina", "|u[?]gina"]))
      // Runs are collapsed before the patterns see the text: "jizz" reads "jiz", "jerkoff" "jerkof", "buttplug" "butplug".
      .addPhrase(phrase("jizz", ["|jiz"]))
      .addPhrase(phrase("jerk off", ["jerkof"]))
      .addPhrase(phrase("buttplug", ["butplug"]))
      // Spelled as it sounds. Not "phuc" (a Vietnamese name), "phuk" inside a word (Phuket), nor "niqa" inside one (niqab).
      .addPhrase(phrase("sound-alike", ["|phuck", "|phuk|", "|fuq", "|fck", "biatch", "|n[i]qa|", "|n[i]qas|", "n[i]qer", "|shyt", "|phag|", "|phag[g]ot"]))
      // Compound insults: `|ass` needs a word start, so that "bass" and "class" pass.
      .addPhrase(phrase("ass", ["dumbass", "jackass", "|fatass", "smartass"]))
      // Self-censoring with an asterisk (or #, read as one) for a vowel: obscenity has f[?]ck only. "**" reads "*".
      .addPhrase(phrase("self-censored", ["|sh*t", "sh*t|", "b*tch", "|c*nt", "d*ck", "|wh*re", "|sl*t", "p*ssy", "|a*hole", "|f*k|"]))
      .addPhrase(phrase("clean words", [], CLEAN_WORDS))
  );
}

/** obscenity's thresholds: a run of b, e, o, l, s or g keeps two ("boob", "ass"), any other run one. */
const COLLAPSE = { defaultThreshold: 1, customThresholds: new Map(Array.from("beolsg", (letter): [string, number] => [letter, 2])) };

/** obscenity's recommended English transformers in their order, with look-alikes folded first and more leetspeak; runs not yet collapsed. */
function foldingTransformers(): TransformerContainer[] {
  return [
    createSimpleTransformer(createFolding()),
    resolveConfusablesTransformer(),
    resolveLeetSpeakTransformer(),
    toAsciiLowerCaseTransformer(),
    // Beyond obscenity's leetspeak: 9 for g, 8 for b, + for t, v for u, and # for a hidden letter like *.
    remapCharactersTransformer({ g: "9", b: "8", t: "+", u: "v", "*": "#" }),
  ];
}

/**
 * Matches of the dataset in a text, and whether there is one. With `changed` (a derived view's
 * rewritten positions, ascending), only terms that could cover one of them are looked for: a match
 * anywhere else reads the same in the text itself, which was searched whole.
 */
type Matcher = { find(text: string, changed?: readonly number[]): Array<[number, number]>; has(text: string, changed?: readonly number[]): boolean };
/** Past this many matching terms in one text, one pass of the whole matcher is cheaper than one per term. */
const TERMS_CHECKED_ONE_BY_ONE = 3;

/**
 * obscenity's RegExpMatcher runs each of its 147 terms with matchAll, which copies the RegExp: 20 µs
 * a chat message (loadtest/results/filter.md). Here the text is transformed once and only the terms
 * that can start at one of its pairs of characters are tested on it, so clean text costs a few
 * microseconds. A term that matches runs obscenity's matcher, its own (with the whole whitelist)
 * for spans, or the whole one when many match (a long text full of profanity): the result is
 * obscenity's (span for span the same on the corpora and 275,000 English words, when written).
 */
function createMatcher(): Matcher {
  const { blacklistedTerms, whitelistedTerms } = createDataset().build();
  // The folding (its look-alike table made once), then runs collapsed: what obscenity's matchers apply, and our own transform.
  const folding = foldingTransformers();
  const options = {
    whitelistedTerms,
    blacklistMatcherTransformers: [...folding, collapseDuplicatesTransformer(COLLAPSE)],
    whitelistMatcherTransformers: englishRecommendedWhitelistMatcherTransformers,
  };
  const whole = new RegExpMatcher({ blacklistedTerms, ...options });
  const transform = transformWith(folding, COLLAPSE);
  // Sticky: a term is tested only where one of its openings stands, not scanned along the text.
  const terms = blacklistedTerms.map((term) => ({ at: sticky(regExpOf(term.pattern)), matcher: new RegExpMatcher({ blacklistedTerms: [term], ...options }) }));
  const ats = terms.map((term) => term.at);
  const { byPair, byFirst, always } = indexOpenings(blacklistedTerms.map((term) => term.pattern));
  /** Longest match a term can make, in transformed characters, plus one each side for \b and runs. */
  const reach = Math.max(...blacklistedTerms.map((term) => patternLength(term.pattern))) + 2;
  // Reused by every call (matching is synchronous): which terms matched, and the positions near a view's changes.
  const matched = new Uint8Array(terms.length);
  let near = new Uint8Array(256);
  /** Test the terms `openings` lists under `key` at `position`, each until it matches; how many matched now. */
  const testEach = (openings: Openings, key: number, transformed: string, position: number): number => {
    let found = 0;
    for (let k = openings.start[key]!, end = openings.start[key + 1]!; k < end; k++) {
      const index = openings.terms[k]!;
      if (matched[index] === 1) continue;
      const at = ats[index]!;
      at.lastIndex = position;
      if (at.test(transformed)) {
        matched[index] = 1;
        found++;
      }
    }
    return found;
  };
  /**
   * The matchers to ask: none when no term matches the transformed text. A term is tested at each
   * position where its first two characters (or its first, before a wildcard) stand, since a match
   * starts there; the few terms that could start anywhere are tested along the whole text.
   */
  const matchersFor = (text: string, changed?: readonly number[]): RegExpMatcher[] => {
    const transformed = transform(text);
    const length = transformed.length;
    const codes = transformedCodes;
    if (changed !== undefined) {
      if (near.length < length) near = new Uint8Array(2 * length);
      markNearChanges(near, length, changed, reach);
    }
    matched.fill(0);
    let count = 0;
    for (const index of always) {
      const at = ats[index]!;
      for (let position = 0; position < length; position++) {
        at.lastIndex = position;
        if (at.test(transformed)) {
          matched[index] = 1;
          count++;
          break;
        }
      }
    }
    for (let i = 0; i + 1 < length && count <= TERMS_CHECKED_ONE_BY_ONE; i++) {
      if (changed !== undefined && near[i] === 0) continue;
      const first = codes[i]!;
      if (first >= 128) continue;
      count += testEach(byFirst, first, transformed, i);
      const second = codes[i + 1]!;
      if (second < 128) count += testEach(byPair, first * 128 + second, transformed, i);
    }
    if (count === 0) return [];
    if (count > TERMS_CHECKED_ONE_BY_ONE) return [whole];
    const matching: RegExpMatcher[] = [];
    for (let index = 0; index < terms.length; index++) if (matched[index] === 1) matching.push(terms[index]!.matcher);
    return matching;
  };
  return {
    find: (text, changed) => matchersFor(text, changed).flatMap((matcher) => matcher.getAllMatches(text).map((match): [number, number] => [match.startIndex, match.endIndex])),
    has: (text, changed) => matchersFor(text, changed).some((matcher) => matcher.hasMatch(text)),
  };
}

/** Characters a pattern can match at most: a literal's, an optional part's, one per wildcard. */
function patternLength(parsed: ParsedPattern): number {
  const lengthOf = (node: LiteralNode | WildcardNode) => (node.kind === SyntaxKind.Literal ? node.chars.length : 1);
  return parsed.nodes.reduce((sum, node) => sum + (node.kind === SyntaxKind.Optional ? lengthOf(node.childNode) : lengthOf(node)), 0);
}

/**
 * Mark in `near` the transformed positions a match could start at and still cover a changed text position:
 * within `reach` before the transformed character standing for it, or two after. `transformOrigin`
 * maps transformed characters back to the text (the transform drops some, and folds pairs).
 */
function markNearChanges(near: Uint8Array, length: number, changed: readonly number[], reach: number): void {
  near.fill(0, 0, length);
  const mark = (at: number) => near.fill(1, Math.max(0, at - reach), Math.min(length, at + 3));
  let next = 0;
  for (let t = 0; t < length && next < changed.length; t++) {
    // The transformed character t stands for the text up to transformOrigin[t] (and what the transform dropped before it).
    let covers = false;
    while (next < changed.length && changed[next]! <= transformOrigin[t]!) {
      covers = true;
      next++;
    }
    if (covers) mark(t);
  }
  if (next < changed.length) mark(length - 1);
}

/**
 * Which patterns can start with which two (ASCII) characters, each optional part taken and left
 * out: by the pair (first * 128 + second), or by the first alone when the second is a wildcard. A
 * pattern that could start with a wildcard or a non-ASCII character, or be shorter than two, is
 * always tested.
 */
function indexOpenings(patterns: readonly ParsedPattern[]): { byPair: Openings; byFirst: Openings; always: number[] } {
  const byPair: Array<number[] | undefined> = [];
  const byFirst: Array<number[] | undefined> = [];
  const always = new Set<number>();
  const WILDCARD = -1;
  const unitsOf = (node: LiteralNode | WildcardNode) => {
    if (node.kind !== SyntaxKind.Literal) return [WILDCARD];
    const literal = String.fromCodePoint(...node.chars);
    return Array.from({ length: literal.length }, (_, i) => literal.charCodeAt(i));
  };
  const add = (lists: Array<number[] | undefined>, key: number, index: number) => {
    const list = (lists[key] ??= []);
    if (!list.includes(index)) list.push(index);
  };
  patterns.forEach((parsed, index) => {
    let openings: number[][] = [[]];
    for (const node of parsed.nodes) {
      if (node.kind === SyntaxKind.Optional) openings = openings.flatMap((units) => (units.length >= 2 ? [units] : [units, [...units, ...unitsOf(node.childNode)]]));
      else openings = openings.map((units) => (units.length >= 2 ? units : [...units, ...unitsOf(node)]));
    }
    for (const [first, second] of openings) {
      if (first === undefined || second === undefined || first === WILDCARD || first >= 128 || second >= 128) always.add(index);
      else if (second === WILDCARD) add(byFirst, first, index);
      else add(byPair, first * 128 + second, index);
    }
  });
  return { byPair: flatten(byPair, 128 * 128), byFirst: flatten(byFirst, 128), always: [...always] };
}

/**
 * Terms by key, flat: the terms under `key` are `terms[start[key]]` up to `terms[start[key + 1]]`.
 * Dense typed arrays, since a sparse array of 16,384 pairs is a dictionary to V8 (a hash lookup per
 * character of every message).
 */
type Openings = { start: Uint32Array; terms: Uint16Array };

function flatten(lists: ReadonlyArray<number[] | undefined>, keys: number): Openings {
  const start = new Uint32Array(keys + 1);
  for (let key = 0; key < keys; key++) start[key + 1] = start[key]! + (lists[key]?.length ?? 0);
  const terms = new Uint16Array(start[keys]!);
  for (let key = 0; key < keys; key++) terms.set(lists[key] ?? [], start[key]!);
  return { start, terms };
}

/**
 * For the last transformed text: its UTF-16 units, and the index in the input of the last unit
 * each came from. Buffers reused by every call: read right after transforming (matching is
 * synchronous).
 */
let transformedCodes = new Uint16Array(256);
let transformedBytes = bytesOf(transformedCodes);
let transformOrigin = new Int32Array(256);

/**
 * The transformed text as obscenity's matcher sees it (its TransformerSet, applied per code point):
 * the stateless `folding` composed and tabulated for ASCII, then runs collapsed as obscenity's
 * collapseDuplicatesTransformer does with `collapse` (written out here, with its thresholds
 * tabulated, since calling the transformer and its Map per character was a fifth of the cost).
 * The units are collected in `transformedCodes` and made a string once.
 */
function transformWith(folding: readonly TransformerContainer[], collapse: typeof COLLAPSE): (text: string) => string {
  const steps = folding.map((container) => {
    if ("factory" in container) throw new Error("the folding transformers must be stateless");
    return container.transform;
  });
  const fold = (char: number) => steps.reduce<number | undefined>((value, step) => (value === undefined ? undefined : step(value)), char);
  const ascii = Int32Array.from({ length: 128 }, (_, char) => fold(char) ?? -1);
  const thresholds = new Map(Array.from(collapse.customThresholds, ([char, threshold]) => [char.codePointAt(0)!, threshold]));
  const thresholdOf = (char: number) => thresholds.get(char) ?? collapse.defaultThreshold;
  const asciiThreshold = Int32Array.from({ length: 128 }, (_, char) => thresholdOf(char));
  return (text) => {
    // A code point gives at most two units, and is at least one unit of the text.
    if (transformOrigin.length < text.length + 1) {
      transformOrigin = new Int32Array(2 * text.length + 16);
      transformedCodes = new Uint16Array(2 * text.length + 16);
      transformedBytes = bytesOf(transformedCodes);
    }
    let length = 0;
    let lastChar = -1;
    let remaining = -1;
    for (let i = 0; i < text.length; i++) {
      const code = text.charCodeAt(i);
      let char: number;
      if (code < 0x80) char = ascii[code]!;
      else {
        const point = text.codePointAt(i)!;
        if (point > 0xffff) i++;
        char = fold(point) ?? -1;
      }
      if (char < 0) continue;
      // Collapse runs: a character like the last one is kept while its run's threshold lasts.
      if (char === lastChar) {
        if (remaining-- <= 0) continue;
      } else {
        const threshold = char < 0x80 ? asciiThreshold[char]! : thresholdOf(char);
        remaining = threshold - 1;
        lastChar = char;
        if (threshold <= 0) continue;
      }
      if (char > 0xffff) {
        transformOrigin[length] = i;
        transformedCodes[length++] = 0xd800 + ((char - 0x10000) >> 10);
        transformOrigin[length] = i;
        transformedCodes[length++] = 0xdc00 + ((char - 0x10000) & 0x3ff);
      } else {
        transformOrigin[length] = i;
        transformedCodes[length++] = char;
      }
    }
    return stringOf(transformedCodes, transformedBytes, length);
  };
}

/** The bytes of `units`, to read them as a string (UTF-16LE) without copying. */
function bytesOf(units: Uint16Array): Buffer {
  return Buffer.from(units.buffer, units.byteOffset, units.byteLength);
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The first `length` units as a string: decoded from `bytes` (a third of fromCharCode.apply's time at 100 units). */
function stringOf(units: Uint16Array, bytes: Buffer, length: number): string {
  return LITTLE_ENDIAN ? bytes.toString("utf16le", 0, 2 * length) : String.fromCharCode.apply(null, units.subarray(0, length) as unknown as number[]);
}

/** The same RegExp, matching only at its lastIndex. */
function sticky(pattern: RegExp): RegExp {
  return new RegExp(pattern.source, `${pattern.flags}y`);
}

/** A pattern as the RegExp obscenity compiles it to (pattern/Util.ts), without the g flag. */
function regExpOf(parsed: ParsedPattern): RegExp {
  const source = (node: LiteralNode | WildcardNode) => (node.kind === SyntaxKind.Literal ? String.fromCodePoint(...node.chars).replace(/[.*+?^${}()|[\]\\]/g, "\\$&") : ".");
  const body = parsed.nodes.map((node) => (node.kind === SyntaxKind.Optional ? `(?:${source(node.childNode)})?` : source(node))).join("");
  return new RegExp(`${parsed.requireWordBoundaryAtStart ? "\\b" : ""}${body}${parsed.requireWordBoundaryAtEnd ? "\\b" : ""}`, "s");
}

/** Cyrillic and Greek letters that look like Latin ones and do not decompose to them: each Latin letter, then its look-alikes. */
const LOOKALIKES = "aаα bЬβвъБ cсϲς dԁ eеεё gɡ hһн iіιї jј kкκ mм nηп oоοσ pрρ rг sѕ tтτ uυцμ vν wԝωш xхχ yуγ AАΑ BВΒ CС EЕΕ HНΗ IІΙ JЈ KКΚ MМΜ NΝ OОΟ PРΡ SЅ TТΤ XХΧ YУΥ ZΖ";
/** Where decomposing letters, look-alikes, marks and invisible characters live; the rest of Unicode passes as is. */
const FOLDED_BLOCKS: ReadonlyArray<[number, number]> = [
  [0x00a0, 0x052f], // Latin-1 to Latin Extended-B, IPA, combining marks, Greek, Cyrillic
  [0x1ab0, 0x1fff], // combining marks extended, phonetic extensions, Latin Extended Additional, Greek Extended
  [0x2000, 0x24ff], // general punctuation (zero-width), super- and subscripts, letterlike, enclosed alphanumerics
  [0xfe00, 0xfe2f], // variation selectors, combining half marks
  [0xfeff, 0xffef], // zero-width no-break space, full-width forms
  [0x1d400, 0x1d7ff], // mathematical alphanumerics
  [0x1f100, 0x1f1ff], // enclosed alphanumeric supplement
  [0xe0000, 0xe01ef], // tags, variation selectors supplement
];

/**
 * A transformer mapping each code point that decomposes (NFKD, marks dropped) to one ASCII letter
 * or digit, or looks like one, to it, and dropping combining marks and invisible format characters
 * (a zero-width space inside a word). Also | reads i, as obscenity's leetspeak means it to (its
 * confusables table, applied first, would make it l). A table of a few thousand entries.
 */
function createFolding(): (char: number) => number | undefined {
  const DROP = -1;
  const table = new Map<number, number>();
  const lookalike = new Map<string, number>();
  for (const [latin, ...others] of LOOKALIKES.split(" ").map((group) => Array.from(group))) for (const other of others) lookalike.set(other, latin!.charCodeAt(0));
  for (const [first, last] of FOLDED_BLOCKS) {
    for (let code = first; code <= last; code++) {
      const char = String.fromCodePoint(code);
      if (/^[\p{M}\p{Cf}]$/u.test(char)) {
        table.set(code, DROP);
        continue;
      }
      const base = char.normalize("NFKD").replace(/\p{M}/gu, "");
      const folded = /^[A-Za-z0-9]$/.test(base) ? base.charCodeAt(0) : lookalike.get(base);
      if (folded !== undefined) table.set(code, folded);
    }
  }
  return (char) => {
    if (char < 0x80) return char === 0x7c ? 0x69 : char;
    const folded = table.get(char);
    return folded === undefined ? char : folded === DROP ? undefined : folded;
  };
}

/**
 * A rewritten text, for each of its UTF-16 units the first and last unit of the original it stands
 * for, and where it differs from the original (ascending view positions: a replaced character, a
 * cut run, and both sides of removed separators).
 */
type View = { text: string; from: Int32Array; to: Int32Array; changed: number[] };

const WORD = 0;
const SPACE = 1;
const MARK = 2;
/**
 * ASCII separators: whitespace, and punctuation that is neither leetspeak for a letter (@ $ ! | ()
 * nor an apostrophe. + and # separate here ("r+a+p+e") though the matcher reads them as t and *.
 */
const ASCII_KIND = Uint8Array.from({ length: 128 }, (_, code) => (/\s/.test(String.fromCharCode(code)) ? SPACE : '.,-_*~`":;=^/\\)[]{}<>?%&+#'.includes(String.fromCharCode(code)) ? MARK : WORD));
function kindOf(code: number): number {
  if (code < 0x80) return ASCII_KIND[code]!;
  const char = String.fromCodePoint(code);
  if (/\s/.test(char)) return SPACE;
  return code !== 0x2019 && /[\p{P}\p{S}]/u.test(char) ? MARK : WORD;
}

/**
 * Whether `derivedViews` could find anything to rewrite, in one pass that builds nothing: in a
 * whitespace-delimited token with a letter, a 1 or |, a run of three of one word character, or one
 * mark between two words of which one is short; or two one-letter words in a row, one of them a
 * letter. When none is there (most messages, numbers included) it has no view to make.
 */
function mayHaveViews(text: string): boolean {
  let previousCode = -1;
  let run = 0;
  /** Code points of the word being read (0 between words), and of the word before it (0 if none); whether each has a letter. */
  let wordLength = 0;
  let lastWordLength = 0;
  let wordLetter = false;
  let lastWordLetter = false;
  /** Non-word code points since the last word; whether they were exactly one mark. */
  let gap = 0;
  let gapIsOneMark = false;
  /** Whether the current word follows a gap of exactly one mark. */
  let afterOneMark = false;
  /** Whether the token being read has a letter, and something a view would rewrite. */
  let tokenLetter = false;
  let tokenRewrite = false;
  const wordEnds = () => {
    if (wordLength === 1 && lastWordLength === 1 && (wordLetter || lastWordLetter)) return true;
    if (afterOneMark && (wordLength <= 3 || lastWordLength <= 3)) tokenRewrite = true;
    lastWordLength = wordLength;
    lastWordLetter = wordLetter;
    wordLength = 0;
    wordLetter = false;
    return false;
  };
  for (let i = 0; i < text.length; i++) {
    const code = text.codePointAt(i)!;
    if (code > 0xffff) i++;
    if (readsAsOne(code)) tokenRewrite = true;
    const kind = kindOf(code);
    run = code === previousCode ? run + 1 : 1;
    previousCode = code;
    if (kind === WORD) {
      if (run >= 3) tokenRewrite = true;
      if (wordLength === 0) afterOneMark = lastWordLength > 0 && gapIsOneMark;
      wordLength++;
      if (!wordLetter && isLetter(code)) wordLetter = tokenLetter = true;
      gap = 0;
      continue;
    }
    if (wordLength > 0 && wordEnds()) return true;
    if (kind === SPACE) {
      if (tokenRewrite && tokenLetter) return true;
      tokenRewrite = tokenLetter = false;
    }
    gap++;
    gapIsOneMark = gap === 1 && kind === MARK;
  }
  return (wordLength > 0 && wordEnds()) || (tokenRewrite && tokenLetter);
}

/**
 * Views of the text for what a transformer cannot see one character at a time: separators inside
 * a word removed ("f.u.c.k", "sh-it", and "f u c k" where three or more one-letter words stand in
 * a row), runs of three or more of one letter cut to one ("cooooock", where obscenity keeps two
 * o's), and when the text has 1 or |, a second view reading them as l ("s1ut"); none of this
 * inside a token with no letter ("12345.678"). Most messages need none: one pass over their code
 * points, nothing built.
 */
/**
 * Buffers reused by every check (V8 allocates a typed array of more than 64 bytes outside its heap,
 * which costs more than the view itself): the text's code points, and the units and origins of each
 * of the two views a text can have. A check reads its views before the next is made.
 */
let pointScratch = pointBuffers(256);
const viewScratch = [viewBuffers(256), viewBuffers(256)];

function pointBuffers(length: number): { starts: Int32Array; codes: Int32Array; kinds: Uint8Array; last: Int32Array; drop: Uint8Array; letterFree: Uint8Array } {
  return {
    starts: new Int32Array(length),
    codes: new Int32Array(length),
    kinds: new Uint8Array(length),
    last: new Int32Array(length),
    drop: new Uint8Array(length),
    letterFree: new Uint8Array(length),
  };
}

/** 1 or |, which the second view reads as l. */
function readsAsOne(code: number): boolean {
  return code === 0x31 || code === 0x7c;
}

function isLetter(code: number): boolean {
  return code < 0x80 ? (code | 0x20) >= 0x61 && (code | 0x20) <= 0x7a : HAS_LETTER.test(String.fromCodePoint(code));
}

/**
 * Undo the drops and cut runs inside view tokens with no letter, and mark their code points in
 * `letterFree`; whether any change is left.
 */
function keepLetterFreeTokens(codes: Int32Array, kinds: Uint8Array, drop: Uint8Array, last: Int32Array, letterFree: Uint8Array, count: number): boolean {
  let changed = false;
  for (let start = 0; start < count; ) {
    // Whitespace the view keeps separates tokens; dropped whitespace ("f u c k") joins them.
    if (kinds[start] === SPACE && drop[start] === 0) {
      letterFree[start++] = 0;
      continue;
    }
    let end = start;
    let letter = false;
    for (; end < count && !(kinds[end] === SPACE && drop[end] === 0); end++) if (!letter) letter = isLetter(codes[end]!);
    for (let i = start; i < end; i++) {
      if (letter) {
        letterFree[i] = 0;
        changed ||= drop[i] === 1 || last[i] !== i;
      } else {
        letterFree[i] = 1;
        drop[i] = 0;
        last[i] = i;
      }
    }
    start = end;
  }
  return changed;
}

function viewBuffers(length: number): { units: Uint16Array; bytes: Buffer; from: Int32Array; to: Int32Array } {
  const units = new Uint16Array(length);
  return { units, bytes: bytesOf(units), from: new Int32Array(length), to: new Int32Array(length) };
}

function derivedViews(text: string): View[] {
  if (!mayHaveViews(text)) return [];
  // Per code point: where it starts in the text (one more entry: the text's end), its code, its kind.
  if (pointScratch.starts.length < text.length + 1) pointScratch = pointBuffers(2 * text.length + 16);
  const { starts, codes, kinds, last, drop, letterFree } = pointScratch;
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.codePointAt(i)!;
    starts[count] = i;
    codes[count] = code;
    kinds[count++] = kindOf(code);
    if (code > 0xffff) i++;
  }
  starts[count] = text.length;
  drop.fill(0, 0, count);
  let changed = false;

  // Words are runs of WORD. The gap between two is removed when it is one mark and one of them is
  // short ("f.uck", "sh-it"; not "annoying-gallery", which would read "ingga", nor the ellipsis of
  // "as...soon"), or when it lies inside a run of three or more one-letter words ("f u c k").
  const wordStarts: number[] = [];
  const wordEnds: number[] = [];
  for (let i = 0; i < count; i++) {
    if (kinds[i] !== WORD) continue;
    if (i === 0 || kinds[i - 1] !== WORD) wordStarts.push(i);
    if (i + 1 === count || kinds[i + 1] !== WORD) wordEnds.push(i);
  }
  const single = (w: number) => w >= 0 && w < wordStarts.length && wordStarts[w] === wordEnds[w];
  const short = (w: number) => wordEnds[w]! - wordStarts[w]! < 3;
  for (let w = 0; w + 1 < wordStarts.length; w++) {
    const gapStart = wordEnds[w]! + 1;
    const gapEnd = wordStarts[w + 1]!;
    const oneMark = gapEnd - gapStart === 1 && kinds[gapStart] === MARK;
    if ((oneMark && (short(w) || short(w + 1))) || (single(w) && single(w + 1) && (single(w - 1) || single(w + 2)))) {
      drop.fill(1, gapStart, gapEnd);
      changed = true;
    }
  }
  for (let i = 0; i < count; ) {
    let j = i + 1;
    while (j < count && codes[j] === codes[i]) j++;
    // `last`: the index of the last code point a kept one stands for (itself, or the end of its run).
    for (let k = i; k < j; k++) last[k] = k;
    if (j - i >= 3 && kinds[i] === WORD) {
      drop.fill(1, i + 1, j);
      last[i] = j - 1;
      changed = true;
    }
    i = j;
  }
  // Nothing changes inside a view token with no letter (a token: what lies between the whitespace
  // the view keeps). A match inside one has no letter, so it is never masked (refuse mode still
  // refuses a letter-free reading of the text itself, "455", but not of a view). A match
  // that covers a change there and a letter outside would cross the whitespace, which only a
  // wildcard can ("f?ck"): one character of the token, the space, then letters that no digit or
  // symbol reads as ("ngbang"); the text itself has that match. So scores, times and timestamps
  // ("12345.678", "1-0", "1 2 3") make no view, and a check of a chat line with a number costs what
  // one without does.
  changed = keepLetterFreeTokens(codes, kinds, drop, last, letterFree, count);
  const isOne = (i: number) => readsAsOne(codes[i]!) && letterFree[i] === 0;
  let hasOnes = false;
  for (let i = 0; i < count && !hasOnes; i++) hasOnes = isOne(i) && drop[i] === 0;
  if (!changed && !hasOnes) return [];

  const build = (onesAsL: boolean): View => {
    // A view is never longer than the text: it keeps or replaces units one for one, or drops them.
    const scratch = viewScratch[onesAsL ? 1 : 0]!;
    if (scratch.units.length < text.length) Object.assign(scratch, viewBuffers(2 * text.length));
    const { units, bytes, from, to } = scratch;
    let length = 0;
    const changedAt: number[] = [];
    /** The last unit kept so far changed neighbours (separators removed after it). */
    const lastKeptChanged = () => {
      if (length > 0 && changedAt.at(-1) !== length - 1) changedAt.push(length - 1);
    };
    let afterDrop = false;
    for (let i = 0; i < count; i++) {
      if (drop[i]) {
        // Removed separators: the kept units on both sides of the gap changed neighbours.
        if (!afterDrop) lastKeptChanged();
        afterDrop = true;
        continue;
      }
      const replaced = onesAsL && isOne(i);
      if (afterDrop || replaced || last[i] !== i) changedAt.push(length);
      afterDrop = false;
      const end = replaced ? starts[i]! + 1 : starts[i + 1]!;
      const stands = starts[last[i]! + 1]! - 1;
      for (let unit = starts[i]!; unit < end; unit++) {
        units[length] = replaced ? 0x6c : text.charCodeAt(unit);
        from[length] = starts[i]!;
        to[length++] = stands;
      }
    }
    if (afterDrop) lastKeptChanged();
    return { text: stringOf(units, bytes, length), from, to, changed: changedAt };
  };
  return [...(changed ? [build(false)] : []), ...(hasOnes ? [build(true)] : [])];
}
