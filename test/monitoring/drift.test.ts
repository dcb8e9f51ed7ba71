import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { generateFraudWeek, FRAUD_COLUMNS } from "../../src/sim/fraud.js";
import { createRandom } from "../../src/sim/random.js";
import { driftBetweenFiles, profileFile } from "../../src/monitoring/file-drift.js";
import { evaluateDrift } from "../../src/monitoring/drift.js";
import { ProfileBuilder } from "../../src/monitoring/profile/profile-builder.js";
import { WindowSketch } from "../../src/monitoring/sketches/feature-window.js";
import { ksTwoSample } from "../../src/math/stats/ks.js";
import { normedWasserstein } from "../../src/math/stats/wasserstein.js";
import { scratchDir } from "../helpers/scratch.js";

const scratch = scratchDir("ballast-drift-");

function csv(rows: readonly object[], columns: readonly string[]): string {
  const cell = (r: object, c: string) => String((r as Record<string, unknown>)[c] ?? "");
  return [columns.join(","), ...rows.map((r) => columns.map((c) => cell(r, c)).join(","))].join("\n") + "\n";
}

const week = (n: number) =>
  scratch.file(`week-${n}.csv`, csv(generateFraudWeek({ seed: 7, week: n, rows: 5000 }), FRAUD_COLUMNS));

describe("drift between files", () => {
  test("a stable week shows no drift; the week amounts inflate shows amount drifted, and only the features that moved", async () => {
    const [w1, w2, w3, w4] = await Promise.all([week(1), week(2), week(3), week(4)]);
    const options = { exclude: ["is_fraud"] };
    const stable = await driftBetweenFiles(w1, w2, options);
    assert.deepEqual(
      stable.overall.features.filter((f) => f.drifted).map((f) => f.feature),
      [],
      JSON.stringify(stable.overall.features.map((f) => [f.feature, f.test, f.score])),
    );
    assert.equal(stable.overall.dataset?.drifted, false);

    const inflated = await driftBetweenFiles(w1, w3, options);
    const moved = inflated.overall.features.filter((f) => f.drifted).map((f) => f.feature);
    assert.deepEqual(
      moved,
      ["amount"],
      JSON.stringify(inflated.overall.features.map((f) => [f.feature, f.score])),
    );

    const mix = await driftBetweenFiles(w1, w4, options);
    const mixMoved = mix.overall.features.filter((f) => f.drifted).map((f) => f.feature);
    for (const f of ["hour", "night", "merchant_category", "online"])
      assert.ok(mixMoved.includes(f), `${f} in ${mixMoved}`);
    const amount = inflated.overall.features.find((f) => f.feature === "amount");
    assert.equal(
      amount?.test,
      "wasserstein",
      "n > 1000 numerical uses normed Wasserstein by the default rule",
    );
    // Files fit in memory: the test runs on the raw values, not on the sketches.
    assert.equal(amount?.method, "samples");
    assert.equal(amount?.exact, true);
    const category = mix.overall.features.find((f) => f.feature === "merchant_category");
    assert.equal(category?.test, "jensen-shannon");
    assert.equal(category?.bins.labels.length, category?.bins.reference.length);
  });

  test("segments: drift per value of a column, the column itself left out of the features", async () => {
    const [w1, w3] = await Promise.all([week(1), week(3)]);
    const result = await driftBetweenFiles(w1, w3, { exclude: ["is_fraud"], segment: "online" });
    assert.deepEqual(
      result.segment?.results.map((r) => r.value),
      ["0", "1"],
    );
    for (const r of result.segment?.results ?? []) {
      assert.ok(!r.result.features.some((f) => f.feature === "online"));
      assert.ok(
        r.result.features.find((f) => f.feature === "amount")?.drifted,
        `amount drifts in segment ${r.value}`,
      );
    }
  });

  test("the reference's bin counts are exact (second pass), summing to its non-missing rows", async () => {
    const profile = await profileFile(await week(1), { exclude: ["is_fraud"] });
    for (const f of profile.features) {
      if (f.kind !== "numerical") continue;
      assert.equal(f.binsExact, true, f.name);
      assert.equal(
        f.binCounts.reduce((a, b) => a + b, 0),
        f.count,
        f.name,
      );
    }
  });

  test("bad files: empty, no header names, a feature missing from the current file", async () => {
    const ref = await week(1);
    const empty = await scratch.file("empty.csv", "amount,hour\n");
    await assert.rejects(driftBetweenFiles(ref, empty), /has no rows/);
    await assert.rejects(profileFile(empty), /has no rows/);
    const arrays = await scratch.file("arrays.jsonl", "[1,2]\n[3,4]\n");
    await assert.rejects(profileFile(arrays), /line 1: profiles need named columns/);
    const partial = await scratch.file("partial.csv", "hour,night\n3,1\n14,0\n");
    const result = await driftBetweenFiles(ref, partial, { exclude: ["is_fraud"] });
    const amount = result.overall.features.find((f) => f.feature === "amount");
    assert.equal(amount?.skipped, "no values in the window");
    assert.equal(amount?.drifted, false);
    assert.equal(amount?.currentMissing, 2);
  });
});

describe("sketch-based tests against the exact ones", () => {
  test("KS statistic within the documented bound of the exact D, p-value the exact function of it; Wasserstein within its bound", () => {
    const random = createRandom(11);
    for (const [nRef, nCur, shift] of [
      [800, 900, 0],
      [3000, 2500, 0.15],
      [20000, 20000, 0.05],
    ] as const) {
      const ref = Array.from({ length: nRef }, () => random.normal(0, 1));
      const cur = Array.from({ length: nCur }, () => random.normal(shift, 1));
      const builder = new ProfileBuilder();
      builder.add(ref.map((x) => ({ x })));
      const profile = builder.finish();
      const window = new WindowSketch(profile);
      for (const x of cur) window.updateRow({ x });
      const ks = evaluateDrift(profile, window, { tests: { x: "ks" } }).features[0]!;
      const exact = ksTwoSample(ref, cur);
      const d = Number(ks.detail?.statistic);
      assert.ok(
        Math.abs(d - exact.statistic) <= (ks.errorBound ?? 0) + 1e-12,
        `${nRef}: D ${d} vs ${exact.statistic}`,
      );
      const ws = evaluateDrift(profile, window, { tests: { x: "wasserstein" } }).features[0]!;
      const exactW = normedWasserstein(ref, cur).normed;
      assert.ok(
        Math.abs(ws.score - exactW) <= (ws.errorBound ?? 0) + 1e-3,
        `${nRef}: W ${ws.score} vs ${exactW}`,
      );
    }
  });

  test("a test that does not fit the feature kind is refused, naming the ones that do", () => {
    const builder = new ProfileBuilder();
    builder.add([{ c: "a" }, { c: "b" }]);
    const profile = builder.finish();
    const window = new WindowSketch(profile);
    window.updateRow({ c: "a" });
    assert.throws(
      () => evaluateDrift(profile, window, { tests: { c: "ks" } }),
      /ks does not apply to a categorical feature; use one of .*chi-square/,
    );
    assert.throws(() => evaluateDrift(profile, window, { tests: { zz: "psi" } }), /'zz' is not a feature/);
  });
});
