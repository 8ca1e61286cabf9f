/**
 * Writes the content filter's evasion corpus (issue #12): test/fixtures/profanity-offensive.txt
 * (disguised spellings of common English profanity and slurs that obscenity's English dataset
 * covers) and test/fixtures/profanity-clean.txt (Scunthorpe-style traps and ordinary game chat).
 *
 *   node loadtest/filter-corpus.ts
 *
 * Deterministic (a seeded generator): the same lists give the same files. The files are the
 * fixtures; this script only saves typing them. Format: one entry per line, `# kind` lines head
 * each section, blank lines separate them. The sentences never start with `#`.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";

/** mulberry32: a small seeded generator, so the files do not change between runs. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = seeded(12);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
const chars = (word: string) => Array.from(word);
/** Entries written several to a line, separated by " | " (no entry holds one). */
const list = (block: string) =>
  block
    .split(/\n| \| /)
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0);

/** Insults (nouns) and expletives; each is matched by obscenity's English dataset when spelled plainly (jizz and buttplug aside). */
const INSULTS = list(`
  bitch | cunt | dick | dickhead | asshole | bastard | whore | slut | fag | faggot | nigger | nigga | retard | twat | wanker | prick | cocksucker | motherfucker
  shithead | dipshit | tranny | spastic | kike | chink | dyke | cuck | pussy | fucker | hooker | turd | dumbass | jackass | arse
`);
const EXPLETIVES = ["fuck", "fucking", "shit", "shitty", "bullshit", "piss", "pissed", "fuckface", "bitches"];
const SEXUAL = list(`
  cock | tits | titties | penis | vagina | dildo | porn | rape | rapist | jizz | cum | bollocks | blowjob | handjob | orgasm | masturbate | boobs | jerkoff
  gangbang | deepthroat | semen | anal | buttplug | negro
`);
const WORDS = [...INSULTS, ...EXPLETIVES, ...SEXUAL];

const LEET: Record<string, readonly string[]> = { a: ["4", "@"], e: ["3"], i: ["1", "!", "|"], o: ["0"], s: ["5", "$"], t: ["7", "+"], g: ["9", "6"], b: ["8"], l: ["1"], u: ["v"] };
/** Cyrillic and Greek letters that look like Latin ones. */
const LOOKALIKE: Record<string, readonly string[]> = {
  a: ["а", "α"],
  b: ["Ь", "β"],
  c: ["с", "ϲ"],
  d: ["ԁ"],
  e: ["е", "ε"],
  g: ["ɡ"],
  h: ["һ", "н"],
  i: ["і", "ι"],
  j: ["ј"],
  k: ["к", "κ"],
  m: ["м"],
  n: ["η", "п"],
  o: ["о", "ο", "σ"],
  p: ["р", "ρ"],
  r: ["г"],
  s: ["ѕ"],
  t: ["т", "τ"],
  u: ["υ", "ц"],
  v: ["ν"],
  w: ["ԝ", "ω"],
  x: ["х", "χ"],
  y: ["у", "γ"],
  A: ["А", "Α"],
  B: ["В", "Β"],
  C: ["С"],
  E: ["Е", "Ε"],
  H: ["Н", "Η"],
  I: ["І", "Ι"],
  K: ["К", "Κ"],
  M: ["М", "Μ"],
  N: ["Ν"],
  O: ["О", "Ο"],
  P: ["Р", "Ρ"],
  S: ["Ѕ"],
  T: ["Т", "Τ"],
  X: ["Х", "Χ"],
  Y: ["Υ", "У"],
};

/** Substitute `share` of the letters that have a substitute (at least one). */
function substitute(word: string, table: Record<string, readonly string[]>, share: number): string {
  const letters = chars(word);
  const places = letters.flatMap((letter, index) => (table[letter] ? [index] : []));
  if (places.length === 0) return word;
  const chosen = places.filter(() => random() < share);
  if (chosen.length === 0) chosen.push(pick(places));
  for (const index of chosen) letters[index] = pick(table[letters[index]!]!);
  return letters.join("");
}

const mixedCase = (word: string) =>
  pick([
    () => word.toUpperCase(),
    () => word[0]!.toUpperCase() + word.slice(1),
    () =>
      chars(word)
        .map((c, i) => (i % 2 ? c.toUpperCase() : c))
        .join(""),
    () =>
      chars(word)
        .map((c, i) => (i % 2 ? c : c.toUpperCase()))
        .join(""),
    () =>
      chars(word)
        .map((c) => (random() < 0.5 ? c.toUpperCase() : c))
        .join(""),
  ])();
const leet = (word: string) => substitute(word, LEET, pick([0.4, 0.7, 1]));
const lookalike = (word: string) => substitute(random() < 0.3 ? word.toUpperCase() : word, LOOKALIKE, pick([0.3, 0.6, 1]));
const spaced = (word: string) => {
  const spelled = random() < 0.3 ? word.toUpperCase() : word;
  return chars(spelled).join(pick([" ", " ", "  "]));
};
const punctuated = (word: string) => {
  const letters = chars(word);
  const inside = 1 + Math.floor(random() * (letters.length - 1));
  return pick([
    () => letters.join(pick([".", "-", "_", "*", "~", "/", "+"])),
    () => letters.join(pick([". ", " - ", " . ", ", "])),
    () => `${letters.slice(0, inside).join("")}${pick([".", "-", "_", "*", "..", "~", ","])}${letters.slice(inside).join("")}`,
    () => `${letters.join(".")}.`,
  ])();
};
const repeated = (word: string) => {
  const letters = chars(word);
  const times = () => 3 + Math.floor(random() * 5);
  const stretch = new Set([Math.floor(random() * letters.length), random() < 0.4 ? Math.floor(random() * letters.length) : -1]);
  return letters.map((c, i) => (stretch.has(i) ? c.repeat(times()) : c)).join("");
};
const fullWidth = (word: string) => {
  const spelled = random() < 0.4 ? word.toUpperCase() : word;
  return chars(spelled)
    .map((c) => String.fromCodePoint(c.codePointAt(0)! + 0xfee0))
    .join("");
};
/** Mathematical alphabets (bold, italic, script, sans, double-struck, monospace); their holes are letterlike symbols (italic h is ℎ). */
const MATH_ALPHABETS = [0x1d41a, 0x1d44e, 0x1d4b6, 0x1d5ba, 0x1d552, 0x1d68a];
const MATH_HOLES: Record<string, string> = { "119893": "ℎ", "119994": "ℯ", "119996": "ℊ", "120004": "ℴ" };
const mathLetter = (c: string) => {
  const code = pick(MATH_ALPHABETS) + c.charCodeAt(0) - 97;
  return MATH_HOLES[String(code)] ?? String.fromCodePoint(code);
};
/** Mathematical alphanumerics, circled letters, accents, invisible characters and combining marks. */
const otherUnicode = (word: string) =>
  pick([
    () => chars(word).map(mathLetter).join(""),
    () =>
      chars(word)
        .map((c) => String.fromCodePoint(0x24d0 + c.charCodeAt(0) - 97))
        .join(""),
    () =>
      chars(word)
        .map((c) => ({ a: "à", e: "é", i: "ï", o: "ô", u: "ü", c: "ç", n: "ñ", s: "š", y: "ý" })[c] ?? c)
        .join(""),
    () => {
      const letters = chars(word);
      const at = 1 + Math.floor(random() * (letters.length - 1));
      return `${letters.slice(0, at).join("")}${pick(["\u200b", "\u200c", "\u200d", "\u2060", "\u00ad"])}${letters.slice(at).join("")}`;
    },
    () =>
      chars(word)
        .map((c) => c + pick(["\u0336", "\u0301", "\u0308", "\u0335"]))
        .join(""),
  ])();
/** Self-censoring: a symbol in place of a vowel, the way players soften a word. */
const SELF_CENSORED = list(`
  f*ck | sh*t | b*tch | c*nt | d*ck | wh*re | sl*t | p*ssy | f*cking | bullsh*t | a**hole | f**k | sh!t | b!tch | c0ck | f#ck | sh#t | fu(k | f@ggot | n!gger
`);
/** Spelled as it sounds; the last five are not caught ("kunt" is Dutch for "can", "dik" and "azz" are too short to tell). */
const SOUND_ALIKE = ["phuck", "phuk", "phucking", "fuq", "fuqing", "fck", "fcking", "biatch", "niqqa", "niqqer", "shyt", "phag", "phaggot", "fawk", "kunt", "dik", "azz", "beyotch"];
/** A word cut in two with a space: known to slip through (joining any two words would flag "pen is"). */
const SPLIT = ["fu ck", "sh it", "bit ch", "cu nt", "ass hole", "fag got", "wh ore", "sl ut", "nig ger", "di ck"];

const SENTENCES_WITH_INSULT = list(`
  gg ez you {w} | shut up you {w} | lol ur such a {w} | that {w} stole my kill | our healer is a total {w} | uninstall the game {w} | nice aim {w}
  go back to the lobby {w} | reported, you {w} | why is this {w} on my team | {w} can't even aim | ok {w} whatever | bro you're a {w} fr | stop camping you {w}
  imagine being this much of a {w} | mid is a {w} again 🙄 | you absolute {w}!! | what a {w} lmao | carried by a {w} again | hey {w}, learn to play
`);
const SENTENCES_WITH_EXPLETIVE = list(`
  {w} this lag | oh {w} i died again | this is {w} | what the {w} was that | {w}!!! missed again | holy {w} that was close | ranked is {w} today
  {w}, forgot to buy armor | man this patch is {w} 😤 | that was {w} luck
`);
const SENTENCES_WITH_SEXUAL = ["send {w} pics", "lol {w} in chat", "who wants {w}", "go watch {w} instead", "{w} {w} {w}", "my name is {w} master", "ur mom likes {w}", "talk about {w} in dms"];

function sentences(words: readonly string[], templates: readonly string[], count: number, disguises: ReadonlyArray<(w: string) => string>): string[] {
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const word = pick(disguises)(pick(words));
    out.push(pick(templates).replaceAll("{w}", word));
  }
  return out;
}

const short = WORDS.filter((w) => w.length <= 7);
const everyWord = (disguise: (w: string) => string, words: readonly string[] = WORDS) => words.map(disguise);
const disguises = [(w: string) => w, mixedCase, leet, lookalike, punctuated, repeated, fullWidth, otherUnicode];

const OFFENSIVE: Array<[string, string[]]> = [
  ["mixed case", everyWord(mixedCase)],
  ["digits and symbols for letters", [...everyWord(leet), ...everyWord(leet)]],
  ["Cyrillic and Greek look-alikes", [...everyWord(lookalike), ...everyWord(lookalike, short)]],
  ["spacing inside words", [...everyWord(spaced, short), ...everyWord(spaced, short.slice(0, 15))]],
  ["punctuation inside words", [...everyWord(punctuated), ...everyWord(punctuated, short)]],
  ["repeated letters", everyWord(repeated)],
  ["full-width forms", everyWord(fullWidth, short)],
  ["styled, accented, invisible and combining characters", everyWord(otherUnicode)],
  ["symbols in place of letters (self-censoring)", SELF_CENSORED],
  ["spelled as it sounds", SOUND_ALIKE],
  [
    "embedded in sentences",
    [...sentences(INSULTS, SENTENCES_WITH_INSULT, 80, disguises), ...sentences(EXPLETIVES, SENTENCES_WITH_EXPLETIVE, 45, disguises), ...sentences(SEXUAL, SENTENCES_WITH_SEXUAL, 25, disguises)],
  ],
  ["split into two words (known hard)", SPLIT],
];

/** Words that contain a listed word, or were flagged by some filter, yet are clean: each gets sentences. */
const TRAPS = [
  ...list(`
  class assignment | Scunthorpe | cockpit | Essex | Sussex | Middlesex | grape | grapefruit | therapist | cocktail | assassin | bass guitar | passage | Dickens
  analysis | title | shitake mushrooms | shiitake | classic | assistant | assume | assembly | assessment | asset | associate | assorted | assault rifle
  Assam tea | passion | massive | compass | embassy | harassment | glass cannon | brass knuckles | Penistone | peacock | Hancock | Hitchcock | shuttlecock
  cockroach | cockatoo | poppycock | cocky | unisex | sextant | sexton | drape | scrape | skyscraper | rapport | rapid fire | rapper | Dickinson | dictionary
  analyst | analog stick | psychoanalysis | canal | banal | titan | titanium | titular | constitution | competition | petition | appetite | titmouse | cucumber
  document | circumstance | cumulative | cumin | cum laude | Cumbria | cumbersome | Uranus | tetanus | bonus | heinous | arsenal | arsenic | parse | sparse
  hearse | Niger | Nigeria | Nigel | niggle | snigger | niggardly | Montenegro | negroni | tycoon | raccoon | cocoon | cuckoo | button | buttress | Wankel engine
  flame retardant | booby trap | gas mask | gasmask | Fukuoka | kung fu | pen island | rapeseed | scattered | Shih Tzu | Saturday | Arsenal | turducken | twattle
  analgesic | hooked | spice | prickly | shell | Matsushita | Shiite | titter | chink in the armor
`),
  // Found by running English word lists (an-array-of-english-words, EFF's diceware list) through the filter.
  ...list(`
  trafficking | overanalyze | reanalyze | cryptanalysis | the annals of history | rapped on the door | rappelling down the cliff | pachinko | mishit | feckless
`),
];
const TRAP_TEMPLATES = list(`
  {w} | anyone else think about {w}? | my {w} is better than yours | gg, the {w} part was rough | we talked about {w} in voice | the {w} map is out
  i typed {w} by mistake lol | brb, {w}
`);

const CHAT = list(`
  gg wp | gg wp everyone | anyone up for ranked? | need a healer for the raid | lag is insane tonight | brb grabbing food | 1v1 me on dust2 | who's got the flag?
  push mid | nice shot! | can someone carry me through the dungeon | lvl 42 mage lf group | selling 3 iron ore 20g each
  the boss has 2 phases, stack for the second | thx for the res | 🙂 good game everyone | lol | lmao | ez | gg 2-1 | k/d 2.5 not bad | 13-7 at half | afk 5 min
  x2 xp weekend!! | who're you queueing with? | she'll carry us | it's fine, next round | wait--what just happened? | lol... | ok. | k. | e.g. buy boots first
  i.e. don't push alone | u.s. servers are lagging | p.s. gg | A.F.K. for a sec | s.o.s need help at B | co-op anyone? | pre-order bonus skins are out
  x-ray build is op | t-pose emote lol | re-queue pls | b r b | g g | w p | a b c | o k | l o l | n o o b | g-g | ez-pz | 3 2 1 go | 5 4 3 2 1 | lvl 60 finally
  1 hit left! | 3 hits and he's down | sh0t him in the back | need 2 more for 5v5 | bo3 or bo5? | 420 gold for the sword | 555 damage crit | gg ez | ggs | wp all
  ty | np | glhf | hf gl | omw | on my way | rotate B | smoke mid, flash long | eco round | full buy | save your ult | ult ready | dragon in 30s | baron soon
  ward the river | gank top | jungle is empty | tower diving is risky | stop feeding pls | we can still win this | don't give up | nice try | unlucky | close one
  what a comeback | that clutch was insane | who's the MVP? | mvp is our tank | cya tomorrow | good night all | morning! anyone online?
  how do i craft the iron sword? | where is the merchant in act 2? | quest bug? npc won't talk | patch notes are up | servers down again? | restart fixed it
  my fps dropped to 20 | turn off vsync | what's your sens? | 800 dpi, 0.4 in game | crosshair code? | is the new season out? | battle pass is worth it
  free skin today | trade? my axe for your bow | price check: dragon scale | wtb potions | wts rare gems | lf2m for the dungeon | lfg raid tonight 8pm | inv me
  invite sent | accept the party invite | join voice | mic is broken sorry | can't hear you | you're muted | team chat pls | all chat is wild today
  report the afk guy | kick him from the party | be nice, it's his first game | welcome to the server! | rules are in #info | no spam please | mods are online
  thanks mod | this guild is the best | guild meeting at 9 | donate to the guild bank | loot rules: need before greed | roll for the helmet | won the roll!
  grats on the drop | gz | grats | legendary drop!!! | finally got the mount | rng hates me | 10 runs and no drop | drop rate is 1% | farm with me
  speedrun attempt #3 | new pb! | world record pace | any% or 100%? | glitch skip works | clip through the wall here | that hitbox is huge | netcode is bad
  peeker's advantage lol | he was lagging | nerf the sniper | buff support pls | meta is boring | off-meta picks are fun | first blood! | double kill
  triple kill!! | ace! | pentakill | shutdown gold | ggs, rematch? | again? | one more | last game for me | queue times are long | matchmaking is rough
  smurfs everywhere | climbed to gold | hardstuck silver | rank up! | demoted again rip | rip | f | F in chat | press F | 😂😂😂 | 👍 | 🔥🔥 gg 🔥🔥 | ❤️ | 🇯🇵 server?
  🎉🎉🎉 won the tournament | 💀💀 | 👀 | 🤣🤣 that was funny | 😭 lost again | 🫡 | привет всем, кто хочет в рейд? | спасибо за игру | хорошая игра | пойдём на мид
  кто-нибудь из Москвы? | это был классный матч | дякую за гру | сосиска в тесте | кот спит | скоро вернусь | καλή ιδέα | ευχαριστώ για το παιχνίδι
  πάμε ρε παιδιά | καλημέρα σε όλους | buena partida amigos | ¿alguien para jugar? | gutes Spiel | wer kommt mit in den Dungeon? | bien joué tout le monde
  boa partida galera | よろしくお願いします | お疲れ様でした | 大家好 | 这局打得不错 | 잘했어요 | لعبة جيدة | अच्छा खेल | เล่นดีมาก | iyi oyunlar | dobra gra | chơi hay lắm | Ça va? on joue?
`);
const PLAYERS = ["Nova", "xXShadowXx", "Kestrel", "mika_99", "Toad", "Big Sam", "Lena", "Oskar", "pixelpusher", "Rin", "captain_k", "Bjørn", "Zoë", "Ángel", "Dmitri", "Sasha"];
const CHAT_TEMPLATES = list(`
  hey {p}, want to duo? | {p} carried that round | thanks {p}! | {p} is on fire today | nice save {p} | {p} you're up next | waiting for {p} to join
  {p} left the party | gg {p}, well played | {p}, cover me
`);

const clean: Array<[string, string[]]> = [
  ["Scunthorpe-style traps", TRAPS.flatMap((trap) => [trap, pick(TRAP_TEMPLATES.slice(1)).replaceAll("{w}", trap), pick(TRAP_TEMPLATES.slice(1)).replaceAll("{w}", trap)])],
  ["game chat", CHAT],
  ["game chat with names", PLAYERS.flatMap((player) => CHAT_TEMPLATES.map((t) => t.replaceAll("{p}", player)))],
  // Clean, and flagged all the same: a word list cannot tell a false friend or a context apart.
  ["false friends and context (known false positives)", ["das Buch ist sehr dick", "Cum ești azi?", "our hooker won the lineout again"]],
];

/** Distinct entries in order; an entry seen in an earlier section is not repeated. */
function render(sections: ReadonlyArray<[string, string[]]>): { text: string; count: number } {
  const seen = new Set<string>();
  const lines: string[] = [];
  for (const [kind, entries] of sections) {
    const fresh = [...new Set(entries)].filter((entry) => entry.length > 0 && !entry.startsWith("#") && !seen.has(entry));
    for (const entry of fresh) seen.add(entry);
    lines.push(`# ${kind}`, ...fresh, "");
  }
  return { text: lines.join("\n"), count: seen.size };
}

const fixtures = join(import.meta.dirname, "..", "test", "fixtures");
for (const [name, sections] of [
  ["profanity-offensive.txt", OFFENSIVE],
  ["profanity-clean.txt", clean],
] as const) {
  const { text, count } = render(sections);
  writeFileSync(join(fixtures, name), text);
  console.log(`wrote ${count} entries to test/fixtures/${name}`);
}
