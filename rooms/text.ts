/**
 * Text safety for anything a user writes that others see (message text, display names): NFC,
 * unpaired bidirectional controls removed, and a test for text that shows nothing at all.
 *
 * Written here rather than taken from a package: no maintained npm package balances bidi controls
 * the way UAX #9 pairs them (embeddings and overrides close with PDF, isolates with PDI, a paragraph
 * end closes everything); the rule is twenty lines and is pinned by unit tests.
 */

/** Embedding and override openers (LRE, RLE, LRO, RLO), closed by PDF. */
const EMBEDDINGS = new Set([0x202a, 0x202b, 0x202d, 0x202e]);
const PDF = 0x202c;
/** Isolate openers (LRI, RLI, FSI), closed by PDI. */
const ISOLATES = new Set([0x2066, 0x2067, 0x2068]);
const PDI = 0x2069;
/** Any embedding, override or isolate control, or their closers. */
const BIDI_CONTROL = /[\u202A-\u202E\u2066-\u2069]/;
/** Paragraph ends close every open control (UAX #9, rule X8). */
const PARAGRAPH_ENDS = new Set([0x0a, 0x0d, 0x1c, 0x1d, 0x1e, 0x85, 0x2029]);

/**
 * Remove every bidi control that is not closed within its paragraph, and every closer without an
 * opener, so that no text can reverse what is displayed after it (a name, a timestamp, the next
 * message). Paired controls stay: mixed-direction text keeps rendering as its author meant.
 */
export function neutraliseBidi(text: string): { text: string; removed: number } {
  // The path of every message: most texts hold no bidi control at all.
  if (!BIDI_CONTROL.test(text)) return { text, removed: 0 };
  const points = Array.from(text);
  const open: Array<{ index: number; isolate: boolean }> = [];
  const drop = new Set<number>();
  const closeAll = () => {
    for (const control of open) drop.add(control.index);
    open.length = 0;
  };
  points.forEach((point, index) => {
    const code = point.codePointAt(0)!;
    if (EMBEDDINGS.has(code)) open.push({ index, isolate: false });
    else if (ISOLATES.has(code)) open.push({ index, isolate: true });
    else if (code === PDF) {
      if (open.at(-1)?.isolate === false) open.pop();
      else drop.add(index);
    } else if (code === PDI) {
      const isolateAt = open.findLastIndex((control) => control.isolate);
      if (isolateAt === -1) return void drop.add(index);
      // A PDI also ends the embeddings opened inside its isolate; those had no PDF of their own.
      for (const control of open.splice(isolateAt).slice(1)) drop.add(control.index);
    } else if (PARAGRAPH_ENDS.has(code)) closeAll();
  });
  closeAll();
  if (drop.size === 0) return { text, removed: 0 };
  return { text: points.filter((_, index) => !drop.has(index)).join(""), removed: drop.size };
}

/** Whitespace, controls and default-ignorable code points (zero-width spaces, joiners, fillers, ...). */
const INVISIBLE = /^[\s\p{Cc}\p{Default_Ignorable_Code_Point}]*$/u;

/** True when the text would show nothing: empty, or only whitespace and invisible characters. */
export function isInvisible(text: string): boolean {
  return INVISIBLE.test(text);
}

/** What user text becomes before anyone else sees it. */
export type CleanText = {
  text: string;
  /** Length in code points: what the limits count. */
  length: number;
  /** Nothing would be displayed: refuse as empty. */
  invisible: boolean;
  /** Unpaired bidi controls removed (for a metric). */
  bidiRemoved: number;
};

/** NFC, unpaired bidi controls removed, trimmed. */
export function cleanText(raw: string): CleanText {
  const { text: balanced, removed } = neutraliseBidi(raw.normalize("NFC"));
  const text = balanced.trim();
  let length = 0;
  for (const _ of text) length++;
  return { text, length, invisible: isInvisible(text), bidiRemoved: removed };
}
