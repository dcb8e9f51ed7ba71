/**
 * Category counts in bounded memory. Exact while a column has at most `maxTracked` distinct
 * values. Past that, it becomes a Misra–Gries summary (Misra and Gries 1982, with the batched
 * decrement of Anderson et al. 2017): when the map overflows, every counter drops by the median
 * count and those reaching zero are forgotten. Each kept count is then low by at most `error`
 * (the sum of the decrements, ≤ 2n / maxTracked), and a category whose true count exceeds
 * `error` is never lost, so the frequent categories a profile keeps are still the frequent ones.
 */
import { OTHER_CATEGORY, type CategoryCount } from "./reference-profile.js";

export interface TopCategories {
  readonly categories: CategoryCount[];
  /** Values not in `categories`: total minus the kept counts. */
  readonly other: number;
  /** 0 when the counts are exact; otherwise the most any kept count may be low by. */
  readonly error: number;
}

export class CategoryFrequencies {
  private readonly counts = new Map<string, number>();
  private total = 0;
  private error = 0;

  constructor(private readonly maxTracked: number) {}

  add(value: string): void {
    this.total++;
    const current = this.counts.get(value);
    if (current !== undefined) {
      this.counts.set(value, current + 1);
      return;
    }
    this.counts.set(value, 1);
    if (this.counts.size > this.maxTracked) this.forgetRare();
  }

  /** The `limit` most frequent categories (ties broken by value, for a stable order). */
  top(limit: number): TopCategories {
    const categories = [...this.counts]
      .filter(([value]) => value !== OTHER_CATEGORY)
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .slice(0, limit)
      .map(([value, count]) => ({ value, count }));
    let kept = 0;
    for (const c of categories) kept += c.count;
    return { categories, other: this.total - kept, error: this.error };
  }

  private forgetRare(): void {
    const sorted = [...this.counts.values()].sort((a, b) => a - b);
    const cut = sorted[sorted.length >>> 1] ?? 1;
    for (const [value, count] of this.counts) {
      if (count <= cut) this.counts.delete(value);
      else this.counts.set(value, count - cut);
    }
    this.error += cut;
  }
}
