import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { isBallastError } from "../../src/domain/errors.js";
import { fromJson, toJson } from "../../src/store/json.js";

describe("store json", () => {
  test("round-trips nested values", () => {
    const value = { a: [1, 2.5, "x"], b: { c: null, d: true } };
    assert.deepEqual(fromJson(toJson(value), {}), value);
  });

  test("undefined is stored as null, never as the text 'undefined'", () => {
    assert.equal(toJson(undefined), "null");
  });

  test("a NULL or empty column gives the fallback", () => {
    const fallback = { empty: true };
    assert.equal(fromJson(null, fallback), fallback);
    assert.equal(fromJson(undefined, fallback), fallback);
    assert.equal(fromJson("", fallback), fallback);
  });

  test("malformed text is an internal error, not the fallback", () => {
    assert.throws(
      () => fromJson("{not json", {}),
      (error: unknown) =>
        isBallastError(error) && error.code === "internal" && /corrupt JSON/.test(error.message),
    );
  });
});
