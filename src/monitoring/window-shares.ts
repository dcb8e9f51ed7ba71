/**
 * Monitor windows shared between replicas (pure). With several replicas on one database each
 * sees only its share of a deployment's traffic, so each keeps its own open windows and saves
 * them as its *share* (one row per monitor, variant and replica: the open panes, plus the
 * windows it closed lately and has not evaluated itself). One replica, the holder of the
 * monitors lease, evaluates a time window once: it merges every replica's part of that window
 * (window sketches merge by adding bin counts and merging KLL sketches, so the merge is the
 * window one process would have seen, within the KLL error) and judges drift on the whole.
 *
 * Which part of a window a share holds: the window it closed with that start and end when it
 * has one; otherwise (a replica that died, or has not written since the window ended) its
 * saved panes that fall inside the window, as they were last saved.
 *
 * When to evaluate: a window is due once it has ended and every live replica's share was saved
 * after its end (it has closed the window and written what it closed), or `maxWaitMs` after its
 * end, whichever comes first; a dead replica is not waited for. Time windows only: count
 * windows are ordinals of one replica's own stream, so they have no common boundary to merge
 * on and stay judged where they close.
 */
import type { ClosedWindow, SketchOps, WindowerCheckpoint, WindowSpec } from "./windows.js";
import { windowShape } from "./windows.js";

/** A window a replica closed and left for the evaluator (a segment's when `segment` is set). */
export interface ClosedShare<J> {
  readonly start: number;
  readonly end: number;
  readonly rows: number;
  readonly sketch: J;
  readonly firstAt?: number;
  readonly lastAt?: number;
  /** The segment's value; absent for the variant's overall window. */
  readonly segment?: string;
}

/** One replica's share of a (monitor, variant), as saved. */
export interface WindowShare<J> {
  readonly replica: string;
  readonly variant: string;
  readonly model: string;
  readonly version: number;
  /** When the replica saved it, by its own clock. */
  readonly takenAt: number;
  readonly state: WindowerCheckpoint<J>;
  readonly segments?: {
    readonly feature: string;
    readonly windows: ReadonlyArray<{ readonly value: string; readonly state: WindowerCheckpoint<J> }>;
  };
  readonly closed: ReadonlyArray<ClosedShare<J>>;
}

/** A window by its bounds (epoch ms, [start, end)). */
export interface WindowBounds {
  readonly start: number;
  readonly end: number;
}

/** One share's part of a window: rows, their sketch as saved, and the span of their times. */
export interface SharePart<J> {
  readonly replica: string;
  readonly rows: number;
  readonly sketch: J;
  readonly firstAt?: number;
  readonly lastAt?: number;
}

/** The bounds of the time window ending at `end`; null for count windows. */
export function windowEndingAt(spec: WindowSpec, end: number): WindowBounds | null {
  if (spec.by !== "time") return null;
  return { start: end - spec.durationMs, end };
}

/**
 * The ends of the windows the shares hold data for that have ended by `now` and were not
 * evaluated yet (end > `done`), ascending. A closed share names its window; a saved pane
 * belongs to every window that covers it (one for tumbling, `size / step` for sliding).
 */
export function pendingWindowEnds(
  spec: WindowSpec,
  shares: ReadonlyArray<WindowShare<unknown>>,
  done: number,
  now: number,
): number[] {
  if (spec.by !== "time") return [];
  const { pane, panes } = windowShape(spec);
  const ends = new Set<number>();
  const fromPanes = (state: WindowerCheckpoint<unknown>) => {
    for (const p of [...state.previous, ...(state.open === null ? [] : [state.open])]) {
      if (p.rows === 0) continue;
      for (let k = 1; k <= panes; k++) ends.add(p.start + k * pane);
    }
  };
  // A closed window of another spec (the monitor was changed) has other bounds: not one of these.
  const length = pane * panes;
  const ours = (c: ClosedShare<unknown>) => c.end - c.start === length && c.end % pane === 0;
  for (const share of shares) {
    for (const c of share.closed) if (c.rows > 0 && ours(c)) ends.add(c.end);
    if (sameSpec(share.state.spec, spec)) fromPanes(share.state);
  }
  return [...ends].filter((end) => end > done && end <= now).sort((a, b) => a - b);
}

/**
 * The share's part of a window (its overall window, or the segment `value`'s): the closed
 * window with those bounds, else its saved panes inside them, else nothing. A share saved
 * under another window spec holds nothing of this one.
 */
export function partOf<J>(
  share: WindowShare<J>,
  spec: WindowSpec,
  window: WindowBounds,
  segment?: string,
): SharePart<J>[] {
  const closed = share.closed.find(
    (c) => c.start === window.start && c.end === window.end && c.segment === segment,
  );
  if (closed !== undefined) return closed.rows > 0 ? [{ replica: share.replica, ...spanOf(closed) }] : [];
  const state =
    segment === undefined ? share.state : share.segments?.windows.find((w) => w.value === segment)?.state;
  if (state === undefined || !sameSpec(state.spec, spec)) return [];
  return [...state.previous, ...(state.open === null ? [] : [state.open])]
    .filter((p) => p.rows > 0 && p.start >= window.start && p.start < window.end)
    .map((p) => ({ replica: share.replica, ...spanOf(p) }));
}

/** The segment values any share holds data for, in the order first met. */
export function segmentValues(shares: ReadonlyArray<WindowShare<unknown>>): string[] {
  const values = new Set<string>();
  for (const share of shares) {
    for (const w of share.segments?.windows ?? []) values.add(w.value);
    for (const c of share.closed) if (c.segment !== undefined) values.add(c.segment);
  }
  return [...values];
}

export type Readiness =
  | {
      readonly ready: true;
      /** Live replicas merged as last saved (waited maxWaitMs for them). */ readonly late: string[];
    }
  | {
      readonly ready: false;
      /** Live replicas whose share of the window is not saved yet. */ readonly waitingFor: string[];
    };

/**
 * Whether the window ending at `end` can be evaluated now: every live replica with a share
 * saved it after the end, or `maxWaitMs` has passed since the end. A dead replica (no
 * heartbeat) is never waited for: its share is merged as it was last saved.
 */
export function readiness(
  shares: ReadonlyArray<Pick<WindowShare<unknown>, "replica" | "takenAt">>,
  end: number,
  alive: (replica: string) => boolean,
  now: number,
  maxWaitMs: number,
): Readiness {
  const behind = [
    ...new Set(shares.filter((s) => alive(s.replica) && s.takenAt < end).map((s) => s.replica)),
  ].sort();
  if (behind.length === 0) return { ready: true, late: [] };
  return now >= end + maxWaitMs ? { ready: true, late: behind } : { ready: false, waitingFor: behind };
}

/**
 * Merges the parts into one window with these bounds (rows summed, sketches merged, times
 * spanned); null when they hold no rows, as a window with no rows is never evaluated. A part
 * whose sketch `fromJSON` cannot read (null: saved against another reference) is left out.
 */
export function mergeParts<J, S>(
  window: WindowBounds,
  parts: ReadonlyArray<SharePart<J>>,
  ops: SketchOps<S>,
  fromJSON: (json: J) => S | null,
): ClosedWindow<S> | null {
  let rows = 0;
  let firstAt = Infinity;
  let lastAt = -Infinity;
  const sketch = ops.create();
  for (const part of parts) {
    if (part.rows === 0) continue;
    const from = fromJSON(part.sketch);
    if (from === null) continue;
    ops.mergeInto(sketch, from);
    rows += part.rows;
    if (part.firstAt !== undefined) firstAt = Math.min(firstAt, part.firstAt);
    if (part.lastAt !== undefined) lastAt = Math.max(lastAt, part.lastAt);
  }
  if (rows === 0) return null;
  return {
    start: window.start,
    end: window.end,
    rows,
    sketch,
    ...(firstAt === Infinity ? {} : { firstAt, lastAt }),
  };
}

/**
 * Shares nobody needs any more: those of dead replicas whose every window has been evaluated
 * (ends at or before `done`), so the rows of replicas that stopped do not pile up.
 */
export function spentShares<J>(
  spec: WindowSpec,
  shares: ReadonlyArray<WindowShare<J>>,
  done: number,
  alive: (replica: string) => boolean,
): WindowShare<J>[] {
  return shares.filter(
    (s) => !alive(s.replica) && pendingWindowEnds(spec, [s], done, Number.POSITIVE_INFINITY).length === 0,
  );
}

/**
 * Closed windows a replica keeps for the evaluator: those that ended within `retentionMs`, of
 * the newest `limit` window ends (a window's segments go with it). Memory stays bounded however
 * long the evaluator is away; a window it never read is not evaluated (it was gone too long).
 */
export function retainedClosed<T extends { readonly end: number }>(
  closed: readonly T[],
  now: number,
  retentionMs: number,
  limit: number,
): T[] {
  const ends = [...new Set(closed.map((c) => c.end))].sort((a, b) => b - a).slice(0, limit);
  const oldest = ends.length === 0 ? Infinity : (ends[ends.length - 1] as number);
  return closed.filter((c) => c.end >= oldest && c.end > now - retentionMs);
}

function spanOf<J>(p: {
  readonly rows: number;
  readonly sketch: J;
  readonly firstAt?: number;
  readonly lastAt?: number;
}): Omit<SharePart<J>, "replica"> {
  return {
    rows: p.rows,
    sketch: p.sketch,
    ...(p.firstAt === undefined ? {} : { firstAt: p.firstAt }),
    ...(p.lastAt === undefined ? {} : { lastAt: p.lastAt }),
  };
}

function sameSpec(a: WindowSpec, b: WindowSpec): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
