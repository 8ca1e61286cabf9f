/**
 * The alert rules as Prometheus loads them (deploy/prometheus): promtool accepts the rules, their
 * unit tests and the example scrape config, and every alert tells the on-call what happened and
 * which runbook to open.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const RULES = "deploy/prometheus/alerts.yml";
const RULE_TESTS = "deploy/prometheus/alerts.test.yml";
const CONFIG = "deploy/prometheus/prometheus.yml";
/** A runbook is a Markdown file directly under docs/runbooks/, named by a repository path or a URL ending in one. */
const RUNBOOK = /(?:^|\/)(docs\/runbooks\/[a-z0-9-]+\.md)(?:#[\w-]+)?$/;

type Rule = { alert?: string; record?: string; expr: string; for?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
type RuleFile = { groups: Array<{ name: string; rules: Rule[] }> };
type RuleTests = { rule_files: string[]; tests: Array<{ name: string; alert_rule_test?: Array<{ alertname: string; exp_alerts?: unknown[] }> }> };
type PrometheusConfig = { rule_files?: string[]; scrape_configs?: Array<{ job_name: string; static_configs?: Array<{ targets: string[] }> }> };

function readYaml<T>(path: string): T {
  return parse(readFileSync(join(ROOT, path), "utf8")) as T;
}

function alerts(): Rule[] {
  return readYaml<RuleFile>(RULES).groups.flatMap((group) => group.rules.filter((rule) => rule.alert !== undefined));
}

/** promtool on PATH, or undefined (then the tests that need it skip, saying why). */
const promtool = spawnSync("promtool", ["--version"], { encoding: "utf8" }).status === 0 ? "promtool" : undefined;

function runPromtool(...args: string[]): { status: number | null; output: string } {
  const result = spawnSync(promtool!, args, { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
  return { status: result.status, output: `${result.stdout}${result.stderr}${result.error ? String(result.error) : ""}` };
}

describe("alert rules (deploy/prometheus)", function () {
  describe("with promtool", function () {
    before(function () {
      if (!promtool) {
        console.log("      skipped: promtool is not on PATH (apt-get install prometheus)");
        this.skip();
      }
    });

    it("promtool accepts the alert rules", () => {
      const { status, output } = runPromtool("check", "rules", RULES);
      assert.equal(status, 0, output);
    });

    it("the alert rules pass their unit tests: each alert fires where it should and stays quiet elsewhere", () => {
      const { status, output } = runPromtool("test", "rules", RULE_TESTS);
      assert.equal(status, 0, output);
    });

    it("promtool accepts the example scrape config, rule files included", () => {
      const { status, output } = runPromtool("check", "config", CONFIG);
      assert.equal(status, 0, output);
    });
  });

  it("the example scrape config scrapes job parley and loads alerts.yml", () => {
    const config = readYaml<PrometheusConfig>(CONFIG);
    assert.deepEqual(config.rule_files, ["alerts.yml"]);
    const parley = config.scrape_configs?.find((job) => job.job_name === "parley");
    assert.ok(parley, 'a scrape job named parley (every rule selects job="parley")');
    assert.ok(
      (parley.static_configs ?? []).some((targets) => targets.targets.length > 0),
      "at least one placeholder target",
    );
  });

  it("every rule is an alert with a severity of critical or warning", () => {
    const rules = readYaml<RuleFile>(RULES).groups.flatMap((group) => group.rules);
    assert.ok(rules.length > 0, "alerts.yml has rules");
    for (const rule of rules) {
      assert.ok(rule.alert, `a rule without an alert name: ${rule.expr}`);
      assert.ok(["critical", "warning"].includes(rule.labels?.severity ?? ""), `${rule.alert}: severity must be critical or warning, got ${rule.labels?.severity}`);
    }
  });

  it("every alert has a summary, a description and a runbook_url naming a file under docs/runbooks/", () => {
    const named = new Map<string, string[]>();
    for (const rule of alerts()) {
      const annotations = rule.annotations ?? {};
      for (const key of ["summary", "description", "runbook_url"]) {
        assert.ok(typeof annotations[key] === "string" && annotations[key].trim() !== "", `${rule.alert} has no ${key} annotation`);
      }
      const runbook = RUNBOOK.exec(annotations.runbook_url!)?.[1];
      assert.ok(runbook, `${rule.alert}: runbook_url ${annotations.runbook_url} names no file under docs/runbooks/`);
      named.set(runbook, [...(named.get(runbook) ?? []), rule.alert!]);
    }
    // The runbooks are written separately: list them, and which exist yet, without requiring them.
    for (const [runbook, names] of [...named].sort()) {
      console.log(`      ${runbook}${existsSync(join(ROOT, runbook)) ? "" : " (not written yet)"}: ${names.join(", ")}`);
    }
  });

  it("every alert has a case in alerts.test.yml where it fires and one where it stays quiet", () => {
    const suite = readYaml<RuleTests>(RULE_TESTS);
    assert.deepEqual(suite.rule_files, ["alerts.yml"]);
    const cases = suite.tests.flatMap((test) => test.alert_rule_test ?? []);
    for (const rule of alerts()) {
      const mine = cases.filter((entry) => entry.alertname === rule.alert);
      assert.ok(
        mine.some((entry) => (entry.exp_alerts ?? []).length > 0),
        `${rule.alert}: no case where it fires`,
      );
      assert.ok(
        mine.some((entry) => (entry.exp_alerts ?? []).length === 0),
        `${rule.alert}: no case where it stays quiet`,
      );
    }
  });
});
