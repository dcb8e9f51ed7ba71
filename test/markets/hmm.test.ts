// Gaussian HMM by Baum–Welch: parameters recovered from seeded simulations; a degenerate
// state refused; filtered and smoothed probabilities agree with a brute-force enumeration.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { fitHmm, forwardBackward, type HmmParams } from "../../src/markets/hmm.js";
import { assertAbsolute } from "./data.js";

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    // mulberry32
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function simulate(p: HmmParams, n: number, seed: number): { y: number[]; states: number[] } {
  const u = rng(seed);
  const normal = (): number => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
  const pick = (probs: number[]): number => {
    let r = u();
    for (let i = 0; i < probs.length; i++) if ((r -= probs[i] as number) < 0) return i;
    return probs.length - 1;
  };
  const y: number[] = [];
  const states: number[] = [];
  let s = pick(p.initial);
  for (let t = 0; t < n; t++) {
    if (t > 0) s = pick(p.transition[s] as number[]);
    states.push(s);
    y.push((p.means[s] as number) + Math.sqrt(p.variances[s] as number) * normal());
  }
  return { y, states };
}

describe("Gaussian HMM", () => {
  test("recovers a calm/turbulent 2-state model from 6,000 simulated returns", () => {
    const truth: HmmParams = {
      initial: [0.5, 0.5],
      transition: [
        [0.98, 0.02],
        [0.05, 0.95],
      ],
      means: [0.05, -0.1],
      variances: [0.25, 4],
    };
    const { y, states } = simulate(truth, 6000, 11);
    const fit = fitHmm(y, 2);
    assertAbsolute(fit.params.means[0] as number, 0.05, 0.03, "calm mean");
    assertAbsolute(fit.params.means[1] as number, -0.1, 0.15, "turbulent mean");
    assertAbsolute(fit.params.variances[0] as number, 0.25, 0.03, "calm variance");
    assertAbsolute(fit.params.variances[1] as number, 4, 0.4, "turbulent variance");
    assertAbsolute(fit.params.transition[0]?.[0] as number, 0.98, 0.01, "P(calm -> calm)");
    assertAbsolute(fit.params.transition[1]?.[1] as number, 0.95, 0.02, "P(turbulent -> turbulent)");
    assertAbsolute(fit.expectedDurations[0] as number, 50, 20, "calm duration");
    // the smoothed regime is right most of the time
    const right = states.filter((s, t) => (fit.smoothed[t]?.[s] as number) > 0.5).length;
    assert.ok(right / states.length > 0.95, `smoothed regime right ${right} of ${states.length}`);
  });

  test("recovers 3 states with separated means", () => {
    const truth: HmmParams = {
      initial: [1 / 3, 1 / 3, 1 / 3],
      transition: [
        [0.95, 0.03, 0.02],
        [0.04, 0.93, 0.03],
        [0.02, 0.03, 0.95],
      ],
      means: [-2, 0, 2],
      variances: [0.3, 0.6, 1.2],
    };
    const { y } = simulate(truth, 6000, 5);
    const fit = fitHmm(y, 3);
    truth.means.forEach((m, s) => assertAbsolute(fit.params.means[s] as number, m, 0.1, `mean ${s}`));
    truth.variances.forEach((v, s) =>
      assertAbsolute(fit.params.variances[s] as number, v, 0.12 * v, `variance ${s}`),
    );
    truth.transition.forEach((row, i) =>
      row.forEach((p, j) =>
        assertAbsolute(fit.params.transition[i]?.[j] as number, p, 0.02, `P(${i} -> ${j})`),
      ),
    );
  });

  test("forward–backward agrees with enumerating every state path on a short series", () => {
    const p: HmmParams = {
      initial: [0.6, 0.4],
      transition: [
        [0.8, 0.2],
        [0.3, 0.7],
      ],
      means: [0, 1],
      variances: [1, 2],
    };
    const y = [0.3, 1.9, -0.4, 2.2, 0.7];
    const dens = (v: number, s: number): number =>
      Math.exp((-0.5 * (v - (p.means[s] as number)) ** 2) / (p.variances[s] as number)) /
      Math.sqrt(2 * Math.PI * (p.variances[s] as number));
    let total = 0;
    const marginal = y.map(() => [0, 0]);
    const filteredAt2 = [0, 0];
    for (let path = 0; path < 2 ** y.length; path++) {
      const s = y.map((_, t) => (path >> t) & 1);
      let w = (p.initial[s[0] as number] as number) * dens(y[0] as number, s[0] as number);
      for (let t = 1; t < y.length; t++)
        w *=
          (p.transition[s[t - 1] as number]?.[s[t] as number] as number) *
          dens(y[t] as number, s[t] as number);
      total += w;
      s.forEach(
        (state, t) => ((marginal[t] as number[])[state] = ((marginal[t] as number[])[state] as number) + w),
      );
    }
    for (let path = 0; path < 8; path++) {
      const s = [0, 1, 2].map((t) => (path >> t) & 1);
      let w = (p.initial[s[0] as number] as number) * dens(y[0] as number, s[0] as number);
      for (let t = 1; t < 3; t++)
        w *=
          (p.transition[s[t - 1] as number]?.[s[t] as number] as number) *
          dens(y[t] as number, s[t] as number);
      filteredAt2[s[2] as number] = (filteredAt2[s[2] as number] as number) + w;
    }
    const fb = forwardBackward(y, p);
    assertAbsolute(fb.loglik, Math.log(total), 1e-12, "log-likelihood");
    marginal.forEach((row, t) =>
      row.forEach((w, s) =>
        assertAbsolute(fb.smoothed[t]?.[s] as number, w / total, 1e-12, `smoothed[${t}][${s}]`),
      ),
    );
    const f2 = (filteredAt2[0] as number) + (filteredAt2[1] as number);
    assertAbsolute(fb.filtered[2]?.[1] as number, (filteredAt2[1] as number) / f2, 1e-12, "filtered[2][1]");
  });

  test("a state that settles on repeated values (zero returns of filled holidays) is refused", () => {
    const u = rng(3);
    const y = Array.from({ length: 600 }, (_, i) => (Math.floor(i / 15) % 4 === 0 ? 0 : u() - 0.5));
    assert.throws(() => fitHmm(y, 2), /variance collapsing.*degenerate state.*refused/);
  });

  test("bad input: too few points names the minimum; 4 states are refused", () => {
    assert.throws(() => fitHmm([1, 2, 3, 4], 2), /at least 40 points, got 4/);
    assert.throws(() => fitHmm(Array.from({ length: 100 }, Math.sin), 4), /states must be 2 or 3/);
  });
});
