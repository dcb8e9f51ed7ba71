import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { isBallastError } from "../../src/domain/errors.js";
import type { Signature } from "../../src/domain/model.js";
import { checkSignature, checkSignatureAgainst } from "../../src/registry/signature.js";
import { SIGNATURE } from "./setup.js";

function invalidAt(field: string) {
  return (error: unknown) =>
    isBallastError(error) && error.code === "invalid_argument" && error.details?.field === field;
}

function withInput(input: Record<string, unknown>, extra: Record<string, unknown> = {}): unknown {
  return { inputs: [input], outputs: SIGNATURE.outputs, ...extra };
}

describe("checkSignature", () => {
  test("accepts a well-formed signature and keeps only known fields", () => {
    const checked = checkSignature({ ...SIGNATURE, extra: 1 });
    assert.deepEqual(checked, SIGNATURE);
  });

  test("errors name the field that is wrong", () => {
    assert.throws(() => checkSignature(null), invalidAt("signature"));
    assert.throws(() => checkSignature({ outputs: SIGNATURE.outputs }), invalidAt("signature.inputs"));
    assert.throws(
      () => checkSignature({ inputs: SIGNATURE.inputs, outputs: [] }),
      invalidAt("signature.outputs"),
    );
    assert.throws(
      () => checkSignature(withInput({ name: "x", datatype: "FLOAT", shape: [1] })),
      invalidAt("signature.inputs[0].datatype"),
    );
    assert.throws(
      () => checkSignature(withInput({ name: "", datatype: "FP32", shape: [1] })),
      invalidAt("signature.inputs[0].name"),
    );
    assert.throws(
      () => checkSignature(withInput({ name: "x", datatype: "FP32", shape: [-1, -2] })),
      invalidAt("signature.inputs[0].shape[1]"),
    );
    assert.throws(
      () => checkSignature(withInput({ name: "x", datatype: "FP32", shape: [1.5] })),
      invalidAt("signature.inputs[0].shape[0]"),
    );
    assert.throws(
      () => checkSignature(withInput({ name: "x", datatype: "FP32", shape: "1,3" })),
      invalidAt("signature.inputs[0].shape"),
    );
  });

  test("tensor names must be unique within inputs and within outputs", () => {
    const twice = { name: "y", datatype: "FP32", shape: [1] };
    assert.throws(
      () => checkSignature({ inputs: SIGNATURE.inputs, outputs: [twice, twice] }),
      invalidAt("signature.outputs[1].name"),
    );
  });

  test("features must match the first input's last dimension when it is fixed", () => {
    const input = { name: "x", datatype: "FP32", shape: [-1, 2] };
    assert.throws(
      () => checkSignature(withInput(input, { features: ["a", "b", "c"] })),
      (error: unknown) =>
        invalidAt("signature.features")(error) && /3 feature names for 2 columns/.test(String(error)),
    );
    assert.deepEqual(checkSignature(withInput(input, { features: ["a", "b"] })).features, ["a", "b"]);
    // A variable last dimension takes any number of names.
    const open = { name: "x", datatype: "FP32", shape: [-1, -1] };
    assert.deepEqual(checkSignature(withInput(open, { features: ["a", "b", "c"] })).features, [
      "a",
      "b",
      "c",
    ]);
    assert.throws(
      () => checkSignature(withInput(input, { features: ["a", "a"] })),
      invalidAt("signature.features[1]"),
    );
    const scalar = { name: "x", datatype: "FP32", shape: [] };
    assert.throws(
      () => checkSignature(withInput(scalar, { features: ["a"] })),
      invalidAt("signature.features"),
    );
  });
});

describe("checkSignatureAgainst", () => {
  const inspected: Signature = {
    inputs: [{ name: "x", datatype: "FP32", shape: [-1, 3] }],
    outputs: [{ name: "probability", datatype: "FP32", shape: [-1, 1] }],
  };

  test("a given signature may only name tensors the artifact has", () => {
    checkSignatureAgainst({ ...inspected, features: ["a", "b", "c"] }, inspected);
    assert.throws(
      () =>
        checkSignatureAgainst(
          { ...inspected, inputs: [{ name: "z", datatype: "FP32", shape: [-1, 3] }] },
          inspected,
        ),
      (error: unknown) =>
        invalidAt("signature.inputs[0].name")(error) && /has no input named "z"/.test(String(error)),
    );
    assert.throws(() => checkSignatureAgainst(SIGNATURE, inspected), invalidAt("signature.outputs[1].name"));
  });
});
