import { test } from "node:test";
import assert from "node:assert/strict";
import { ProfileBuilder } from "../../../src/monitoring/profile/profile-builder.js";
import {
  parseProfile,
  serializeProfile,
  validateProfile,
} from "../../../src/monitoring/profile/reference-profile.js";

const builder = new ProfileBuilder({ clock: { now: () => 5 } });
builder.add([
  { x: 1.5, c: "a", b: 1 },
  { x: 2.5, c: "b", b: 0 },
  { x: null, c: "a", b: 1 },
]);
const good = JSON.parse(serializeProfile(builder.finish())) as Record<string, unknown> & {
  features: Record<string, unknown>[];
};

function withFeature(i: number, patch: Record<string, unknown>): unknown {
  return { ...good, features: good.features.map((f, j) => (j === i ? { ...f, ...patch } : f)) };
}

test("a valid profile passes unchanged", () => {
  assert.deepEqual(validateProfile(good), good);
});

test("invalid profiles are refused with the field named", () => {
  const cases: [unknown, RegExp][] = [
    [{ ...good, version: 2 }, /profile\.version must be 1/],
    [{ ...good, rows: 0 }, /profile\.rows must be at least 1/],
    [{ ...good, features: {} }, /profile\.features must be an array/],
    [
      withFeature(0, { kind: "ordinal" }),
      /profile\.features\[0\]\.kind must be one of numerical, categorical, binary/,
    ],
    [
      withFeature(0, { missing: 5 }),
      /profile\.features\[0\]: count \+ missing must equal profile\.rows \(3\)/,
    ],
    [withFeature(0, { binCounts: [3] }), /profile\.features\[0\]\.binCounts must sum to/],
    [withFeature(0, { edges: [2.5, 1.5] }), /profile\.features\[0\]\.edges must be strictly increasing/],
    [withFeature(0, { mean: null }), /profile\.features\[0\]\.mean must be a finite number/],
    [withFeature(0, { sketch: { k: 200 } }), /profile\.features\[0\]\.sketch\.coin/],
    [
      withFeature(1, { other: 1 }),
      /profile\.features\[1\]\.categories and profile\.features\[1\]\.other must sum/,
    ],
    [
      withFeature(2, {
        categories: [
          { value: "1", count: 2 },
          { value: "0", count: 1 },
        ],
      }),
      /binary feature must be "0" then "1"/,
    ],
    [withFeature(1, { name: "x" }), /profile\.features\[1\]\.name "x" appears twice/],
  ];
  for (const [json, message] of cases) assert.throws(() => validateProfile(json), message);
  assert.throws(() => parseProfile("{"), /reference profile is not valid JSON/);
});
