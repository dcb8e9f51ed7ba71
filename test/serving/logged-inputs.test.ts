import { test } from "node:test";
import assert from "node:assert/strict";
import { measureJson, previewJson } from "../../src/domain/json-value.js";
import { loggedInstances, loggedTensors } from "../../src/serving/logged-inputs.js";
import { decodeTensor } from "../../src/domain/tensor-json.js";

const nested = (depth: number): unknown => {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = { a: v };
  return v;
};

test("measureJson stops at the first bound it breaks, without recursion, whatever the depth", () => {
  const bounds = { maxDepth: 32, maxBytes: 1000 };
  assert.deepEqual(measureJson(nested(100_000), bounds), { beyond: "depth" });
  assert.ok("bytes" in measureJson(nested(32), bounds));
  assert.deepEqual(measureJson(nested(33), bounds), { beyond: "depth" });
  assert.deepEqual(measureJson(new Array(1_000_000).fill(0), bounds), { beyond: "size" });
  assert.deepEqual(measureJson({ s: "x".repeat(2000) }, bounds), { beyond: "size" });
  const small = measureJson({ a: [1, 2], b: "xy" }, bounds);
  assert.ok("bytes" in small && small.bytes > 10 && small.bytes < 100);
  assert.equal(previewJson({ a: 1 }), '{"a":1}');
  assert.equal(previewJson(nested(5000)), "an object too large to show");
  assert.equal(previewJson(undefined), "undefined");
});

test("only out-of-bounds free-form fields are replaced, on copies; the client's objects are untouched", () => {
  const raw = [
    { name: "a", datatype: "FP32", shape: [2], data: [1, 2], parameters: nested(40) },
    { name: "b", datatype: "BYTES", shape: [1], data: ["hello"], parameters: { unit: "m" } },
  ];
  const decoded = raw.map((t, i) => decodeTensor(t, { where: `inputs[${i}]`, role: "input" }));
  const logged = loggedTensors(raw, decoded);
  const tensors = logged.inputs.tensors as Array<Record<string, unknown>>;
  assert.deepEqual(tensors[0]?.parameters, { truncated: "parameters deeper than 32 levels" });
  assert.equal(tensors[1], raw[1], "a tensor within bounds is logged as sent, not copied");
  assert.notEqual(raw[0]?.parameters, undefined);
  assert.ok(typeof (raw[0]?.parameters as { a: unknown }).a === "object", "the request is not changed");
  assert.ok(logged.bytes > 100);

  const rows = [
    { x: 1, tag: "t" },
    { x: 2, blob: nested(100) },
  ];
  const instances = loggedInstances(rows).inputs.instances as Array<Record<string, unknown>>;
  assert.equal(instances[0], rows[0]);
  assert.deepEqual(instances[1], { x: 2, blob: { truncated: "blob deeper than 32 levels" } });
  assert.ok(typeof rows[1]?.blob === "object" && !("truncated" in (rows[1].blob as object)));
});
