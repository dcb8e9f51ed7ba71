/**
 * A seeded recommender world for the rollout story: users with tastes over item categories,
 * items with a category and a popularity, and a holiday after which tastes shift toward gifts.
 * A request asks the model to score a handful of candidate items for one user; the top-scored
 * item is shown; the user clicks it with a probability set by the world, not by the model. So a
 * model that ranks what users like higher earns more clicks, and one that does not earns fewer.
 */
import { createRandom, deriveSeed, type Random } from "./random.js";

export const CATEGORIES = ["books", "electronics", "fashion", "home", "gifts"] as const;
const GIFTS = CATEGORIES.indexOf("gifts");

/** The features a recommender model scores a (user, item) pair on. */
export const RECSYS_FEATURES = ["affinity", "popularity", "gift_season"] as const;

export interface Item {
  readonly id: number;
  readonly category: number;
  /** In [0, 1]: how often it is clicked whoever sees it. */
  readonly popularity: number;
}

export interface User {
  readonly id: string;
  /** Taste per category, in [0, 1]. */
  readonly taste: readonly number[];
}

export interface Candidate {
  readonly item: Item;
  /** The model's inputs for this user and item. */
  readonly features: Record<(typeof RECSYS_FEATURES)[number], number>;
}

export interface World {
  readonly users: readonly User[];
  readonly items: readonly Item[];
  /** Candidates for one impression of a random user. */
  impression(rng: Random, holiday: boolean): { user: User; candidates: Candidate[] };
  /** The true click probability of showing `item` to `user`. */
  clickProbability(user: User, item: Item, holiday: boolean): number;
}

export interface WorldOptions {
  /**
   * After the holiday, how much of their usual taste users have left for categories other than
   * gifts (0 keeps it whole, 0.5 halves it): the shift that makes a taste-only ranker's
   * click-through drop (the retraining loop's story). Default 0.
   */
  readonly holidayFatigue?: number;
}

export function createWorld(seed: number, users = 2000, items = 500, options: WorldOptions = {}): World {
  const fatigue = options.holidayFatigue ?? 0;
  const rng = createRandom(deriveSeed(seed, 1));
  const allUsers: User[] = Array.from({ length: users }, (_, i) => ({
    id: `user-${i}`,
    taste: CATEGORIES.map(() => rng.uniform() ** 2),
  }));
  const allItems: Item[] = Array.from({ length: items }, (_, id) => ({
    id,
    category: rng.int(0, CATEGORIES.length - 1),
    popularity: rng.uniform(),
  }));
  const affinity = (user: User, item: Item, holiday: boolean): number => {
    // After the holiday everyone likes gifts a good deal more than their usual taste says.
    const base = user.taste[item.category] ?? 0;
    if (!holiday) return base;
    return item.category === GIFTS ? Math.min(1, base + 0.6) : base * (1 - fatigue);
  };
  const clickProbability = (user: User, item: Item, holiday: boolean): number =>
    0.02 + 0.16 * affinity(user, item, holiday) + 0.04 * item.popularity;
  return {
    users: allUsers,
    items: allItems,
    clickProbability,
    impression(r, holiday) {
      const user = allUsers[r.int(0, allUsers.length - 1)] as User;
      const candidates = Array.from({ length: 5 }, () => {
        const item = allItems[r.int(0, allItems.length - 1)] as Item;
        return {
          item,
          features: {
            // What the model can know: the user's usual taste (not the holiday shift), popularity.
            affinity: user.taste[item.category] ?? 0,
            popularity: item.popularity,
            gift_season: holiday && item.category === GIFTS ? 1 : 0,
          },
        };
      });
      return { user, candidates };
    },
  };
}

/** The shown item: the highest score; ties to the first. */
export function shownIndex(scores: readonly number[]): number {
  let best = 0;
  scores.forEach((s, i) => {
    if (s > (scores[best] ?? -Infinity)) best = i;
  });
  return best;
}

/**
 * Three builtin logistic models over RECSYS_FEATURES: `stable` ranks by usual taste and
 * popularity; `holiday` also knows that gifts sell in the gift season (more clicks after the
 * holiday); `broken` ranks against taste (fewer clicks).
 */
export function recsysModel(kind: "stable" | "holiday" | "broken"): Record<string, unknown> {
  const weights = { stable: [3, 1, 0], holiday: [3, 1, 2.5], broken: [-3, 1, 0] }[kind];
  return {
    format: "ballast.builtin/v1",
    kind: "logistic_regression",
    features: [...RECSYS_FEATURES],
    weights,
    intercept: -2,
  };
}
