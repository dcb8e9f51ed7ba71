import { test, describe } from "node:test";
import assert from "node:assert/strict";
import {
  BASELINE_FRAUD_PATTERN,
  DEFAULT_FRAUD_SHIFTS,
  FRAUD_COLUMNS,
  FRAUD_FEATURES,
  MERCHANT_CATEGORIES,
  fraudFeatureVector,
  fraudProbability,
  fraudShiftForWeek,
  generateFraudWeek,
  type FraudTransaction,
} from "../../src/sim/fraud.js";

const SEED = 42;
const ROWS = 60_000;
const weeks = new Map<number, FraudTransaction[]>();
function week(n: number): FraudTransaction[] {
  let rows = weeks.get(n);
  if (rows === undefined) {
    rows = generateFraudWeek({ seed: SEED, week: n, rows: ROWS });
    weeks.set(n, rows);
  }
  return rows;
}

function share(rows: readonly FraudTransaction[], predicate: (t: FraudTransaction) => boolean): number {
  return rows.filter(predicate).length / rows.length;
}

function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

function proportionSe(p: number, n: number): number {
  return Math.sqrt((p * (1 - p)) / n);
}

/** Area under the ROC curve by ranks (Mann-Whitney U), ties counted half. */
function auc(scores: readonly number[], labels: readonly number[]): number {
  const order = scores.map((s, i) => ({ s, y: labels[i] ?? 0 })).sort((a, b) => a.s - b.s);
  let rankSumPositive = 0;
  let positives = 0;
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j < order.length && order[j]?.s === order[i]?.s) j++;
    const averageRank = (i + 1 + j) / 2;
    for (let k = i; k < j; k++) {
      if (order[k]?.y === 1) {
        rankSumPositive += averageRank;
        positives++;
      }
    }
    i = j;
  }
  const negatives = order.length - positives;
  return (rankSumPositive - (positives * (positives + 1)) / 2) / (positives * negatives);
}

describe("generateFraudWeek", () => {
  test("is deterministic for (seed, week), and fewer rows are a prefix of more", () => {
    const a = generateFraudWeek({ seed: 1, week: 2, rows: 500 });
    assert.deepEqual(a, generateFraudWeek({ seed: 1, week: 2, rows: 500 }));
    assert.deepEqual(generateFraudWeek({ seed: 1, week: 2, rows: 100 }), a.slice(0, 100));
    assert.notDeepEqual(generateFraudWeek({ seed: 2, week: 2, rows: 500 }), a);
    // Weeks 1 and 2 share a world but not a random stream.
    assert.notDeepEqual(generateFraudWeek({ seed: 1, week: 1, rows: 500 }), a);
  });

  test("every column is in its domain", () => {
    const categories = new Set<string>(MERCHANT_CATEGORIES);
    for (const n of [1, 4, 5]) {
      for (const t of week(n)) {
        assert.deepEqual(Object.keys(t).sort(), [...FRAUD_COLUMNS].sort());
        assert.ok(t.amount >= 0.01 && Math.round(t.amount * 100) === Math.round(t.amount * 100 * 1e6) / 1e6);
        assert.ok(Number.isInteger(t.hour) && t.hour >= 0 && t.hour <= 23);
        assert.equal(t.night, t.hour < 6 ? 1 : 0);
        assert.ok(categories.has(t.merchant_category));
        assert.ok(t.distance_from_home_km >= 0 && t.distance_from_home_km <= 20000);
        assert.ok(t.online === 0 || t.online === 1);
        assert.ok(Number.isInteger(t.card_age_days) && t.card_age_days >= 1);
        assert.ok(Number.isInteger(t.txn_count_24h) && t.txn_count_24h >= 0);
        assert.ok(t.is_fraud === 0 || t.is_fraud === 1);
      }
    }
  });

  test("every category and every hour occurs; days are busier than nights", () => {
    const rows = week(1);
    for (const c of MERCHANT_CATEGORIES)
      assert.ok(
        rows.some((t) => t.merchant_category === c),
        c,
      );
    for (let h = 0; h < 24; h++)
      assert.ok(
        rows.some((t) => t.hour === h),
        `hour ${h}`,
      );
    const night = share(rows, (t) => t.night === 1);
    assert.ok(night > 0.02 && night < 0.08, `night share ${night}`);
    assert.ok(
      share(rows, (t) => t.hour >= 12 && t.hour < 14) > 5 * share(rows, (t) => t.hour >= 2 && t.hour < 4),
    );
  });

  test("the fraud base rate is 1-4% in every default week", () => {
    for (let n = 1; n <= 6; n++) {
      const rate = share(week(n), (t) => t.is_fraud === 1);
      assert.ok(rate > 0.01 && rate < 0.04, `week ${n}: ${rate}`);
    }
  });

  test("labels are drawn from the stated fraud probability (calibrated, per decile)", () => {
    for (const n of [1, 5]) {
      const pattern = fraudShiftForWeek(n).pattern ?? BASELINE_FRAUD_PATTERN;
      const scored = week(n)
        .map((t) => ({ p: fraudProbability(t, pattern), y: t.is_fraud }))
        .sort((a, b) => a.p - b.p);
      const size = scored.length / 10;
      for (let d = 0; d < 10; d++) {
        const bucket = scored.slice(d * size, (d + 1) * size);
        const expected = bucket.reduce((s, r) => s + r.p, 0);
        const observed = bucket.reduce((s, r) => s + r.y, 0);
        const sd = Math.sqrt(bucket.reduce((s, r) => s + r.p * (1 - r.p), 0));
        assert.ok(
          Math.abs(observed - expected) <= 5 * sd + 1,
          `week ${n} decile ${d}: ${observed} vs ${expected}`,
        );
      }
    }
  });

  test("rejects a week below 1 and a negative row count", () => {
    assert.throws(() => generateFraudWeek({ seed: 1, week: 0, rows: 10 }), RangeError);
    assert.throws(() => generateFraudWeek({ seed: 1, week: 1, rows: -1 }), RangeError);
    assert.deepEqual(generateFraudWeek({ seed: 1, week: 1, rows: 0 }), []);
  });

  test("an explicit shift overrides the week's default", () => {
    const inflated = generateFraudWeek({
      seed: 3,
      week: 1,
      rows: 2000,
      shift: { description: "x2", amountScale: 2 },
    });
    const plain = generateFraudWeek({ seed: 3, week: 1, rows: 2000 });
    // The same random stream, so each amount doubles (to within rounding to cents).
    for (const [i, t] of inflated.entries())
      assert.ok(Math.abs(t.amount - 2 * (plain[i]?.amount ?? 0)) <= 0.011);
  });
});

describe("the default schedule of shifts", () => {
  test("week n uses entry n, weeks past the schedule keep the last entry", () => {
    assert.equal(DEFAULT_FRAUD_SHIFTS.length, 6);
    assert.equal(fraudShiftForWeek(3), DEFAULT_FRAUD_SHIFTS[2]);
    assert.equal(fraudShiftForWeek(9), DEFAULT_FRAUD_SHIFTS[5]);
  });

  test("weeks 1 and 2 are the same world", () => {
    const [a, b] = [week(1), week(2)];
    const ratio = median(b.map((t) => t.amount)) / median(a.map((t) => t.amount));
    assert.ok(Math.abs(ratio - 1) < 0.05, `median amount ratio ${ratio}`);
    const [nightA, nightB] = [share(a, (t) => t.night === 1), share(b, (t) => t.night === 1)];
    assert.ok(Math.abs(nightA - nightB) < 5 * proportionSe(nightA, ROWS) * Math.SQRT2);
    const [onlineA, onlineB] = [share(a, (t) => t.online === 1), share(b, (t) => t.online === 1)];
    assert.ok(Math.abs(onlineA - onlineB) < 5 * proportionSe(onlineA, ROWS) * Math.SQRT2);
  });

  test("week 3 inflates amounts by 35% and leaves the rest alone", () => {
    const ratio = median(week(3).map((t) => t.amount)) / median(week(2).map((t) => t.amount));
    assert.ok(ratio > 1.28 && ratio < 1.42, `median amount ratio ${ratio}`);
    const [night2, night3] = [share(week(2), (t) => t.night === 1), share(week(3), (t) => t.night === 1)];
    assert.ok(Math.abs(night3 - night2) < 5 * proportionSe(night2, ROWS) * Math.SQRT2);
  });

  test("week 4 shifts the category mix towards online and electronics and triples night traffic", () => {
    const [w3, w4] = [week(3), week(4)];
    const night = share(w4, (t) => t.night === 1) / share(w3, (t) => t.night === 1);
    // Tripling the night weights raises the night share from p to 3p / (1 + 2p): about 2.8x.
    assert.ok(night > 2.4 && night < 3.1, `night share ratio ${night}`);
    assert.ok(
      share(w4, (t) => t.merchant_category === "online") >
        1.4 * share(w3, (t) => t.merchant_category === "online"),
    );
    assert.ok(
      share(w4, (t) => t.merchant_category === "electronics") >
        1.6 * share(w3, (t) => t.merchant_category === "electronics"),
    );
    assert.ok(
      share(w4, (t) => t.merchant_category === "grocery") <
        share(w3, (t) => t.merchant_category === "grocery"),
    );
  });

  test("week 5 moves fraud to fuel pumps while the inputs look like week 4 (concept drift)", () => {
    const [w4, w5] = [week(4), week(5)];
    const fuelShare = (rows: FraudTransaction[]) =>
      share(
        rows.filter((t) => t.is_fraud === 1),
        (t) => t.merchant_category === "fuel",
      );
    assert.ok(fuelShare(w4) < 0.1, `week 4 fraud at fuel: ${fuelShare(w4)}`);
    assert.ok(fuelShare(w5) > 0.4, `week 5 fraud at fuel: ${fuelShare(w5)}`);
    // Inputs: same mix as week 4.
    for (const c of MERCHANT_CATEGORIES) {
      const [p4, p5] = [
        share(w4, (t) => t.merchant_category === c),
        share(w5, (t) => t.merchant_category === c),
      ];
      assert.ok(Math.abs(p4 - p5) < 5 * proportionSe(p4, ROWS) * Math.SQRT2, `${c}: ${p4} vs ${p5}`);
    }
    const ratio = median(w5.map((t) => t.amount)) / median(w4.map((t) => t.amount));
    assert.ok(Math.abs(ratio - 1) < 0.05, `median amount ratio ${ratio}`);
  });

  test("the week-1 fraud model ranks week 2 well and week 5 poorly", () => {
    const baselineAuc = (rows: FraudTransaction[]) =>
      auc(
        rows.map((t) => fraudProbability(t, BASELINE_FRAUD_PATTERN)),
        rows.map((t) => t.is_fraud),
      );
    const stable = baselineAuc(week(2));
    const drifted = baselineAuc(week(5));
    assert.ok(stable > 0.75, `week 2 AUC ${stable}`);
    assert.ok(drifted < 0.6, `week 5 AUC ${drifted}`);
  });
});

describe("features", () => {
  test("the model's features are the numeric columns a client sends", () => {
    assert.deepEqual(
      [...FRAUD_FEATURES],
      ["amount", "hour", "distance_from_home_km", "online", "card_age_days", "txn_count_24h", "night"],
    );
    for (const f of FRAUD_FEATURES) assert.ok((FRAUD_COLUMNS as readonly string[]).includes(f), f);
  });

  test("fraudFeatureVector lists a transaction's features in FRAUD_FEATURES order", () => {
    const t: FraudTransaction = {
      amount: 12.5,
      hour: 3,
      night: 1,
      merchant_category: "fuel",
      distance_from_home_km: 7.1,
      online: 0,
      card_age_days: 400,
      txn_count_24h: 2,
      is_fraud: 0,
    };
    assert.deepEqual(fraudFeatureVector(t), [12.5, 3, 7.1, 0, 400, 2, 1]);
  });

  test("fraudProbability is the logistic of the pattern's linear score", () => {
    const t = { ...week(1)[0]!, merchant_category: "electronics" as const };
    const c = BASELINE_FRAUD_PATTERN.coefficients;
    const logit =
      BASELINE_FRAUD_PATTERN.intercept +
      (BASELINE_FRAUD_PATTERN.categoryRisk.electronics ?? 0) +
      c.amount * t.amount +
      c.hour * t.hour +
      c.distance_from_home_km * t.distance_from_home_km +
      c.online * t.online +
      c.card_age_days * t.card_age_days +
      c.txn_count_24h * t.txn_count_24h +
      c.night * t.night;
    assert.ok(Math.abs(fraudProbability(t) - 1 / (1 + Math.exp(-logit))) < 1e-15);
  });
});
