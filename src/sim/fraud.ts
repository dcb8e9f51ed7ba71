/**
 * A seeded world of card transactions whose inputs shift week by week: the first story in
 * DESIGN.md. Each week's transactions are drawn feature by feature, then `is_fraud` is drawn from
 * a logistic model of those features, so a linear model can learn weeks 1-2 and then watch the
 * world move away from it:
 *
 *   week 1-2  stable
 *   week 3    amounts inflate by 35% (covariate shift in one feature)
 *   week 4    ...plus more online and electronics spending, three times as much night-time traffic
 *   week 5    ...plus fraud moves to card testing at fuel pumps: small amounts, bursts of
 *             transactions, in person (concept drift: P(fraud | features) changes)
 *   week 6    as week 5, so a model retrained on week 5 can be validated on week 6
 *
 * The model's features are exactly the numeric columns a client sends (FRAUD_FEATURES);
 * `merchant_category` rides along for segments and drift monitoring, `is_fraud` is the label.
 */
import { createRandom, deriveSeed, type Random } from "./random.js";

export const MERCHANT_CATEGORIES = [
  "grocery",
  "restaurant",
  "fuel",
  "online",
  "travel",
  "electronics",
  "pharmacy",
] as const;
export type MerchantCategory = (typeof MERCHANT_CATEGORIES)[number];

export interface FraudTransaction {
  /** In the card's currency, rounded to cents. */
  readonly amount: number;
  /** Local hour of day, 0-23. */
  readonly hour: number;
  /** 1 when hour < 6. */
  readonly night: 0 | 1;
  readonly merchant_category: MerchantCategory;
  /** Rounded to 0.1 km. */
  readonly distance_from_home_km: number;
  /** 1 for card-not-present transactions. */
  readonly online: 0 | 1;
  readonly card_age_days: number;
  /** Transactions on the same card in the preceding 24 hours. */
  readonly txn_count_24h: number;
  readonly is_fraud: 0 | 1;
}

/** The model's inputs, in order: what a client sends by name to the v1 endpoint. */
export const FRAUD_FEATURES = [
  "amount",
  "hour",
  "distance_from_home_km",
  "online",
  "card_age_days",
  "txn_count_24h",
  "night",
] as const;
export type FraudFeature = (typeof FRAUD_FEATURES)[number];

/** The columns of a generated CSV file, in order. */
export const FRAUD_COLUMNS = [
  "amount",
  "hour",
  "night",
  "merchant_category",
  "distance_from_home_km",
  "online",
  "card_age_days",
  "txn_count_24h",
  "is_fraud",
] as const;

export function fraudFeatureVector(t: FraudTransaction): number[] {
  return FRAUD_FEATURES.map((name) => t[name]);
}

/**
 * The true fraud model: logit P(fraud) = intercept + Σ coefficient · feature + category risk.
 * Linear in the model's features on purpose; the category term is the part a model that does
 * not see `merchant_category` cannot learn.
 */
export interface FraudPattern {
  readonly intercept: number;
  readonly coefficients: Readonly<Record<FraudFeature, number>>;
  readonly categoryRisk: Readonly<Partial<Record<MerchantCategory, number>>>;
}

/** How a week differs from the baseline world. Every field is optional; absent means baseline. */
export interface FraudShift {
  /** Short human description, printed by the example and used in test names. */
  readonly description: string;
  /** Multiplies every amount (inflation, a sale, a currency change). */
  readonly amountScale?: number;
  /** Replaces the baseline share of each merchant category (relative weights). */
  readonly categoryWeights?: Readonly<Partial<Record<MerchantCategory, number>>>;
  /** Multiplies the weight of hours 0-5. */
  readonly nightFactor?: number;
  /** Replaces the true fraud model. */
  readonly pattern?: FraudPattern;
}

interface CategoryProfile {
  readonly weight: number;
  /** Median amount; amounts are log-normal around it. */
  readonly medianAmount: number;
  readonly amountSigma: number;
  /** Probability that a transaction in this category is card-not-present. */
  readonly onlineShare: number;
  readonly medianDistanceKm: number;
}

const CATEGORY_PROFILES: Readonly<Record<MerchantCategory, CategoryProfile>> = {
  grocery: { weight: 0.28, medianAmount: 45, amountSigma: 0.6, onlineShare: 0.03, medianDistanceKm: 4 },
  restaurant: { weight: 0.2, medianAmount: 30, amountSigma: 0.5, onlineShare: 0.02, medianDistanceKm: 6 },
  fuel: { weight: 0.14, medianAmount: 40, amountSigma: 0.4, onlineShare: 0, medianDistanceKm: 8 },
  online: { weight: 0.18, medianAmount: 60, amountSigma: 0.9, onlineShare: 1, medianDistanceKm: 5 },
  travel: { weight: 0.05, medianAmount: 350, amountSigma: 0.8, onlineShare: 0.6, medianDistanceKm: 300 },
  electronics: { weight: 0.06, medianAmount: 250, amountSigma: 0.9, onlineShare: 0.5, medianDistanceKm: 10 },
  pharmacy: { weight: 0.09, medianAmount: 25, amountSigma: 0.6, onlineShare: 0.05, medianDistanceKm: 3 },
};

/** Relative weight of each hour 0-23: quiet nights, a lunch peak and an evening peak. */
const HOUR_WEIGHTS: readonly number[] = [
  1, 0.7, 0.5, 0.5, 0.6, 0.9, 1.5, 3, 4.5, 5, 5.5, 6.5, 8, 7, 6, 6, 6.5, 7.5, 8, 7.5, 6, 4.5, 3, 1.5,
];

const MAX_DISTANCE_KM = 20000;

/** Baseline fraud: large, night-time, far from home, online, new cards, busy cards. About 2%. */
export const BASELINE_FRAUD_PATTERN: FraudPattern = {
  intercept: -5.05,
  coefficients: {
    amount: 0.0025,
    hour: 0,
    distance_from_home_km: 0.002,
    online: 0.9,
    card_age_days: -0.0012,
    txn_count_24h: 0.25,
    night: 1.4,
  },
  categoryRisk: { electronics: 0.5, travel: 0.3 },
};

/** Card testing at fuel pumps: small amounts in bursts, in person, by day, on any card age. */
export const CARD_TESTING_FRAUD_PATTERN: FraudPattern = {
  intercept: -5.3,
  coefficients: {
    amount: -0.004,
    hour: 0,
    distance_from_home_km: 0.0005,
    online: -0.5,
    card_age_days: -0.0006,
    txn_count_24h: 0.6,
    night: 0.3,
  },
  categoryRisk: { fuel: 2 },
};

const WEEK_4_CATEGORY_WEIGHTS: Readonly<Partial<Record<MerchantCategory, number>>> = {
  grocery: 0.22,
  restaurant: 0.15,
  online: 0.3,
  electronics: 0.12,
};

/** The default week-by-week schedule; week n uses entry n - 1, later weeks the last entry. */
export const DEFAULT_FRAUD_SHIFTS: readonly FraudShift[] = [
  { description: "stable" },
  { description: "stable" },
  { description: "amounts inflate by 35%", amountScale: 1.35 },
  {
    description: "amounts inflated; more online and electronics; 3x night-time traffic",
    amountScale: 1.35,
    categoryWeights: WEEK_4_CATEGORY_WEIGHTS,
    nightFactor: 3,
  },
  {
    description: "as week 4, plus concept drift: fraud moves to card testing at fuel pumps",
    amountScale: 1.35,
    categoryWeights: WEEK_4_CATEGORY_WEIGHTS,
    nightFactor: 3,
    pattern: CARD_TESTING_FRAUD_PATTERN,
  },
  {
    description: "as week 5",
    amountScale: 1.35,
    categoryWeights: WEEK_4_CATEGORY_WEIGHTS,
    nightFactor: 3,
    pattern: CARD_TESTING_FRAUD_PATTERN,
  },
];

export function fraudShiftForWeek(
  week: number,
  schedule: readonly FraudShift[] = DEFAULT_FRAUD_SHIFTS,
): FraudShift {
  const last = schedule[schedule.length - 1];
  if (last === undefined) throw new RangeError("fraudShiftForWeek: the schedule is empty");
  return schedule[Math.min(week, schedule.length) - 1] ?? last;
}

/** The probability that a transaction is fraud under a pattern (the label is drawn from it). */
export function fraudProbability(
  t: Omit<FraudTransaction, "is_fraud">,
  pattern: FraudPattern = BASELINE_FRAUD_PATTERN,
): number {
  let logit = pattern.intercept + (pattern.categoryRisk[t.merchant_category] ?? 0);
  for (const name of FRAUD_FEATURES) logit += pattern.coefficients[name] * t[name];
  return 1 / (1 + Math.exp(-logit));
}

export interface FraudWeekOptions {
  readonly seed: number;
  /** 1-based; also picks the default shift and, with the seed, the random stream. */
  readonly week: number;
  readonly rows: number;
  /** Defaults to fraudShiftForWeek(week). */
  readonly shift?: FraudShift;
}

/**
 * One week of transactions. The same (seed, week) always gives the same rows, and fewer rows
 * are a prefix of more rows, so tests can use small samples of the very data the example uses.
 */
export function generateFraudWeek(options: FraudWeekOptions): FraudTransaction[] {
  const { seed, week, rows } = options;
  if (!Number.isInteger(week) || week < 1)
    throw new RangeError(`generateFraudWeek: week must be >= 1, got ${week}`);
  if (!Number.isInteger(rows) || rows < 0)
    throw new RangeError(`generateFraudWeek: rows must be >= 0, got ${rows}`);
  const shift = options.shift ?? fraudShiftForWeek(week);
  const random = createRandom(deriveSeed(seed, week));
  const categoryWeights = MERCHANT_CATEGORIES.map(
    (c) => shift.categoryWeights?.[c] ?? CATEGORY_PROFILES[c].weight,
  );
  const nightFactor = shift.nightFactor ?? 1;
  const hourWeights = HOUR_WEIGHTS.map((w, hour) => (hour < 6 ? w * nightFactor : w));
  const amountScale = shift.amountScale ?? 1;
  const pattern = shift.pattern ?? BASELINE_FRAUD_PATTERN;

  const out: FraudTransaction[] = [];
  for (let i = 0; i < rows; i++) {
    const features = drawFeatures(random, categoryWeights, hourWeights, amountScale);
    out.push({ ...features, is_fraud: random.bernoulli(fraudProbability(features, pattern)) });
  }
  return out;
}

function drawFeatures(
  random: Random,
  categoryWeights: readonly number[],
  hourWeights: readonly number[],
  amountScale: number,
): Omit<FraudTransaction, "is_fraud"> {
  const category = MERCHANT_CATEGORIES[random.categorical(categoryWeights)] ?? "grocery";
  const profile = CATEGORY_PROFILES[category];
  const hour = random.categorical(hourWeights);
  const amount = random.logNormal(Math.log(profile.medianAmount * amountScale), profile.amountSigma);
  const distance = Math.min(MAX_DISTANCE_KM, random.logNormal(Math.log(profile.medianDistanceKm), 1));
  return {
    amount: Math.max(0.01, Math.round(amount * 100) / 100),
    hour,
    night: hour < 6 ? 1 : 0,
    merchant_category: category,
    distance_from_home_km: Math.round(distance * 10) / 10,
    online: random.bernoulli(profile.onlineShare),
    // Card ages spread from days to years; new cards are rarer than old ones.
    card_age_days: 1 + Math.floor(random.logNormal(Math.log(600), 0.9)),
    txn_count_24h: random.poisson(2.5),
  };
}
