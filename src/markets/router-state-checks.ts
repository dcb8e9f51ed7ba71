/**
 * Why a router's saved state (weights, evaluation, live filter) read back from the store cannot
 * be trusted, or undefined. The store is shared by every replica and outlives versions: a row
 * written by another version, edited by hand or cut short must be reset and said, not obeyed
 * (a weight row of the wrong length mixes the wrong specialists) nor thrown on at every load.
 */
import { isPlainObject, shown } from "../domain/json-value.js";
import type { ScoreboardState } from "./regime-scoreboard.js";

/** weights[regime][specialist]: finite, not negative, each row with some weight. */
export function weightsProblem(raw: unknown, regimes: number, specialists: number): string | undefined {
  if (!Array.isArray(raw) || raw.length !== regimes)
    return `weights must hold a row per regime (${regimes}), got ${shown(raw)}`;
  for (const [g, row] of raw.entries()) {
    if (!Array.isArray(row) || row.length !== specialists)
      return `weights[${g}] must hold a weight per specialist (${specialists}), got ${shown(row)}`;
    if (!row.every((w) => typeof w === "number" && Number.isFinite(w) && w >= 0))
      return `weights[${g}] must be finite weights not below 0, got ${shown(row)}`;
    if (!(row.reduce((a: number, w: number) => a + w, 0) > 0)) return `weights[${g}] weighs nothing`;
  }
  return undefined;
}

/** The evaluation's shape is the fresh board's: the same models and regimes, arrays as long. */
export function evaluationProblem(raw: unknown, fresh: ScoreboardState): string | undefined {
  if (!isPlainObject(raw)) return `evaluation must be a mapping, got ${shown(raw)}`;
  const same = (a: unknown, b: readonly string[]) =>
    Array.isArray(a) && a.length === b.length && a.every((x, i) => x === b[i]);
  if (!same(raw.models, fresh.models))
    return `evaluation.models must be ${shown(fresh.models)}, got ${shown(raw.models)}`;
  if (!same(raw.regimes, fresh.regimes))
    return `evaluation.regimes must be ${shown(fresh.regimes)}, got ${shown(raw.regimes)}`;
  if (!(typeof raw.capacity === "number" && Number.isInteger(raw.capacity) && raw.capacity > 0))
    return `evaluation.capacity must be a positive whole number, got ${shown(raw.capacity)}`;
  for (const field of ["rounds", "zeroRealized"] as const) {
    const n = raw[field];
    if (!(typeof n === "number" && Number.isInteger(n) && n >= 0))
      return `evaluation.${field} must be a whole number, got ${shown(n)}`;
  }
  const slots = fresh.regimes.length + 1;
  const models = fresh.models.length;
  const numbers = (a: unknown) =>
    Array.isArray(a) && a.length === models && a.every((x) => typeof x === "number");
  if (!Array.isArray(raw.totals) || raw.totals.length !== slots)
    return `evaluation.totals must hold ${slots} entries, got ${shown(raw.totals)}`;
  for (const [i, t] of raw.totals.entries()) {
    if (!isPlainObject(t) || !["n", "qlikeN", "qlikeSum", "mseSum"].every((k) => numbers(t[k])))
      return `evaluation.totals[${i}] must hold n, qlikeN, qlikeSum and mseSum per model, got ${shown(t)}`;
  }
  if (!Array.isArray(raw.recent) || raw.recent.length !== slots)
    return `evaluation.recent must hold ${slots} entries, got ${shown(raw.recent)}`;
  for (const [i, r] of raw.recent.entries()) {
    // A loss that was NaN (a model without a forecast) is saved as null.
    const rounds = (a: unknown) =>
      Array.isArray(a) &&
      a.length <= (raw.capacity as number) &&
      a.every(
        (row) =>
          Array.isArray(row) &&
          row.length === models &&
          row.every((x) => x === null || typeof x === "number"),
      );
    if (
      !isPlainObject(r) ||
      !rounds(r.qlike) ||
      !rounds(r.mse) ||
      !(typeof r.next === "number" && Number.isInteger(r.next) && r.next >= 0)
    )
      return `evaluation.recent[${i}] must hold qlike and mse rounds of a loss per model and next, got ${shown(r)}`;
  }
  return undefined;
}

/** The live filter: absent (null), or a state with the time of the last bar it read. */
export function liveProblem(raw: unknown): string | undefined {
  if (raw === null || raw === undefined) return undefined;
  if (!isPlainObject(raw)) return `live must be a mapping or null, got ${shown(raw)}`;
  if (!(typeof raw.lastBar === "number" && Number.isFinite(raw.lastBar)))
    return `live.lastBar must be a bar's time, got ${shown(raw.lastBar)}`;
  if (!isPlainObject(raw.state)) return `live.state must be the classifier's state, got ${shown(raw.state)}`;
  return undefined;
}
