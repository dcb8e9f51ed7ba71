// The per-regime scoreboard: its tallies, its bounded rings, and its verdicts. The DM numbers
// themselves are checked against R in evaluation.test.ts; here the board must feed the test the
// right paired rounds, in order, regime by regime.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { dieboldMariano, qlike, squaredError } from "../../src/markets/evaluation.js";
import {
  challengerVerdict,
  compareModels,
  emptyScoreboard,
  pairedLosses,
  performanceRows,
  recordRound,
} from "../../src/markets/regime-scoreboard.js";
import { createRandom } from "../../src/sim/random.js";

describe("regime scoreboard", () => {
  test("means per regime and over all, QLIKE only where the realized variance is positive", () => {
    const board = emptyScoreboard(["a", "b"], ["calm", "turbulent"]);
    recordRound(board, 0, 1, [2, 1]);
    recordRound(board, 1, 4, [1, undefined]);
    recordRound(board, 1, 0, [1, 2]);
    const row = (regime: string, model: string) =>
      performanceRows(board).find((r) => r.regime === regime && r.model === model);
    assert.deepEqual(row("calm", "a"), { regime: "calm", model: "a", n: 1, qlike: qlike(1, 2), mse: 1 });
    assert.equal(row("turbulent", "a")?.n, 2);
    assert.equal(row("turbulent", "a")?.qlike, qlike(4, 1));
    assert.equal(row("turbulent", "a")?.mse, (squaredError(4, 1) + squaredError(0, 1)) / 2);
    assert.equal(row("turbulent", "b")?.n, 1);
    assert.equal(row("all", "a")?.n, 3);
    assert.equal(row("all", "b")?.mse, (0 + 4) / 2);
    assert.equal(board.zeroRealized, 1);
  });

  test("DM on the board equals DM on the paired loss series, oldest first once the ring wraps", () => {
    const rng = createRandom(7);
    const random = (): number => rng.uniform();
    const board = emptyScoreboard(["a", "b"], ["calm"], 50);
    const la: number[] = [];
    const lb: number[] = [];
    for (let t = 0; t < 130; t++) {
      const realized = 0.1 + random() * 3;
      const fa = 0.5 + random() * 2;
      const fb = 0.5 + random() * 2;
      recordRound(board, 0, realized, [fa, fb]);
      la.push(qlike(realized, fa));
      lb.push(qlike(realized, fb));
    }
    const paired = pairedLosses(board, "calm", "a", "b");
    assert.deepEqual(paired.a, la.slice(-50));
    assert.deepEqual(paired.b, lb.slice(-50));
    const direct = dieboldMariano(la.slice(-50), lb.slice(-50), { losses: true });
    const viaBoard = compareModels(board, "calm", "a", "b");
    assert.equal(viaBoard?.pValue, direct.pValue);
    assert.equal(viaBoard?.n, 50);
  });

  test("a challenger better in one regime wins that regime only", () => {
    const rng = createRandom(11);
    const random = (): number => rng.uniform();
    const board = emptyScoreboard(["garch", "lstm"], ["calm", "turbulent"]);
    for (let t = 0; t < 400; t++) {
      const regime = t % 2;
      const variance = regime === 0 ? 1 : 6;
      // Box–Muller: a standard normal draw.
      const z = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
      const realized = variance * z * z + 1e-6;
      // garch is right in calm and a quarter of the truth in turbulence; lstm is a bit high everywhere.
      const garch = regime === 0 ? variance : variance / 4;
      const lstm = variance * 1.1;
      recordRound(board, regime, realized, [garch, lstm]);
    }
    const options = { alpha: 0.05, minSamples: 100 };
    const turbulent = challengerVerdict(board, "turbulent", "garch", options);
    assert.equal(turbulent?.challenger, "lstm");
    assert.ok((turbulent?.pValue as number) < 0.05);
    assert.ok((turbulent?.meanDifferential as number) < 0);
    assert.equal(challengerVerdict(board, "calm", "garch", options), undefined);
    // Too few rounds: no verdict, however clear.
    assert.equal(
      challengerVerdict(board, "turbulent", "garch", { alpha: 0.05, minSamples: 1000 }),
      undefined,
    );
  });
});
