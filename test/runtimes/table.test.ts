import { test } from "node:test";
import assert from "node:assert/strict";
import { FLAVORS, type Flavor } from "../../src/domain/model.js";
import { RUNTIMES, runtimeFor } from "../../src/runtimes/table.js";

test("every flavor has a runtime that says it serves that flavor", () => {
  assert.deepEqual(Object.keys(RUNTIMES).sort(), [...FLAVORS].sort());
  for (const flavor of FLAVORS) assert.equal(runtimeFor(flavor).flavor, flavor);
});

test("an unknown flavor from stored data is invalid, not a crash", () => {
  assert.throws(() => runtimeFor("pickle" as Flavor), {
    code: "invalid_argument",
    message: /unknown model flavor 'pickle'; expected one of onnx, builtin, http/,
  });
  assert.throws(() => runtimeFor("toString" as Flavor), { code: "invalid_argument" });
});
