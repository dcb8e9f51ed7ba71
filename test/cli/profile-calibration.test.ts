/**
 * `ballast profile --label --score-column` adds a CBPE calibration to the profile. Checked
 * against the sklearn/numpy CBPE fixture (test/fixtures/performance): the calibration written by
 * the command, applied to the fixture's window, gives sklearn's expected metrics.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ballast } from "../helpers/cli.js";
import { reference, close } from "../monitoring/performance/reference.js";
import { validateProfile } from "../../src/monitoring/profile/reference-profile.js";
import { CbpeAccumulator } from "../../src/monitoring/performance/cbpe.js";

test("profile --label --score-column writes a calibration that reproduces sklearn's expected metrics", async () => {
  const dir = await mkdtemp(join(tmpdir(), "ballast-calibration-"));
  try {
    const c = reference.cbpe;
    const csv = join(dir, "reference.csv");
    const lines = c.referenceScores.map((s, i) => `${(i % 7) * 1.5},${s},${c.referenceLabels[i]}`);
    // One row without its label: left out of the calibration, still profiled.
    await writeFile(csv, ["amount,score,is_fraud", ...lines, "2.5,0.5,"].join("\n") + "\n");
    const out = join(dir, "profile.json");
    const r = ballast(["profile", csv, "-o", out, "--label", "is_fraud", "--score-column", "score"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /calibration: score against is_fraud on 3000 rows \(1 without both\)/);

    const profile = validateProfile(JSON.parse(await readFile(out, "utf8")) as unknown);
    // Neither the label nor the score is a feature.
    assert.deepEqual(
      profile.features.map((f) => f.name),
      ["amount"],
    );
    const calibration = profile.calibration;
    assert.ok(calibration !== undefined);
    assert.equal(calibration.label, "is_fraud");
    const positives = c.referenceLabels.filter((y) => y === 1).length;
    assert.equal(calibration.prevalence, positives / c.referenceLabels.length);
    const window = new CbpeAccumulator(calibration.isotonic);
    for (const s of c.windowScores) window.add(s);
    for (const row of c.byThreshold) {
      const e = window.estimate(row.threshold);
      for (const key of ["accuracy", "precision", "recall", "f1"] as const)
        close(e[key], row[key], 1e-9, `${key} at ${row.threshold}`);
    }
    close(window.estimate().rocAuc, c.rocAuc, 1e-9, "rocAuc");

    const half = ballast(["profile", csv, "-o", out, "--label", "is_fraud"]);
    assert.notEqual(half.status, 0);
    assert.match(half.stderr, /--label and --score-column go together/);
    const bad = join(dir, "bad.csv");
    await writeFile(bad, "amount,score,is_fraud\n1,0.2,maybe\n");
    const badLabel = ballast(["profile", bad, "-o", out, "--label", "is_fraud", "--score-column", "score"]);
    assert.notEqual(badLabel.status, 0);
    assert.match(badLabel.stderr, /line 2: is_fraud must be 0\/1 or true\/false/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
