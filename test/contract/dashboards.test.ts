/**
 * The Grafana dashboards (deploy/grafana/dashboards) and the alert rules (deploy/prometheus) query
 * only what a node exports: every metric a panel, a template variable or an alert expression names
 * is on a real node's /metrics page, with the labels the query selects or groups by.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@colyseus/sdk";
import { parse, stringify } from "yaml";
import { startNode, unique, type NodeProcess } from "../support/node-process.ts";
import { waitFor } from "../../deploy/wait-for.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const DASHBOARDS = join(ROOT, "deploy", "grafana", "dashboards");
const ALERTS = join(ROOT, "deploy", "prometheus", "alerts.yml");
/** Grafana's reference to the dashboard's data source variable. */
const DATASOURCE_VARIABLE = "$" + "{datasource}";
/** Labels Prometheus adds at scrape time: not on the node's page, on every stored series. */
const TARGET_LABELS = new Set(["job", "instance"]);
/** Series Prometheus makes itself. */
const PROMETHEUS_SERIES = new Set(["up"]);

type Panel = { id: number; type: string; title: string; datasource?: { uid?: string }; gridPos: { x: number; y: number; w: number; h: number }; targets?: Array<{ expr?: string }>; panels?: Panel[] };
type Variable = { name: string; type: string; query?: string | { query?: string }; definition?: string };
type Dashboard = { uid: string; title: string; panels: Panel[]; templating: { list: Variable[] } };
/** A query and where it comes from, for failure messages. */
type Query = { where: string; expr: string };
/** One metric family of the exposition: its type and the label names its samples carry. */
type Family = { type: string; labels: Set<string>; samples: number };

function dashboards(): Array<{ file: string; dashboard: Dashboard }> {
  return readdirSync(DASHBOARDS)
    .filter((file) => file.endsWith(".json"))
    .sort()
    .map((file) => ({ file, dashboard: JSON.parse(readFileSync(join(DASHBOARDS, file), "utf8")) as Dashboard }));
}

function panelsOf(dashboard: Dashboard): Panel[] {
  return dashboard.panels.flatMap((panel) => [panel, ...(panel.panels ?? [])]);
}

function dashboardQueries(): Query[] {
  return dashboards().flatMap(({ file, dashboard }) => [
    ...panelsOf(dashboard).flatMap((panel) => (panel.targets ?? []).map((target) => ({ where: `${file}: panel "${panel.title}"`, expr: target.expr ?? "" }))),
    ...dashboard.templating.list
      .filter((variable) => variable.type === "query")
      .map((variable) => ({ where: `${file}: variable $${variable.name}`, expr: typeof variable.query === "string" ? variable.query : (variable.query?.query ?? variable.definition ?? "") })),
  ]);
}

function alertQueries(): Query[] {
  const rules = parse(readFileSync(ALERTS, "utf8")) as { groups: Array<{ rules: Array<{ alert?: string; record?: string; expr: string }> }> };
  return rules.groups.flatMap((group) => group.rules.map((rule) => ({ where: `alerts.yml: ${rule.alert ?? rule.record}`, expr: rule.expr })));
}

/** Parse the text exposition into families; histogram and summary samples count for their base. */
function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  for (const line of text.split("\n")) {
    const type = /^# TYPE (\S+) (\S+)/.exec(line);
    if (type) families.set(type[1]!, { type: type[2]!, labels: new Set(), samples: 0 });
  }
  for (const line of text.split("\n")) {
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s/.exec(line);
    if (!sample) continue;
    const family = families.get(sample[1]!) ?? families.get(sample[1]!.replace(/_(bucket|sum|count)$/, ""));
    if (!family) continue;
    family.samples++;
    for (const label of (sample[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)) family.labels.add(label[1]!);
  }
  return families;
}

/** The expression without its string literals (label values, regexes), so only names remain. */
function withoutStrings(expr: string): string {
  return expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""');
}

/** Metric names a PromQL expression reads: Parley's and prom-client's families, and `up`. */
function metricNames(expr: string): string[] {
  const names = withoutStrings(expr).match(/\b(?:parley|process|nodejs)_[a-z0-9_]+\b|\bup\b/g) ?? [];
  return [...new Set(names)];
}

/** Label names an expression selects on or groups by. */
function labelNames(expr: string): string[] {
  const bare = withoutStrings(expr);
  const labels: string[] = [];
  for (const braces of bare.matchAll(/\{([^}]*)\}/g)) {
    for (const matcher of braces[1]!.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)) labels.push(matcher[1]!);
  }
  for (const clause of bare.matchAll(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g)) {
    labels.push(
      ...clause[1]!
        .split(",")
        .map((label) => label.trim())
        .filter((label) => label !== ""),
    );
  }
  return [...new Set(labels)];
}

/** The family a queried name reads, or why it reads nothing on this node. */
function resolve(name: string, families: Map<string, Family>): { family?: Family; problem?: string } {
  const exact = families.get(name);
  if (exact) {
    return exact.type === "histogram" || exact.type === "summary" ? { problem: `${name} is a ${exact.type}: query ${name}_bucket, _sum or _count` } : { family: exact };
  }
  const suffix = /^(.*)_(bucket|sum|count)$/.exec(name);
  const base = suffix ? families.get(suffix[1]!) : undefined;
  if (base && (base.type === "histogram" || (base.type === "summary" && suffix![2] !== "bucket"))) return { family: base };
  return { problem: `${name} is not exported by the node` };
}

/** Every problem with one query against the exposition: a missing metric, or a label no sample carries. */
function problemsOf(query: Query, families: Map<string, Family>): string[] {
  const problems: string[] = [];
  const read: Family[] = [];
  let labelsKnown = true;
  for (const name of metricNames(query.expr)) {
    if (PROMETHEUS_SERIES.has(name)) continue;
    const { family, problem } = resolve(name, families);
    if (problem) problems.push(`${query.where}: ${problem}`);
    if (!family) continue;
    read.push(family);
    // A labelled family with no sample yet shows no label names: its labels cannot be checked.
    if (family.samples === 0) labelsKnown = false;
  }
  if (labelsKnown && read.length > 0) {
    const histogram = read.some((family) => family.type === "histogram");
    for (const label of labelNames(query.expr)) {
      if (TARGET_LABELS.has(label) || (label === "le" && histogram)) continue;
      if (!read.some((family) => family.labels.has(label))) problems.push(`${query.where}: no series it reads carries the label "${label}"`);
    }
  }
  return problems;
}

/** promtool on PATH, or undefined (then the test that needs it skips, saying why). */
const promtool = spawnSync("promtool", ["--version"], { encoding: "utf8" }).status === 0 ? "promtool" : undefined;

describe("dashboards (deploy/grafana)", function () {
  it("each dashboard has a unique uid, unique panel ids, a fitting grid and Prometheus queries through $datasource", () => {
    const uids = new Set<string>();
    for (const { file, dashboard } of dashboards()) {
      assert.ok(dashboard.uid && !uids.has(dashboard.uid), `${file}: uid missing or reused`);
      uids.add(dashboard.uid);
      assert.ok(
        dashboard.templating.list.some((variable) => variable.name === "datasource" && variable.type === "datasource"),
        `${file}: no $datasource variable`,
      );
      const ids = new Set<number>();
      for (const panel of panelsOf(dashboard)) {
        assert.ok(!ids.has(panel.id), `${file}: panel id ${panel.id} reused`);
        ids.add(panel.id);
        assert.ok(panel.gridPos.x >= 0 && panel.gridPos.x + panel.gridPos.w <= 24, `${file}: panel "${panel.title}" is outside the 24-column grid`);
        if (panel.type === "row") continue;
        assert.equal(panel.datasource?.uid, DATASOURCE_VARIABLE, `${file}: panel "${panel.title}" does not use $datasource`);
        assert.ok((panel.targets ?? []).length > 0, `${file}: panel "${panel.title}" has no query`);
        for (const target of panel.targets ?? []) assert.ok(target.expr?.trim(), `${file}: panel "${panel.title}" has an empty query`);
      }
    }
    assert.deepEqual(
      dashboards().map(({ file }) => file),
      ["cluster-overview.json", "node.json", "store-and-redis.json"],
    );
  });

  it("the node dashboard picks one node with $instance, and every panel query selects it", () => {
    const node = dashboards().find(({ file }) => file === "node.json")!.dashboard;
    assert.ok(
      node.templating.list.some((variable) => variable.name === "instance" && variable.type === "query"),
      "node.json has an $instance query variable",
    );
    for (const panel of panelsOf(node)) {
      for (const target of panel.targets ?? []) assert.match(target.expr ?? "", /instance=~?"\$instance"/, `node.json: panel "${panel.title}" does not select $instance`);
    }
  });

  it("every panel query is PromQL that promtool parses", function () {
    if (!promtool) {
      console.log("      skipped: promtool is not on PATH (apt-get install prometheus)");
      return this.skip();
    }
    // Each query as a recording rule, Grafana's variables given example values: `promtool check rules` parses them all.
    const queries = dashboardQueries().filter((query) => !query.where.includes(": variable "));
    const rules = queries.map((query, index) => ({
      record: `dashboard:query:${index}`,
      expr: query.expr.replaceAll("$__rate_interval", "1m").replaceAll("$__interval", "1m").replaceAll("$instance", "a:2567"),
    }));
    const dir = mkdtempSync(join(tmpdir(), "parley-dashboards-"));
    try {
      writeFileSync(join(dir, "queries.yml"), stringify({ groups: [{ name: "dashboards", rules }] }));
      const result = spawnSync(promtool, ["check", "rules", join(dir, "queries.yml")], { encoding: "utf8", timeout: 60_000 });
      const output = `${result.stdout}${result.stderr}`;
      const named = output.replace(/dashboard:query:(\d+)/g, (_match, index: string) => queries[Number(index)]!.where);
      assert.equal(result.status, 0, named);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe("against a running node's /metrics", function () {
    let node: NodeProcess | undefined;
    let families: Map<string, Family>;

    before(async function () {
      this.timeout(60_000);
      node = await startNode({});
      const url = node.httpUrl;
      // A little work, so that labelled families have samples and their label names show.
      const room = await new Client(url).joinOrCreate("chat", { conversationId: `channel:${unique()}`, userId: "u" });
      room.onMessage("*", () => {});
      await room.request("send", { clientMsgId: "m1", text: "hi" });
      await fetch(`${url}/readyz`);
      const text = await waitFor(
        async () => {
          const page = await (await fetch(`${url}/metrics`)).text();
          return /parley_chat_request_duration_seconds_count\{[^}]*request="send"/.test(page) && /parley_node_clients\{[^}]*room="chat"[^}]*\} 1/.test(page) ? page : undefined;
        },
        { what: "the send and the seated client on /metrics" },
      );
      await room.leave();
      families = parseExposition(text);
    });

    after(async () => {
      await node?.stop();
    });

    it("every metric and label a dashboard queries is exported by the node", () => {
      const problems = dashboardQueries().flatMap((query) => problemsOf(query, families));
      assert.deepEqual(problems, [], `dashboard queries read what the node does not export:\n${problems.join("\n")}`);
    });

    it("every metric and label an alert rule queries is exported by the node", () => {
      const problems = alertQueries().flatMap((query) => problemsOf(query, families));
      assert.deepEqual(problems, [], `alert rules read what the node does not export:\n${problems.join("\n")}`);
    });
  });
});
