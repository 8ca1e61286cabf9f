/**
 * `npm run chaos -- --scenario a|b|c|d|e|f|g|all [--short]`: run chaos scenarios on a real cluster and
 * print the checker's table for each. Exits 1 if any scenario loses, duplicates or reorders.
 */
import { commandLine, failUsage, type Command, type Option } from "../../deploy/cli.ts";
import { storeThatKeepsUp } from "../../deploy/services.ts";
import { formatReport } from "./checker.ts";
import { FULL, runScenario, SCENARIOS, SHORT, type ScenarioName } from "./harness.ts";

const COMMAND = {
  usage: "npm run chaos --",
  summary:
    "Run chaos scenarios on a real 3-node cluster with client-kit clients, and print the checker's table for each. Exits 1 if any scenario loses, duplicates or reorders a message, or a client is not back. Environment: CHAOS_LOG_LEVEL (the nodes' log level, default warn; info keeps each hand-off's phases in the node logs), CHAOS_NODE_<NAME>=value (a node setting for the run, e.g. CHAOS_NODE_HANDOFF_CONCURRENCY=2).",
  options: {
    scenario: {
      kind: "string",
      default: "all",
      help: `comma-separated scenarios (${Object.entries(SCENARIOS)
        .map(([name, what]) => `${name}: ${what}`)
        .join("; ")}), or all`,
    },
    short: { kind: "boolean", help: "the short scale that npm test runs" },
    clients: { kind: "integer", min: 1, help: "clients (default: the scale's)" },
    conversations: { kind: "integer", min: 1, help: "conversations (default: the scale's)" },
    rate: { kind: "number", min: 1, help: "messages per second (default: the scale's)" },
  },
} as const satisfies Command<Record<string, Option>>;
const values = commandLine(COMMAND);

const names = (values.scenario === "all" ? Object.keys(SCENARIOS) : values.scenario!.split(",")) as ScenarioName[];
for (const name of names) if (!(name in SCENARIOS)) failUsage(COMMAND, `--scenario: unknown scenario "${name}"; one of ${Object.keys(SCENARIOS).join(", ")} or all`);
const base = values.short ? SHORT : FULL;
const options = {
  ...base,
  clients: Number(values.clients ?? base.clients),
  conversations: Number(values.conversations ?? base.conversations),
  rate: Number(values.rate ?? base.rate),
  say: (line: string) => console.log(`  [chaos] ${line}`),
};

// The full scale needs a store that keeps up (deploy/services.ts storeThatKeepsUp); the short one
// runs on whatever npm test gives it.
const store = values.short ? undefined : await storeThatKeepsUp(options.say);
if (store?.url) {
  process.env.MONGO_URL = store.url;
  options.say(`store: ${store.label}`);
}

let failed = false;
for (const name of names) {
  console.log(`\nscenario ${name}: ${SCENARIOS[name]} (${options.clients} clients, ${options.conversations} conversations, ${options.rate} msg/s, 3 nodes)`);
  const result = await runScenario(name, options);
  console.log(formatReport(`scenario ${name}: ${SCENARIOS[name]}`, result.report));
  console.log(`clients back and caught up: ${result.clientsBack}/${result.clients}; logs: ${result.logDir}`);
  if (!result.report.ok || result.clientsBack !== result.clients) failed = true;
}
await store?.stop();
process.exit(failed ? 1 : 0);
