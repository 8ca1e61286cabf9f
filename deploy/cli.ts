/**
 * Command lines of Parley's tools (cluster, loadtest, bench*, chaos): `--help` prints usage and
 * exits 0; an unknown flag or a bad value prints one line naming it and exits 2, never a stack
 * trace. Built on node:util parseArgs; what it adds is the usage text and typed, checked values.
 */
import { parseArgs } from "node:util";

/** One option: its kind, default, and the line --help shows. */
export type Option =
  | { kind: "string"; default?: string; help: string; choices?: readonly string[] }
  | { kind: "boolean"; help: string }
  | { kind: "integer"; default?: number; help: string; min?: number; max?: number }
  | { kind: "number"; default?: number; help: string; min?: number; max?: number };

type ValueOf<O extends Option> = O extends { kind: "boolean" } ? boolean : O extends { kind: "integer" | "number" } ? number : string;
/** Parsed values: options with a default (and booleans) are always set. */
export type Values<Options extends Record<string, Option>> = {
  [K in keyof Options]: Options[K] extends { kind: "boolean" } | { default: unknown } ? ValueOf<Options[K]> : ValueOf<Options[K]> | undefined;
};

export type Command<Options extends Record<string, Option>> = {
  /** How it is run: `npm run loadtest --`. */
  usage: string;
  /** What it does, one or two sentences. */
  summary: string;
  options: Options;
  examples?: readonly string[];
};

/** The usage text of a command. */
export function usageOf(command: Command<Record<string, Option>>): string {
  const flags = Object.entries(command.options).map(([name, option]) => {
    const value = option.kind === "boolean" ? "" : option.kind === "string" ? (option.choices ? ` <${option.choices.join("|")}>` : " <text>") : ` <${option.kind === "integer" ? "n" : "x"}>`;
    const fallback = "default" in option && option.default !== undefined ? ` (default ${option.default})` : "";
    return [`  --${name}${value}`, `${option.help}${fallback}`] as const;
  });
  const width = Math.max(...flags.map(([flag]) => flag.length), 10) + 2;
  return [
    `usage: ${command.usage} [options]`,
    "",
    command.summary,
    "",
    "options:",
    ...flags.map(([flag, help]) => `${flag.padEnd(width)}${help}`),
    `${"  --help, -h".padEnd(width)}print this and exit`,
    ...(command.examples?.length ? ["", "examples:", ...command.examples.map((example) => `  ${example}`)] : []),
  ].join("\n");
}

/** A bad command line, with the one line to print. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** Parse `argv` against `command`, or throw UsageError; `help: true` when --help was asked for. */
export function parseCommandLine<Options extends Record<string, Option>>(command: Command<Options>, argv: readonly string[]): { help: true } | { help: false; values: Values<Options> } {
  const spec = Object.fromEntries(Object.entries(command.options).map(([name, option]) => [name, { type: option.kind === "boolean" ? ("boolean" as const) : ("string" as const) }]));
  let parsed: Record<string, string | boolean | undefined>;
  try {
    ({ values: parsed } = parseArgs({ args: [...argv], options: { ...spec, help: { type: "boolean", short: "h" } }, strict: true, allowPositionals: false }) as {
      values: Record<string, string | boolean | undefined>;
    });
  } catch (error) {
    // parseArgs's messages name the flag: "Unknown option '--x'", "Option '--rooms <value>' argument missing".
    throw new UsageError((error as Error).message.split("\n")[0]!.replace(/\. To specify.*$/, ""));
  }
  if (parsed.help) return { help: true };
  const values: Record<string, unknown> = {};
  for (const [name, option] of Object.entries(command.options)) {
    const raw = parsed[name];
    if (option.kind === "boolean") values[name] = raw === true;
    else if (raw === undefined) values[name] = option.default;
    else if (option.kind === "string") {
      if (option.choices && !option.choices.includes(raw as string)) throw new UsageError(`--${name} must be one of ${option.choices.join(", ")}, got "${raw}"`);
      values[name] = raw;
    } else {
      const text = String(raw).trim();
      const number = Number(text);
      const whole = option.kind === "integer";
      if (text === "" || !Number.isFinite(number) || (whole && !Number.isInteger(number))) throw new UsageError(`--${name} must be ${whole ? "a whole number" : "a number"}, got "${raw}"`);
      if (option.min !== undefined && number < option.min) throw new UsageError(`--${name} must be at least ${option.min}, got ${number}`);
      if (option.max !== undefined && number > option.max) throw new UsageError(`--${name} must be at most ${option.max}, got ${number}`);
      values[name] = number;
    }
  }
  return { help: false, values: values as Values<Options> };
}

/**
 * The command line of this process: prints usage and exits 0 on --help; prints one line naming the
 * problem and exits 2 on a bad flag or value.
 */
export function commandLine<Options extends Record<string, Option>>(command: Command<Options>, argv: readonly string[] = process.argv.slice(2)): Values<Options> {
  try {
    const result = parseCommandLine(command, argv);
    if (!result.help) return result.values;
    console.log(usageOf(command));
    process.exit(0);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`${command.usage.replace(/ --$/, "")}: ${error.message} (see --help)`);
    process.exit(2);
  }
}

/** Print one line naming a bad value (found after parsing, in a list say) and exit 2. */
export function failUsage(command: Pick<Command<Record<string, Option>>, "usage">, message: string): never {
  console.error(`${command.usage.replace(/ --$/, "")}: ${message} (see --help)`);
  process.exit(2);
}

/** A comma-separated list of positive numbers, or a failed usage naming the option. */
export function positiveList(command: Pick<Command<Record<string, Option>>, "usage">, name: string, text: string): number[] {
  const numbers = text.split(",").map((part) => Number(part.trim()));
  if (numbers.length === 0 || numbers.some((number) => !(number > 0) || !Number.isFinite(number))) failUsage(command, `--${name} must be a comma-separated list of positive numbers, got "${text}"`);
  return numbers;
}

/** A comma-separated list of NAME=value settings (empty text: none), or a failed usage naming the option. */
export function settingsList(command: Pick<Command<Record<string, Option>>, "usage">, name: string, text: string): Record<string, string> {
  const settings: Record<string, string> = {};
  for (const pair of text.split(",").filter(Boolean)) {
    const at = pair.indexOf("=");
    if (at <= 0) failUsage(command, `--${name}: "${pair}" is not NAME=value`);
    settings[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return settings;
}
