/**
 * Windows over a stream of rows, for any mergeable sketch (a WindowSketch of features, a
 * performance accumulator, …). A window is made of panes: a tumbling window is one pane, a
 * sliding window of `size / step` panes, merged when the window closes. Memory is one sketch per
 * pane, whatever the traffic.
 *
 * Time comes from the caller (`at`, epoch ms) so a test replays a volatile week in
 * milliseconds. Time windows are aligned to the epoch: a 1 h window closes on the hour.
 */
import { invalid } from "../domain/errors.js";

export type WindowSpec =
  | { readonly kind: "tumbling"; readonly by: "count"; readonly size: number }
  | { readonly kind: "tumbling"; readonly by: "time"; readonly durationMs: number }
  | { readonly kind: "sliding"; readonly by: "count"; readonly size: number; readonly step: number }
  | { readonly kind: "sliding"; readonly by: "time"; readonly durationMs: number; readonly stepMs: number };

export interface SketchOps<S> {
  create(): S;
  /** Adds `from` into `into` (mutating `into` only). */
  mergeInto(into: S, from: S): void;
}

export interface ClosedWindow<S> {
  /** For time windows, epoch ms [start, end); for count windows, row ordinals [start, end). */
  readonly start: number;
  readonly end: number;
  readonly rows: number;
  readonly sketch: S;
  /**
   * Epoch ms of the first and last row in the window (by either kind), so a count window can be
   * told in time: its start and end are row ordinals, not dates. Absent for a window restored
   * from a checkpoint saved before these were kept.
   */
  readonly firstAt?: number;
  readonly lastAt?: number;
}

/** A pane as saved; firstAt and lastAt are absent in checkpoints from before they were kept. */
interface SavedPane<J> {
  readonly start: number;
  readonly rows: number;
  readonly sketch: J;
  readonly firstAt?: number;
  readonly lastAt?: number;
}

export interface WindowerCheckpoint<J> {
  readonly spec: WindowSpec;
  readonly rowsSeen: number;
  readonly previous: ReadonlyArray<SavedPane<J>>;
  readonly open: SavedPane<J> | null;
}

interface Pane<S> {
  readonly start: number;
  rows: number;
  readonly sketch: S;
  firstAt?: number;
  lastAt?: number;
}

/** Validates a spec and returns pane length and panes per window. */
export function windowShape(spec: WindowSpec): { pane: number; panes: number } {
  const positive = (value: number, field: string): number => {
    if (!Number.isSafeInteger(value) || value < 1)
      throw invalid(`window.${field} must be a positive integer, got ${value}`);
    return value;
  };
  if (spec.kind === "tumbling") {
    return {
      pane: positive(
        spec.by === "count" ? spec.size : spec.durationMs,
        spec.by === "count" ? "size" : "durationMs",
      ),
      panes: 1,
    };
  }
  const length = spec.by === "count" ? positive(spec.size, "size") : positive(spec.durationMs, "durationMs");
  const step = spec.by === "count" ? positive(spec.step, "step") : positive(spec.stepMs, "stepMs");
  if (length % step !== 0) {
    throw invalid(
      `window: the ${spec.by === "count" ? "size" : "duration"} (${length}) must be a multiple of the step (${step})`,
    );
  }
  return { pane: step, panes: length / step };
}

export class Windower<S> {
  private readonly pane: number;
  private readonly panes: number;
  private readonly byTime: boolean;
  /** Up to `panes - 1` closed panes, oldest first, that the next window still covers. */
  private previous: Pane<S>[] = [];
  private open: Pane<S> | undefined;
  private rowsSeen = 0;
  private readonly ready: ClosedWindow<S>[] = [];

  constructor(
    readonly spec: WindowSpec,
    private readonly ops: SketchOps<S>,
  ) {
    const shape = windowShape(spec);
    this.pane = shape.pane;
    this.panes = shape.panes;
    this.byTime = spec.by === "time";
  }

  /**
   * Adds one row at time `at`: `update` receives the sketch of the pane the row belongs in.
   * Windows that the row's arrival ends (by time, or by count once it fills its pane) close.
   */
  add(at: number, update: (sketch: S) => void): void {
    if (this.byTime) this.advanceTo(at);
    this.open ??= this.newPane(this.byTime ? Math.floor(at / this.pane) * this.pane : this.rowsSeen);
    update(this.open.sketch);
    this.open.rows++;
    // Rows may arrive slightly out of order (concurrent requests): keep the span they cover.
    this.open.firstAt = Math.min(this.open.firstAt ?? at, at);
    this.open.lastAt = Math.max(this.open.lastAt ?? at, at);
    this.rowsSeen++;
    if (!this.byTime && this.open.rows === this.pane) this.closePane();
  }

  /** Closes time windows that ended by `now` even when no row arrives (called from a timer). */
  tick(now: number): void {
    if (this.byTime) this.advanceTo(now);
  }

  /** Whether windows have closed since the last drain (cheap: no allocation). */
  pending(): boolean {
    return this.ready.length > 0;
  }

  /** Windows closed since the last call, oldest first. */
  drain(): ClosedWindow<S>[] {
    return this.ready.splice(0, this.ready.length);
  }

  /** The window as it stands now, open pane included (for "so far" views); null before any row. */
  current(): ClosedWindow<S> | null {
    const panes = this.open === undefined ? this.previous : [...this.previous, this.open];
    return panes.length === 0 ? null : this.merged(panes);
  }

  /** The open window's panes, for a checkpoint that a restart resumes from. */
  checkpoint<J>(toJSON: (sketch: S) => J): WindowerCheckpoint<J> {
    const pane = (p: Pane<S>): SavedPane<J> => ({
      start: p.start,
      rows: p.rows,
      sketch: toJSON(p.sketch),
      ...(p.firstAt === undefined ? {} : { firstAt: p.firstAt }),
      ...(p.lastAt === undefined ? {} : { lastAt: p.lastAt }),
    });
    return {
      spec: this.spec,
      rowsSeen: this.rowsSeen,
      previous: this.previous.map(pane),
      open: this.open === undefined ? null : pane(this.open),
    };
  }

  /** Resumes from a checkpoint taken with the same spec (another spec starts empty). */
  restore<J>(checkpoint: WindowerCheckpoint<J>, fromJSON: (json: J) => S): boolean {
    if (JSON.stringify(checkpoint.spec) !== JSON.stringify(this.spec)) return false;
    const pane = (p: SavedPane<J>): Pane<S> => ({
      start: p.start,
      rows: p.rows,
      sketch: fromJSON(p.sketch),
      ...(typeof p.firstAt === "number" ? { firstAt: p.firstAt } : {}),
      ...(typeof p.lastAt === "number" ? { lastAt: p.lastAt } : {}),
    });
    this.rowsSeen = checkpoint.rowsSeen;
    this.previous = checkpoint.previous.map(pane);
    this.open = checkpoint.open === null ? undefined : pane(checkpoint.open);
    return true;
  }

  private advanceTo(at: number): void {
    const open = this.open;
    if (open === undefined) return;
    const paneStart = Math.floor(at / this.pane) * this.pane;
    if (paneStart <= open.start) return;
    this.closePane();
    // A sliding window goes on sliding over a gap in traffic: each step it moves over empty time
    // ends a window holding what is left of the older panes. After a whole window's worth of
    // empty panes nothing is left, so the gap is cut there.
    const gap = Math.min((paneStart - open.start) / this.pane - 1, this.panes - 1);
    for (let i = 1; i <= gap; i++) {
      this.open = this.newPane(open.start + i * this.pane);
      this.closePane();
    }
  }

  private newPane(start: number): Pane<S> {
    return { start, rows: 0, sketch: this.ops.create() };
  }

  /** The open pane is over (time) or full (count): emit the window ending with it. */
  private closePane(): void {
    const open = this.open as Pane<S>;
    const panes = [...this.previous, open];
    const window = this.merged(panes);
    if (window.rows > 0) this.ready.push(window);
    this.previous = this.panes === 1 ? [] : panes.slice(-(this.panes - 1));
    this.open = undefined;
  }

  private merged(panes: Pane<S>[]): ClosedWindow<S> {
    const last = panes[panes.length - 1] as Pane<S>;
    const end = last.start + this.pane;
    const times = spanOf(panes);
    if (panes.length === 1 && this.panes === 1) {
      return { start: last.start, end, rows: last.rows, sketch: last.sketch, ...times };
    }
    const sketch = this.ops.create();
    let rows = 0;
    for (const p of panes) {
      this.ops.mergeInto(sketch, p.sketch);
      rows += p.rows;
    }
    // A sliding window always spans its full length, even at the start of the stream.
    return { start: end - this.pane * this.panes, end, rows, sketch, ...times };
  }
}

/** The earliest and latest row times of some panes (absent when none is known). */
function spanOf<S>(panes: readonly Pane<S>[]): { firstAt?: number; lastAt?: number } {
  let firstAt = Infinity;
  let lastAt = -Infinity;
  for (const p of panes) {
    if (p.firstAt !== undefined) firstAt = Math.min(firstAt, p.firstAt);
    if (p.lastAt !== undefined) lastAt = Math.max(lastAt, p.lastAt);
  }
  return firstAt === Infinity ? {} : { firstAt, lastAt };
}
