import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { CHUNK_ELEMENTS, needsChunks, stringifyInChunks } from "../../src/domain/json-chunks.js";
import { serialisePredictions } from "../../src/store/prediction-rows.js";
import type { PredictionRecord } from "../../src/domain/prediction.js";
import { predictInSlices, ROWS_PER_TURN } from "../../src/runtimes/builtin/index.js";
import { BUILTIN_KIND_MODULES } from "../../src/runtimes/builtin/kinds.js";
import type { BuiltinModel } from "../../src/runtimes/builtin/format.js";

/** A pause that only counts: the work must be split by the code, not by the clock. */
function countingPause(): { pause: () => Promise<void>; count: () => number } {
  let n = 0;
  return {
    pause: async () => {
      n++;
    },
    count: () => n,
  };
}

/** A maximal request's tensor as the body parser gives it: rows of three numbers. */
function matrix(rows: number): number[][] {
  return Array.from({ length: rows }, (_, i) => [(i % 1000) / 10, i % 24, i % 2]);
}

describe("stringifyInChunks", () => {
  test("a large tensor is written in slices, with a pause between, as JSON.stringify writes it", async () => {
    const rows = 150_000;
    const value = {
      tensors: [{ name: "input", datatype: "FP32", shape: [rows, 3], data: matrix(rows), skip: undefined }],
      note: "x",
      gone: () => 1,
    };
    const { pause, count } = countingPause();
    assert.equal(needsChunks(value), true);
    assert.equal(await stringifyInChunks(value, pause), JSON.stringify(value));
    const slices = Math.ceil(rows / Math.floor(CHUNK_ELEMENTS / 3));
    assert.equal(count(), slices - 1);
  });

  test("a flat array and one with holes and undefined come out as JSON.stringify's", async () => {
    const flat = Array.from({ length: CHUNK_ELEMENTS * 2 + 5 }, (_, i) => (i % 7 === 0 ? undefined : i / 3));
    const { pause, count } = countingPause();
    assert.equal(await stringifyInChunks([flat, "a", null], pause), JSON.stringify([flat, "a", null]));
    assert.equal(count(), 2);
  });

  test("a small value takes one JSON.stringify and no pause", async () => {
    const value = { tensors: [{ name: "input", data: matrix(10) }], at: new Date(0) };
    const { pause, count } = countingPause();
    assert.equal(needsChunks(value), false);
    assert.equal(await stringifyInChunks(value, pause), JSON.stringify(value));
    assert.equal(count(), 0);
  });

  test("a BigInt in a large value fails as JSON.stringify fails", async () => {
    const data: unknown[] = matrix(20_000);
    data[19_999] = [1n];
    await assert.rejects(
      stringifyInChunks({ data }, async () => {}),
      TypeError,
    );
  });
});

describe("serialisePredictions", () => {
  const record = (inputs: unknown, outputs: unknown): PredictionRecord => ({
    requestId: "r",
    deployment: "d",
    model: "m",
    modelVersion: 1,
    variant: "stable",
    inputs,
    outputs,
    latencyMs: 1,
    createdAt: 0,
  });

  test("a row with a maximal tensor yields between slices and keeps the same text", async () => {
    const inputs = {
      tensors: [{ name: "input", datatype: "FP32", shape: [100_000, 3], data: matrix(100_000) }],
    };
    const outputs = [
      { name: "probability", datatype: "FP32", shape: [100_000], data: matrix(100_000).map((r) => r[0]) },
    ];
    const { pause, count } = countingPause();
    const { rows, refused } = await serialisePredictions([record(inputs, outputs)], pause);
    assert.deepEqual(refused, []);
    assert.equal(rows[0]?.inputs, JSON.stringify(inputs));
    assert.equal(rows[0]?.outputs, JSON.stringify(outputs));
    assert.ok(count() >= 20, `paused ${count()} times`);
  });

  test("small rows are written with no pause; an unserialisable one is refused alone", async () => {
    const { pause, count } = countingPause();
    const { rows, refused } = await serialisePredictions(
      [record({ a: 1 }, []), record({ big: 1n }, []), record({ b: 2 }, [])],
      pause,
    );
    assert.deepEqual(
      rows.map((r) => r.inputs),
      ['{"a":1}', '{"b":2}'],
    );
    assert.equal(refused[0]?.index, 1);
    assert.equal(count(), 0);
  });
});

describe("builtin scoring in slices", () => {
  const model: BuiltinModel = {
    format: "ballast.builtin/v1",
    kind: "logistic_regression",
    features: ["a", "b", "c"],
    weights: [0.8, -0.05, 1.5],
    intercept: -3,
    scaling: { mean: [1, 2, 3], std: [2, 3, 4] },
  };
  const kind = BUILTIN_KIND_MODULES.logistic_regression;

  test("many rows are scored a slice per turn, the same values as one call", async () => {
    const rows = ROWS_PER_TURN * 3 + 7;
    const data = Float32Array.from(matrix(rows).flat());
    const { pause, count } = countingPause();
    const sliced = await predictInSlices(kind, model, data, rows, ["probability", "label"], pause);
    assert.equal(count(), 4);
    assert.deepEqual(sliced, kind.predict(model, data, rows, ["probability", "label"]));
  });

  test("a batch of ROWS_PER_TURN rows or fewer is scored at once", async () => {
    const data = Float32Array.from(matrix(ROWS_PER_TURN).flat());
    const { pause, count } = countingPause();
    await predictInSlices(kind, model, data, ROWS_PER_TURN, ["probability"], pause);
    assert.equal(count(), 0);
  });
});
