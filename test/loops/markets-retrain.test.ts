/**
 * The GARCH specialist's retraining loop, end to end through the embedded runner, as
 * examples/markets/retrain-garch.yaml declares it: sp500dge's returns from a files source, split
 * by order (the last fifth held out), GARCH refitted on the rest, walked forward over the
 * holdout against the champion `sp500-vol` serves, registered with lineage and deployed. Then
 * two candidates that must not win: a refit on too short a window (worse in QLIKE: stopped at
 * validation with the gates named) and one on too few points (the fit refuses; nothing runs on).
 * The expected QLIKE is computed here from garch.ts and specialists.ts directly.
 */
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { qlike } from "../../src/markets/evaluation.js";
import { fitGarch } from "../../src/markets/garch.js";
import { forecastFromWindow } from "../../src/markets/specialists.js";
import type { PipelineRun } from "../../src/pipelines/run-store.js";
import { serializeBuiltinModel } from "../../src/runtimes/builtin/format.js";
import { fitVolatilityModel } from "../../src/runtimes/builtin/volatility-fit.js";
import type { TestServer } from "../helpers/app.js";
import { series } from "../markets/data.js";
import { applyFile, driveRun, loopServer, register, runsOf, servedVersions } from "./harness.js";

const DATA = resolve("examples/markets/data/sp500dge.csv");
const sp = series("sp500dge.csv", "ret", 100);
const CUT = Math.floor(sp.length * 0.8);

async function run(s: TestServer, params: Record<string, string>): Promise<PipelineRun> {
  const before = (await runsOf(s, "garch-retrain")).length;
  const started = await s.ballast.pipelineTriggers.manual("garch-retrain", {
    by: "test",
    params: { data: DATA, ...params },
  });
  assert.equal(started.action, "started", JSON.stringify(started));
  const runs = await runsOf(s, "garch-retrain");
  assert.equal(runs.length, before + 1);
  return driveRun(s, runs[0]!.id);
}

function meanQlike(forecast: (t: number) => number): number {
  let sum = 0;
  let n = 0;
  for (let t = CUT; t < sp.length; t++) {
    const y = (sp[t] as number) ** 2;
    if (y === 0) continue;
    sum += qlike(y, forecast(t));
    n++;
  }
  return sum / n;
}

describe("the GARCH retraining loop on sp500dge", () => {
  let s: TestServer;
  before(async () => {
    s = await loopServer();
    // v1: the last value over a month, the baseline a GARCH refit must beat.
    const baseline = join(s.dataDir, "last.json");
    const fitted = fitVolatilityModel(sp.slice(0, CUT), { kind: "last-value", window: 22 });
    await writeFile(baseline, serializeBuiltinModel(fitted.model));
    assert.equal(await register(s, "sp500-vol", baseline), 1);
    await applyFile(s, "examples/markets/retrain-garch.yaml");
    await s.ballast.endpoints.sync();
  });
  after(async () => s.close());

  test("a GARCH refit beats the last-value champion on the holdout: registered with lineage, deployed", async () => {
    const done = await run(s, {});
    assert.equal(done.state, "Succeeded", done.reason ?? "");
    const registered = done.registered as { model: string; version: number };
    assert.deepEqual([registered.model, registered.version], ["sp500-vol", 2]);
    const v2 = await s.ballast.registry.getVersion("sp500-vol", 2);
    assert.equal(v2.lineage.runId, done.id);
    assert.equal(v2.lineage.parentVersion, 1);
    assert.match(String(v2.lineage.dataFingerprint), /^[0-9a-f]{64}$/);
    assert.equal((v2.lineage.parameters as { trainer?: string }).trainer, "garch");

    // The fit saw the training rows only, and is garch.ts's on them.
    const expected = fitGarch(sp.slice(0, CUT), { standardErrors: false }).model;
    const sha = v2.artifactSha256;
    const file = join(s.dataDir, "artifacts", "sha256", sha.slice(0, 2), sha);
    const saved = JSON.parse(await readFile(file, "utf8")) as {
      kind: string;
      window: number;
      garch: { params: Record<string, number> };
      training: { rows: number; scale: number };
    };
    assert.equal(saved.kind, "garch");
    assert.equal(saved.window, 250);
    assert.deepEqual(saved.garch.params, expected.params);
    assert.equal(saved.training.rows, CUT);
    assert.equal(saved.training.scale, 100);
    // QLIKE over the 3,411 held-out returns, computed here from the same forecasts.
    const garch = meanQlike(
      (t) => forecastFromWindow({ kind: "garch", garch: expected }, sp, 1, { from: t - 250, width: 250 })[0]!,
    );
    const last = meanQlike(
      (t) => forecastFromWindow({ kind: "last-value" }, sp, 1, { from: t - 22, width: 22 })[0]!,
    );
    const m = v2.metrics as Record<string, number>;
    assert.ok(Math.abs(m.qlike! - garch) < 1e-9, `${m.qlike} vs ${garch}`);
    assert.ok(Math.abs(m.qlike_ratio! - garch / last) < 1e-9, `${m.qlike_ratio} vs ${garch / last}`);
    assert.ok(m.qlike_ratio! < 1);
    assert.ok(m.dm_statistic! < 0 && m.dm_p_value! < 0.05, JSON.stringify(m));
    // No canary strategy on sp500-vol: the hand-off switches it to the refit.
    assert.deepEqual(await servedVersions(s, "sp500-vol"), [2]);
  });

  test("a refit on the last 150 returns only is worse than the champion: stopped at validation, gates named", async () => {
    const done = await run(s, { last: "150" });
    assert.equal(done.state, "Failed");
    const validate = done.steps.find((st) => st.step === "validate")!;
    assert.equal(validate.state, "Failed");
    assert.match(validate.error ?? "", /validation failed \(2 reasons\)/);
    assert.match(validate.error ?? "", /qlike_ratio 1\.[0-9]+ is above the threshold 1/);
    assert.match(validate.error ?? "", /dm_p_value_worse 0\.0[0-9]+ is below the threshold 0\.05/);
    assert.deepEqual(
      done.steps.filter((st) => st.step === "register" || st.step === "deploy").map((st) => st.state),
      ["Skipped", "Skipped"],
    );
    assert.equal((await s.ballast.registry.listVersions("sp500-vol")).length, 2);
    assert.deepEqual(await servedVersions(s, "sp500-vol"), [2]);
  });

  test("a refit on 60 returns: the train step fails naming the minimum, the previous version is kept", async () => {
    const done = await run(s, { last: "60" });
    assert.equal(done.state, "Failed");
    const train = done.steps.find((st) => st.step === "train")!;
    assert.equal(train.state, "Failed");
    assert.match(train.error ?? "", /GARCH\(1,1\) needs at least 100 points, got 60/);
    assert.deepEqual(
      done.steps.filter((st) => ["validate", "register", "deploy"].includes(st.step)).map((st) => st.state),
      ["Skipped", "Skipped", "Skipped"],
    );
    assert.equal((await s.ballast.registry.listVersions("sp500-vol")).length, 2);
    assert.deepEqual(await servedVersions(s, "sp500-vol"), [2]);
  });
});
