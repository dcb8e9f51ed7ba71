// Online weights per regime (src/markets/router-weights.ts): Hedge and Fixed-Share against numbers
// computed by hand, and a specialist that does not answer sleeps (its weight is kept, never grown).
import { test } from "node:test";
import assert from "node:assert/strict";
import { learn } from "../../src/markets/router-weights.js";

const close = (a: readonly number[], b: readonly number[], tol = 1e-12) =>
  assert.ok(
    a.length === b.length && a.every((x, i) => Math.abs(x - (b[i] as number)) < tol),
    `${JSON.stringify(a)} vs ${JSON.stringify(b)}`,
  );

test("Hedge: w_i exp(-eta l_i), normalised", () => {
  const w = learn({ algorithm: "hedge", rate: 1, share: 0 }, [0.5, 0.5], [1, 2]);
  const a = 0.5 * Math.exp(-1);
  const b = 0.5 * Math.exp(-2);
  close(w, [a / (a + b), b / (a + b)]);
});

test("Fixed-Share mixes alpha of the uniform vector back in after the Hedge step", () => {
  const w = learn({ algorithm: "fixed-share", rate: 1, share: 0.1 }, [0.5, 0.5], [1, 2]);
  const a = Math.exp(-1) / (Math.exp(-1) + Math.exp(-2));
  close(w, [0.9 * a + 0.05, 0.9 * (1 - a) + 0.05]);
});

test("a specialist that did not answer keeps its weight; the others share what they held", () => {
  // By hand: 0.5 and 0.3 held 0.8; after the step 0.5 : 0.3 e^-1, scaled back to 0.8 in all.
  const w = learn({ algorithm: "hedge", rate: 1, share: 0 }, [0.5, 0.3, 0.2], [1, 2, NaN]);
  const a = 0.5;
  const b = 0.3 * Math.exp(-1);
  close(w, [(0.8 * a) / (a + b), (0.8 * b) / (a + b), 0.2]);
});

test("a dead specialist's weight does not grow round after round (it held 0.96 after 879 rounds)", () => {
  let w = [0.4, 0.2, 0.2, 0.1, 0.1];
  for (let t = 0; t < 1000; t++)
    w = learn({ algorithm: "hedge", rate: 1, share: 0 }, w, [1 + (t % 3), 1.5, 2, 1.2, NaN]);
  assert.ok(Math.abs((w[4] as number) - 0.1) < 1e-9, `the sleeping one: ${w[4]}`);
  assert.ok(Math.abs(w.reduce((a, b) => a + b, 0) - 1) < 1e-9);
  // Under Fixed-Share it drifts towards the uniform share, 1/n, never above it.
  let f = [0.4, 0.2, 0.2, 0.1, 0.1];
  for (let t = 0; t < 1000; t++)
    f = learn({ algorithm: "fixed-share", rate: 1, share: 0.01 }, f, [1 + (t % 3), 1.5, 2, 1.2, NaN]);
  assert.ok((f[4] as number) > 0.1 && (f[4] as number) <= 0.2 + 1e-12, `the sleeping one: ${f[4]}`);
});

test("nobody answered: the weights are unchanged", () => {
  close(learn({ algorithm: "hedge", rate: 1, share: 0 }, [0.7, 0.3], [NaN, NaN]), [0.7, 0.3]);
});
