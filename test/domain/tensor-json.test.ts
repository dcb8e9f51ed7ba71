import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { BallastError } from "../../src/domain/errors.js";
import type { Tensor } from "../../src/domain/tensor.js";
import { halfToNumber, numberToHalf } from "../../src/domain/float16.js";
import { decodeTensor, encodeTensor } from "../../src/domain/tensor-json.js";

const upstream = (message: string): BallastError => new BallastError("upstream", message);
const asOutput = (value: unknown) =>
  decodeTensor(value, { where: "outputs[0]", role: "output", fail: upstream });

describe("float16", () => {
  // Bit patterns from the IEEE 754 binary16 tables.
  const known: [number, number][] = [
    [0, 0x0000],
    [1, 0x3c00],
    [-2, 0xc000],
    [0.5, 0x3800],
    [65504, 0x7bff],
    [2 ** -14, 0x0400],
    [2 ** -24, 0x0001],
    [Infinity, 0x7c00],
    [-Infinity, 0xfc00],
  ];
  for (const [value, bits] of known) {
    test(`${value} <-> 0x${bits.toString(16)}`, () => {
      assert.equal(numberToHalf(value), bits);
      assert.equal(halfToNumber(bits), value);
    });
  }

  test("rounds to nearest, ties to even, and overflows to infinity", () => {
    assert.equal(numberToHalf(0.1), 0x2e66); // 0.0999755859375
    assert.equal(numberToHalf(1 + 2 ** -11), 0x3c00); // tie: down to the even mantissa
    assert.equal(numberToHalf(1 + 3 * 2 ** -11), 0x3c02); // tie: up to the even mantissa
    assert.equal(numberToHalf(65519), 0x7bff);
    assert.equal(numberToHalf(65520), 0x7c00);
    assert.equal(numberToHalf(2 ** -25), 0x0000); // tie between 0 and the smallest subnormal
    assert.equal(numberToHalf(1.5 * 2 ** -24), 0x0002);
    assert.equal(numberToHalf(-0), 0x8000);
    assert.ok(Number.isNaN(halfToNumber(numberToHalf(NaN))));
  });
});

describe("tensors as protocol JSON", () => {
  const tensors: Tensor[] = [
    { name: "f32", datatype: "FP32", shape: [2], data: Float32Array.from([0.5, -1.25]) },
    { name: "f64", datatype: "FP64", shape: [1, 2], data: Float64Array.from([0.1, 1e300]) },
    { name: "f16", datatype: "FP16", shape: [2], data: Uint16Array.from([0x3c00, 0xc000]) },
    { name: "i8", datatype: "INT8", shape: [2], data: Int8Array.from([-128, 127]) },
    { name: "i16", datatype: "INT16", shape: [1], data: Int16Array.from([-300]) },
    { name: "i32", datatype: "INT32", shape: [1], data: Int32Array.from([-2147483648]) },
    { name: "i64", datatype: "INT64", shape: [2], data: BigInt64Array.from([-(2n ** 53n) + 1n, 42n]) },
    { name: "u8", datatype: "UINT8", shape: [1], data: Uint8Array.from([255]) },
    { name: "u16", datatype: "UINT16", shape: [1], data: Uint16Array.from([65535]) },
    { name: "u32", datatype: "UINT32", shape: [1], data: Uint32Array.from([4294967295]) },
    { name: "u64", datatype: "UINT64", shape: [1], data: BigUint64Array.from([2n ** 53n - 1n]) },
    { name: "b", datatype: "BOOL", shape: [2], data: [true, false] },
    { name: "s", datatype: "BYTES", shape: [2], data: ["a", "ü"] },
  ];

  for (const tensor of tensors) {
    test(`${tensor.datatype} survives a JSON round trip`, () => {
      const json = JSON.parse(JSON.stringify(encodeTensor(tensor)));
      assert.deepEqual(asOutput(json), tensor);
    });
  }

  test("encodes FP16 as numbers and a Uint8Array BOOL as booleans", () => {
    assert.deepEqual(encodeTensor(tensors[2] as Tensor).data, [1, -2]);
    assert.deepEqual(
      encodeTensor({ name: "b", datatype: "BOOL", shape: [2], data: Uint8Array.from([1, 0]) }).data,
      [true, false],
    );
  });

  test("refuses INT64 beyond 2^53 and NaN rather than changing them", () => {
    const big: Tensor = {
      name: "ids",
      datatype: "INT64",
      shape: [2],
      data: BigInt64Array.from([1n, 2n ** 53n]),
    };
    assert.throws(() => encodeTensor(big), {
      code: "internal",
      message: /tensor 'ids' holds 9007199254740992 at index 1, beyond ±2\^53/,
    });
    const nan: Tensor = { name: "x", datatype: "FP32", shape: [1], data: Float32Array.from([NaN]) };
    assert.throws(() => encodeTensor(nan), { code: "internal", message: /holds NaN at index 0/ });
    // The caller chooses whom to blame: a client's input going to a remote model is a 400.
    const blameClient = (m: string) => new BallastError("invalid_argument", m);
    assert.throws(() => encodeTensor(big, blameClient), { code: "invalid_argument" });
  });

  test("decodes INT64 strings exactly and nested data flat", () => {
    const decoded = asOutput({
      name: "ids",
      datatype: "INT64",
      shape: [2, 2],
      data: [
        ["9223372036854775807", 1],
        [-5, "-9007199254740993"],
      ],
    });
    assert.deepEqual(Array.from(decoded.data as BigInt64Array), [2n ** 63n - 1n, 1n, -5n, -(2n ** 53n) - 1n]);
  });

  const bad: [string, unknown, RegExp][] = [
    [
      "unsafe INT64 number",
      { name: "t", datatype: "INT64", shape: [1], data: [2 ** 60] },
      /output 't': data\[0\] must be an integer within ±2\^53, or a decimal string/,
    ],
    [
      "INT64 out of range",
      { name: "t", datatype: "INT64", shape: [1], data: ["9223372036854775808"] },
      /data\[0\] must be an integer within -9223372036854775808…9223372036854775807/,
    ],
    [
      "INT8 out of range",
      { name: "t", datatype: "INT8", shape: [1], data: [128] },
      /data\[0\] must be an integer within -128…127 for INT8/,
    ],
    [
      "fractional INT32",
      { name: "t", datatype: "INT32", shape: [1], data: [1.5] },
      /must be an integer for INT32, got 1.5/,
    ],
    [
      "string in FP32",
      { name: "t", datatype: "FP32", shape: [1], data: ["1"] },
      /must be a finite number for FP32, got "1"/,
    ],
    [
      "FP32 beyond its range",
      { name: "t", datatype: "FP32", shape: [1], data: [1e39] },
      /within ±3.4028234663852886e\+38/,
    ],
    ["FP16 beyond its range", { name: "t", datatype: "FP16", shape: [1], data: [70000] }, /within ±65504/],
    [
      "wrong count",
      { name: "t", datatype: "FP32", shape: [2, 2], data: [1, 2, 3] },
      /data has 3 elements but shape \[2, 2\] needs 4/,
    ],
    [
      "unknown datatype",
      { name: "t", datatype: "FP8", shape: [1], data: [1] },
      /datatype "FP8" is not one of/,
    ],
    [
      "negative dim",
      { name: "t", datatype: "FP32", shape: [-1], data: [] },
      /shape\[0\] must be a non-negative integer/,
    ],
    ["not an object", [1, 2], /outputs\[0\] must be an object/],
    [
      "nesting past the limit",
      { name: "t", datatype: "FP32", shape: [1], data: JSON.parse("[".repeat(40) + "1" + "]".repeat(40)) },
      /nested deeper than 32/,
    ],
  ];
  for (const [what, value, message] of bad) {
    test(`rejects ${what} with the caller's error code`, () => {
      assert.throws(() => asOutput(value), { code: "upstream", message });
    });
  }
});
