/** The gradient_boosted_trees builtin kind: its file format and scorer, by hand-computed trees. */
import assert from "node:assert/strict";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { builtinRuntime, parseBuiltinModel } from "../../src/runtimes/builtin/index.js";

const STUMPS = {
  format: "ballast.builtin/v1",
  kind: "gradient_boosted_trees",
  objective: "binary",
  features: ["a", "b"],
  intercept: -1,
  trees: [
    // a <= 2 ? -0.5 : (b <= 0 ? 0.25 : 1.5)
    {
      feature: [0, -1, 1, -1, -1],
      threshold: [2, 0, 0, 0, 0],
      left: [1, 0, 3, 0, 0],
      right: [2, 0, 4, 0, 0],
      value: [0, -0.5, 0, 0.25, 1.5],
    },
    { feature: [-1], threshold: [0], left: [0], right: [0], value: [0.75] },
  ],
};

describe("builtin gradient_boosted_trees", () => {
  test("scores are the base plus each tree's leaf; probability is their sigmoid, label > 0.5", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ballast-trees-"));
    const path = join(dir, "m.json");
    await writeFile(path, JSON.stringify(STUMPS));
    const model = await builtinRuntime.load({ artifactPath: path, signature: null, timeoutMs: 1000 });
    assert.deepEqual(
      model.signature.outputs.map((o) => o.name),
      ["probability", "label"],
    );
    const rows = [
      [2, 5], // left leaf: -1 - 0.5 + 0.75 = -0.75
      [3, 0], // b <= 0: -1 + 0.25 + 0.75 = 0
      [3, 1], // -1 + 1.5 + 0.75 = 1.25
    ];
    const [p, label] = await model.infer([
      { name: "input", datatype: "FP32", shape: [3, 2], data: Float32Array.from(rows.flat()) },
    ]);
    const expected = [-0.75, 0, 1.25].map((z) => 1 / (1 + Math.exp(-z)));
    Array.from(p?.data as Float32Array).forEach((v, i) =>
      assert.ok(Math.abs(v - (expected[i] as number)) < 1e-6),
    );
    assert.deepEqual(Array.from(label?.data as BigInt64Array), [0n, 0n, 1n]);
  });

  test("a file whose children point backwards (a loop) or outside is refused, naming the field", () => {
    const bad = structuredClone(STUMPS);
    bad.trees[0]!.left[2] = 1;
    assert.throws(() => parseBuiltinModel(bad), /trees\[0\]\.left\[2\] must be a node index after 2/);
    const outside = structuredClone(STUMPS);
    outside.trees[0]!.feature[0] = 2;
    assert.throws(
      () => parseBuiltinModel(outside),
      /trees\[0\]\.feature\[0\] must be -1 \(leaf\) or a feature index below 2/,
    );
    assert.throws(
      () => parseBuiltinModel({ ...STUMPS, objective: "poisson" }),
      /objective must be one of binary, regression/,
    );
    assert.throws(
      () => parseBuiltinModel({ ...STUMPS, kind: "linear_regression", weights: [1, 1] }),
      /only allowed for gradient_boosted_trees/,
    );
  });
});
