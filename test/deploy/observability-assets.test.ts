/**
 * The Grafana dashboards and Prometheus rules in deploy/ against the server they watch: the rules
 * pass promtool, every dashboard is importable JSON with unique panel ids, and every metric any
 * expression names is one a real Ballast server exports.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { startTestServer } from "../helpers/app.js";

const promtool = spawnSync("promtool", ["--version"]).status === 0;
const noPromtool = "promtool is not installed (apt-get install prometheus); .ci/run installs it";
const RULES = "deploy/prometheus/ballast-rules.yml";
const DASHBOARDS = "deploy/grafana";

interface Panel {
  id: number;
  type: string;
  title: string;
  targets?: { expr: string; datasource?: { uid?: string } }[];
  panels?: Panel[];
}
interface Dashboard {
  uid: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: { name: string; type: string }[] };
}

const dashboards = readdirSync(DASHBOARDS)
  .filter((f) => f.endsWith(".json"))
  .map((f) => ({ file: f, dashboard: JSON.parse(readFileSync(join(DASHBOARDS, f), "utf8")) as Dashboard }));

const allPanels = (panels: readonly Panel[]): Panel[] =>
  panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);

/** The metric families a PromQL expression names: a histogram's _bucket/_sum/_count are its own. */
export function metricFamilies(expr: string): string[] {
  const names = expr.match(/\bballast_[a-z0-9_]+/g) ?? [];
  return names.map((n) => n.replace(/_(bucket|sum|count)$/, ""));
}

function ruleExprs(): string[] {
  // The rules file's `expr:` values, single-line or block scalars (`expr: |` then indented lines).
  const lines = readFileSync(RULES, "utf8").split("\n");
  const exprs: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = /^(\s*)expr:\s*(.*)$/.exec(lines[i] as string);
    if (m === null) continue;
    if (m[2] !== "|") {
      exprs.push(m[2] as string);
      continue;
    }
    const block: string[] = [];
    while (
      i + 1 < lines.length &&
      /^\s+\S/.test(lines[i + 1] as string) &&
      !/^\s*\w+:/.test(lines[i + 1] as string)
    )
      block.push((lines[++i] as string).trim());
    exprs.push(block.join(" "));
  }
  return exprs;
}

test("the dashboards are the five, importable, with unique panel ids and a ${datasource} variable", () => {
  assert.deepEqual(dashboards.map((d) => d.file).sort(), [
    "drift.json",
    "pipelines.json",
    "regimes.json",
    "rollouts.json",
    "serving.json",
  ]);
  const uids = new Set<string>();
  for (const { file, dashboard } of dashboards) {
    assert.ok(!uids.has(dashboard.uid), `${file}: uid ${dashboard.uid} is used twice`);
    uids.add(dashboard.uid);
    assert.ok(dashboard.schemaVersion >= 36, `${file}: schemaVersion ${dashboard.schemaVersion}`);
    assert.ok(
      dashboard.templating.list.some((v) => v.name === "datasource" && v.type === "datasource"),
      `${file}: no datasource variable`,
    );
    const panels = allPanels(dashboard.panels);
    const ids = panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, `${file}: duplicate panel ids ${ids.join(",")}`);
    for (const p of panels.filter((p) => p.type !== "row")) {
      assert.ok((p.targets ?? []).length > 0, `${file}: panel "${p.title}" has no query`);
      for (const t of p.targets ?? []) {
        assert.equal(t.datasource?.uid, "${datasource}", `${file}: panel "${p.title}" ignores $datasource`);
        assert.ok(metricFamilies(t.expr).length > 0, `${file}: panel "${p.title}" names no Ballast metric`);
      }
    }
  }
});

test("promtool accepts the rules and their unit tests pass", { skip: promtool ? false : noPromtool }, () => {
  const check = spawnSync("promtool", ["check", "rules", RULES], { encoding: "utf8" });
  assert.equal(check.status, 0, `promtool check rules:\n${check.stdout}${check.stderr}`);
  const unit = spawnSync("promtool", ["test", "rules", "deploy/prometheus/ballast-rules.test.yml"], {
    encoding: "utf8",
  });
  assert.equal(unit.status, 0, `promtool test rules:\n${unit.stdout}${unit.stderr}`);
});

test("metricFamilies maps histogram series to their family", () => {
  assert.deepEqual(
    metricFamilies(
      'histogram_quantile(0.99, sum by (le) (rate(ballast_inference_duration_seconds_bucket{a="b"}[5m])))',
    ),
    ["ballast_inference_duration_seconds"],
  );
  assert.deepEqual(metricFamilies("ballast_pipeline_runs_total / ballast_x_count"), [
    "ballast_pipeline_runs_total",
    "ballast_x",
  ]);
});

test("every metric the dashboards and rules name is one a running Ballast server exports", async () => {
  const named = new Set<string>();
  for (const { dashboard } of dashboards)
    for (const p of allPanels(dashboard.panels))
      for (const t of p.targets ?? []) metricFamilies(t.expr).forEach((n) => named.add(n));
  const exprs = ruleExprs();
  assert.equal(exprs.length, 8, "every rule's expr was read");
  for (const e of exprs) metricFamilies(e).forEach((n) => named.add(n));

  const s = await startTestServer();
  try {
    const ok = { inputs: [{ name: "input", datatype: "FP32", shape: [1, 3], data: [1, 2, 0] }] };
    await s.app.inject({ method: "POST", url: "/v2/models/fraud/infer", payload: ok });
    await s.app.inject({ method: "POST", url: "/v2/models/fraud/infer", payload: { inputs: [{}] } });
    const text = (await s.app.inject("/metrics")).body;
    // A family exists when the server declares it (`# TYPE`); labelled families show samples
    // only once something happened, which the inference requests above give for serving.
    const declared = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1] as string));
    const missing = [...named].filter((n) => !declared.has(n)).sort();
    assert.deepEqual(missing, [], `named in deploy/ but not exported: ${missing.join(", ")}`);
    assert.match(text, /^ballast_inference_requests_total\{[^}]*status="400"\} 1$/m);
    assert.match(text, /^ballast_inference_duration_seconds_bucket\{/m);
  } finally {
    await s.close();
  }
});
