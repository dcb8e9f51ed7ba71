/**
 * The Grafana dashboards and Prometheus rules in deploy/ against the server they watch: the rules
 * pass promtool, every dashboard is importable JSON with unique panel ids, and every metric any
 * expression names has samples in /metrics of a real Ballast server that has had traffic.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { serverWithTraffic } from "../helpers/metrics-traffic.js";

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

/** Every sample line's metric name in a Prometheus text exposition (HELP/TYPE lines are not samples). */
export function sampledNames(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const line of exposition.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/.exec(line);
    if (m !== null) names.add(m[1] as string);
  }
  return names;
}

/** The families the text declares, by name, with their type. */
export function declaredTypes(exposition: string): Map<string, string> {
  return new Map(
    [...exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1] as string, m[2] as string]),
  );
}

/** The families in `named` that have no sample: a histogram needs its _bucket, _sum and _count. */
export function unsampled(named: Iterable<string>, exposition: string): string[] {
  const sampled = sampledNames(exposition);
  const types = declaredTypes(exposition);
  const lines = (family: string) =>
    types.get(family) === "histogram" ? ["_bucket", "_sum", "_count"].map((s) => family + s) : [family];
  return [...named].filter((family) => !lines(family).every((n) => sampled.has(n))).sort();
}

test("sampledNames, declaredTypes and unsampled read an exposition's samples, not its HELP/TYPE lines", () => {
  const text = [
    "# HELP ballast_a_total A.",
    "# TYPE ballast_a_total counter",
    "# HELP ballast_b B.",
    "# TYPE ballast_b gauge",
    'ballast_b{x="1"} 0',
    "# TYPE ballast_h histogram",
    'ballast_h_bucket{le="+Inf"} 1',
    "ballast_h_count 1",
    "",
  ].join("\n");
  assert.deepEqual([...sampledNames(text)].sort(), ["ballast_b", "ballast_h_bucket", "ballast_h_count"]);
  assert.equal(declaredTypes(text).get("ballast_h"), "histogram");
  // Declared but never sampled, and a histogram without its _sum, are both missing.
  assert.deepEqual(unsampled(["ballast_a_total", "ballast_b", "ballast_h"], text), [
    "ballast_a_total",
    "ballast_h",
  ]);
});

test("every metric the dashboards and rules name has samples in /metrics of a server that has had traffic", async () => {
  const named = new Set<string>();
  for (const { dashboard } of dashboards)
    for (const p of allPanels(dashboard.panels))
      for (const t of p.targets ?? []) metricFamilies(t.expr).forEach((n) => named.add(n));
  const exprs = ruleExprs();
  assert.equal(exprs.length, 8, "every rule's expr was read");
  for (const e of exprs) metricFamilies(e).forEach((n) => named.add(n));
  assert.ok(named.size >= 50, `only ${named.size} metrics named`);

  const s = await serverWithTraffic();
  try {
    const text = (await s.app.inject("/metrics")).body;
    const declared = declaredTypes(text);
    const undeclared = [...named].filter((n) => !declared.has(n)).sort();
    assert.deepEqual(undeclared, [], `named in deploy/ but not exported: ${undeclared.join(", ")}`);
    const missing = unsampled(named, text);
    assert.deepEqual(
      missing,
      [],
      `named in deploy/ but without a sample after traffic: ${missing.join(", ")}`,
    );
    // The label values the rules select on are ones the server writes.
    assert.match(text, /^ballast_pipeline_runs_total\{pipeline="broken",state="Failed"\} 1$/m);
    assert.match(text, /^ballast_rollout_phase\{deployment="shop",phase="Aborted"\} 0$/m);
    assert.match(text, /^ballast_dataset_drift_share\{[^}]*segment=""\} /m);
    assert.match(text, /^ballast_inference_requests_total\{[^}]*status="400"\} 1$/m);
    assert.match(text, /^ballast_requests_shed_total\{deployment="guarded"\} 1$/m);
  } finally {
    await s.stop();
  }
});
