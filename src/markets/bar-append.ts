/**
 * What appending a batch of bars to an instrument does, decided without touching the store: which
 * bars are new, which repeat a stored one (a no-op: a client re-posting a batch changes
 * nothing), which conflict with one (refused), which came late, and the indicators after every
 * new bar.
 *
 * Late bars, bounded: the store keeps the indicator state after the newest bar and a
 * checkpoint `reorderTolerance` bars behind it. A batch is always replayed from the checkpoint
 * over the stored bars after it (at most the tolerance) merged with the new ones, so a late bar
 * lands in its place and the bars after it get their indicators recomputed; the work per batch
 * is O(tolerance + batch), never the history. A bar older than the checkpoint, or with more than
 * `reorderTolerance` stored bars after it, is refused. The checkpoint then moves up to stay
 * `reorderTolerance` bars behind the newest.
 */
import { conflict, invalid } from "../domain/errors.js";
import { IndicatorSet, type IndicatorState } from "./indicators.js";
import { sameBar, type MarketBar, type ReceivedBar } from "./bar-input.js";
import { snapshotOf, type IndicatorSnapshot, type InstrumentConfig } from "./instrument.js";

export interface AppendInput {
  readonly config: InstrumentConfig;
  /** The indicator state `reorderTolerance` bars (or fewer) behind the newest stored bar. */
  readonly checkpoint: IndicatorState;
  /** Time of the newest stored bar; null when none is stored. */
  readonly lastTime: number | null;
  /** Stored bars after the checkpoint, in time order. */
  readonly tail: readonly MarketBar[];
  /** Stored bars at the times of the batch's bars that are not after `lastTime`. */
  readonly existing: ReadonlyMap<number, MarketBar>;
  readonly received: readonly ReceivedBar[];
}

export interface PlannedBar {
  readonly bar: MarketBar;
  readonly indicators: IndicatorSnapshot;
  /** It arrived after a bar with a later time (in the batch or already stored). */
  readonly reordered: boolean;
  /** It landed before stored bars, whose indicators were recomputed. */
  readonly late: boolean;
}

export interface AppendPlan {
  /** The new bars in time order. */
  readonly inserted: readonly PlannedBar[];
  /** Stored bars after a late one, with their recomputed indicators. */
  readonly recomputed: ReadonlyArray<{ readonly bar: MarketBar; readonly indicators: IndicatorSnapshot }>;
  readonly duplicates: number;
  readonly reordered: number;
  /** After the newest bar, and the new checkpoint; undefined when nothing was new. */
  readonly state: IndicatorState | undefined;
  readonly checkpoint: IndicatorState | undefined;
  /** The newest bar and its indicators after the batch, when it changed. */
  readonly newest: { readonly bar: MarketBar; readonly indicators: IndicatorSnapshot } | undefined;
}

export function planAppend(input: AppendInput): AppendPlan {
  const { config } = input;
  const fresh = newBars(input);
  if (fresh.bars.length === 0)
    return {
      inserted: [],
      recomputed: [],
      duplicates: fresh.duplicates,
      reordered: 0,
      state: undefined,
      checkpoint: undefined,
      newest: undefined,
    };

  const checkpointTime = input.checkpoint.lastTime;
  const earliest = (fresh.bars[0] as ReceivedBar).bar.time;
  const late = input.lastTime !== null && earliest < input.lastTime;
  if (late) {
    for (const { bar, row } of fresh.bars) {
      if (bar.time >= (input.lastTime as number)) break;
      const after = input.tail.filter((b) => b.time > bar.time).length;
      if ((checkpointTime !== null && bar.time <= checkpointTime) || after > config.reorderTolerance)
        throw invalid(
          `bars[${row}] at ${bar.time} is older than the instrument's newest bar (${input.lastTime}) by more ` +
            `than ${config.reorderTolerance} bar(s) (reorderTolerance); late bars are taken only within it`,
          { row, field: `bars[${row}].time`, reason: "too_late" },
        );
    }
  }

  // Everything after the checkpoint, in time order: the stored tail with the new bars merged in.
  const isNew = new Set(fresh.bars.map((r) => r.bar.time));
  const sequence = [...input.tail, ...fresh.bars.map((r) => r.bar)].sort((a, b) => a.time - b.time);
  const set = IndicatorSet.restore(input.checkpoint);
  const keepBehind = sequence.length - config.reorderTolerance;
  let checkpoint = keepBehind <= 0 ? input.checkpoint : undefined;
  const reorderedTimes = fresh.reordered;
  const inserted: PlannedBar[] = [];
  const recomputed: Array<{ bar: MarketBar; indicators: IndicatorSnapshot }> = [];
  let newest: { bar: MarketBar; indicators: IndicatorSnapshot } | undefined;
  sequence.forEach((bar, i) => {
    const indicators = snapshotOf(set.update(bar), config.windows);
    if (isNew.has(bar.time))
      inserted.push({
        bar,
        indicators,
        reordered: reorderedTimes.has(bar.time),
        late: input.lastTime !== null && bar.time < input.lastTime,
      });
    else if (bar.time > earliest) recomputed.push({ bar, indicators });
    if (i + 1 === keepBehind) checkpoint = set.state();
    newest = { bar, indicators };
  });
  return {
    inserted,
    recomputed,
    duplicates: fresh.duplicates,
    reordered: reorderedTimes.size,
    state: set.state(),
    checkpoint,
    newest,
  };
}

/**
 * The batch's bars that are not stored yet, in time order; repeats of a stored bar or of one
 * earlier in the batch counted, conflicting ones refused; and the times of those that arrived
 * after a later bar.
 */
function newBars(input: AppendInput): { bars: ReceivedBar[]; duplicates: number; reordered: Set<number> } {
  let duplicates = 0;
  const byTime = new Map<number, ReceivedBar>();
  const reordered = new Set<number>();
  let latest = input.lastTime ?? Number.NEGATIVE_INFINITY;
  for (const received of input.received) {
    const { bar, row } = received;
    const stored = input.existing.get(bar.time);
    if (stored !== undefined) {
      if (!sameBar(stored, bar))
        throw conflict(
          `bars[${row}] at ${bar.time} differs from the bar stored at that time (close ${stored.close}); ` +
            `a stored bar is never rewritten`,
          { row, field: `bars[${row}]` },
        );
      duplicates++;
      continue;
    }
    const earlier = byTime.get(bar.time);
    if (earlier !== undefined) {
      if (!sameBar(earlier.bar, bar))
        throw invalid(`bars[${row}] and bars[${earlier.row}] are both at ${bar.time} with different values`, {
          row,
          field: `bars[${row}].time`,
        });
      duplicates++;
      continue;
    }
    byTime.set(bar.time, received);
    if (bar.time < latest) reordered.add(bar.time);
    latest = Math.max(latest, bar.time);
  }
  const bars = [...byTime.values()].sort((a, b) => a.bar.time - b.bar.time);
  return { bars, duplicates, reordered };
}
