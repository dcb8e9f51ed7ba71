import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { isBallastError } from "../../src/domain/errors.js";
import type { Variant } from "../../src/domain/model.js";
import { checkDeployment } from "../../src/registry/deployment-spec.js";

const variants: Variant[] = [
  { name: "canary", model: "fraud", ref: { version: 2 }, weight: 100 },
  { name: "stable", model: "fraud", ref: { version: 1 }, weight: 0 },
];
const deployment = (resilience: unknown) => ({ name: "d", variants, resilience });

describe("resilience in a deployment spec", () => {
  test("the full form is kept, with breaker defaults filled in", () => {
    const checked = checkDeployment(
      deployment({
        fallback: { variant: "stable" },
        fallbackOn: ["timeout", "nan"],
        circuitBreaker: { failures: 2 },
        maxConcurrency: 8,
      }),
    );
    assert.deepEqual(checked.resilience, {
      fallback: { variant: "stable" },
      fallbackOn: ["timeout", "nan"],
      circuitBreaker: { failures: 2, openMs: 30_000, halfOpenProbes: 1 },
      maxConcurrency: 8,
    });
  });

  test("a version of any model and a static answer are fallbacks too; none at all is no resilience", () => {
    assert.deepEqual(
      checkDeployment(deployment({ fallback: { model: "fraud-old", ref: { alias: "champion" } } }))
        .resilience,
      { fallback: { model: "fraud-old", ref: { alias: "champion" } } },
    );
    assert.deepEqual(
      checkDeployment(deployment({ fallback: { response: { outputs: { probability: 0, label: [0, 1] } } } }))
        .resilience,
      { fallback: { response: { outputs: { probability: 0, label: [0, 1] } } } },
    );
    assert.equal(checkDeployment(deployment(undefined)).resilience, undefined);
    assert.equal("resilience" in checkDeployment(deployment({})), false);
  });

  const cases: Array<[string, unknown, string, RegExp]> = [
    ["not an object", 5, "resilience", /expected \{fallback\?/],
    ["a misspelt key", { fallback_on: ["error"] }, "resilience.fallback_on", /unknown setting/],
    [
      "an unknown variant",
      { fallback: { variant: "gone" } },
      "resilience.fallback.variant",
      /not a variant.*canary, stable/,
    ],
    [
      "two forms at once",
      { fallback: { variant: "stable", response: {} } },
      "resilience.fallback",
      /exactly one/,
    ],
    ["no form", { fallback: {} }, "resilience.fallback", /exactly one/],
    [
      "a bad fallback ref",
      { fallback: { model: "fraud", ref: { version: 0 } } },
      "resilience.fallback.ref.version",
      /version number/,
    ],
    [
      "a fallback model without ref",
      { fallback: { model: "fraud" } },
      "resilience.fallback.ref",
      /version.*alias/,
    ],
    [
      "a static answer with no outputs",
      { fallback: { response: { outputs: {} } } },
      "resilience.fallback.response.outputs",
      /at least one/,
    ],
    [
      "a static NaN-like value",
      { fallback: { response: { outputs: { p: null } } } },
      "resilience.fallback.response.outputs.p",
      /number, boolean or string/,
    ],
    [
      "a static list of mixed kinds",
      { fallback: { response: { outputs: { p: [1, "a"] } } } },
      "resilience.fallback.response.outputs.p",
      /mixes number and string/,
    ],
    [
      "an unknown failure kind",
      { fallback: { variant: "stable" }, fallbackOn: ["error", "slow"] },
      "resilience.fallbackOn[1]",
      /"slow" is not one of error, timeout, nan/,
    ],
    [
      "an empty failure list",
      { fallback: { variant: "stable" }, fallbackOn: [] },
      "resilience.fallbackOn",
      /non-empty/,
    ],
    [
      "a repeated failure kind",
      { fallback: { variant: "stable" }, fallbackOn: ["nan", "nan"] },
      "resilience.fallbackOn[1]",
      /twice/,
    ],
    [
      "fallbackOn without a fallback",
      { fallbackOn: ["error"] },
      "resilience.fallbackOn",
      /without resilience.fallback/,
    ],
    [
      "zero breaker failures",
      { circuitBreaker: { failures: 0 } },
      "resilience.circuitBreaker.failures",
      /from 1 to 1000/,
    ],
    [
      "a fractional openMs",
      { circuitBreaker: { openMs: 1.5 } },
      "resilience.circuitBreaker.openMs",
      /whole milliseconds/,
    ],
    [
      "a windowMs (rates are not supported)",
      { circuitBreaker: { windowMs: 1000 } },
      "resilience.circuitBreaker.windowMs",
      /unknown setting/,
    ],
    ["a concurrency of 0", { maxConcurrency: 0 }, "resilience.maxConcurrency", /from 1 to 100000/],
    [
      "a concurrency given as text",
      { maxConcurrency: "8" },
      "resilience.maxConcurrency",
      /"8" is out of range/,
    ],
  ];
  for (const [what, resilience, field, message] of cases) {
    test(`refuses ${what}, naming ${field}`, () => {
      assert.throws(
        () => checkDeployment(deployment(resilience)),
        (error: unknown) =>
          isBallastError(error) &&
          error.code === "invalid_argument" &&
          error.details?.field === field &&
          message.test(error.message) &&
          error.message.startsWith(`${field}: `),
      );
    });
  }

  test("the only variant cannot be its own fallback", () => {
    assert.throws(
      () =>
        checkDeployment({
          name: "d",
          variants: [variants[0]],
          resilience: { fallback: { variant: "canary" } },
        }),
      /resilience.fallback.variant: "canary" is the only variant/,
    );
  });
});
