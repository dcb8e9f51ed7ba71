import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Signature } from "../../src/domain/model.js";
import type { Tensor } from "../../src/domain/tensor.js";
import { checkInputs, selectOutputs, withFeatures, zeroInputs } from "../../src/runtimes/signature.js";

const signature: Signature = {
  inputs: [
    { name: "x", datatype: "FP32", shape: [-1, 3] },
    { name: "flags", datatype: "BOOL", shape: [-1] },
  ],
  outputs: [
    { name: "y", datatype: "FP64", shape: [-1] },
    { name: "z", datatype: "INT64", shape: [-1] },
  ],
};

describe("signature checks", () => {
  test("accepts well-formed inputs in any order, BOOL as booleans or bytes", () => {
    const x: Tensor = { name: "x", datatype: "FP32", shape: [2, 3], data: new Float32Array(6) };
    checkInputs(signature, [{ name: "flags", datatype: "BOOL", shape: [2], data: [true, false] }, x]);
    checkInputs(signature, [
      x,
      { name: "flags", datatype: "BOOL", shape: [2], data: Uint8Array.from([1, 0]) },
    ]);
  });

  test("rejects a repeated input and negative dimensions", () => {
    const flags: Tensor = { name: "flags", datatype: "BOOL", shape: [1], data: [true] };
    const x: Tensor = { name: "x", datatype: "FP32", shape: [1, 3], data: new Float32Array(3) };
    assert.throws(() => checkInputs(signature, [x, flags, flags]), {
      message: /input 'flags' is given more than once/,
    });
    assert.throws(() => checkInputs(signature, [{ ...x, shape: [-1, 3] }, flags]), {
      message: /non-negative integers/,
    });
    assert.throws(() => checkInputs(signature, [x, { ...flags, data: ["yes"] as unknown as boolean[] }]), {
      message: /input 'flags' is BOOL but its data is a Array/,
    });
  });

  test("selectOutputs defaults to all and removes repeats", () => {
    assert.deepEqual(selectOutputs(signature, undefined), ["y", "z"]);
    assert.deepEqual(selectOutputs(signature, ["z", "z"]), ["z"]);
  });

  test("withFeatures keeps registered names only when the column count agrees", () => {
    assert.deepEqual(
      withFeatures(signature, { inputs: [], outputs: [], features: ["a", "b", "c"] }).features,
      ["a", "b", "c"],
    );
    assert.equal(withFeatures(signature, null), signature);
    assert.throws(() => withFeatures(signature, { inputs: [], outputs: [], features: ["a"] }), {
      message: /names 1 features but the model's first input 'x' has 3 columns/,
    });
  });

  test("zeroInputs builds one row of zeros of the right types", () => {
    assert.deepEqual(zeroInputs(signature.inputs), [
      { name: "x", datatype: "FP32", shape: [1, 3], data: new Float32Array(3) },
      { name: "flags", datatype: "BOOL", shape: [1], data: [false] },
    ]);
  });
});
