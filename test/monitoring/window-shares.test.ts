/**
 * Shares of monitor windows across replicas (pure): which windows are pending, what part of a
 * window each share holds, when a window may be evaluated, and that merging the shares gives the
 * window one process would have sketched from all the rows.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ProfileBuilder } from "../../src/monitoring/profile/profile-builder.js";
import { WindowSketch, type WindowSketchJSON } from "../../src/monitoring/sketches/feature-window.js";
import { rankErrorBound } from "../../src/math/sketches/quantile-sketch.js";
import { evaluateDrift } from "../../src/monitoring/drift.js";
import { Windower, type WindowSpec } from "../../src/monitoring/windows.js";
import {
  mergeParts,
  partOf,
  pendingWindowEnds,
  readiness,
  retainedClosed,
  segmentValues,
  spentShares,
  windowEndingAt,
  type ClosedShare,
  type WindowShare,
} from "../../src/monitoring/window-shares.js";
import { fraudRows } from "../helpers/traffic.js";

const HOUR = 3_600_000;
const T0 = 1000 * HOUR; // an hour boundary
const tumbling: WindowSpec = { kind: "tumbling", by: "time", durationMs: HOUR };

const profile = (() => {
  const builder = new ProfileBuilder({ clock: { now: () => 0 } });
  builder.add(fraudRows(1, 5000));
  return builder.finish();
})();
const ops = {
  create: () => new WindowSketch(profile, { role: "input" }),
  mergeInto: (into: WindowSketch, from: WindowSketch) => void into.merge(from),
};
const fromJSON = (json: WindowSketchJSON) => WindowSketch.fromJSON(profile, json, { role: "input" });

/** A share as a replica would save it: its windower's state and the windows it closed. */
function shareFrom(
  replica: string,
  windower: Windower<WindowSketch>,
  takenAt: number,
  closed: ClosedShare<WindowSketchJSON>[] = [],
): WindowShare<WindowSketchJSON> {
  return {
    replica,
    variant: "stable",
    model: "fraud",
    version: 1,
    takenAt,
    state: windower.checkpoint((s) => s.toJSON()),
    closed,
  };
}

const share = (
  replica: string,
  takenAt: number,
  panes: Array<{ start: number; rows: number }>,
  closed: Array<{ start: number; end: number; rows: number; segment?: string }> = [],
  spec: WindowSpec = tumbling,
): WindowShare<string> => ({
  replica,
  variant: "stable",
  model: "fraud",
  version: 1,
  takenAt,
  state: {
    spec,
    rowsSeen: 0,
    previous: panes.slice(0, -1).map((p) => ({ ...p, sketch: `${replica}@${p.start}` })),
    open:
      panes.length === 0
        ? null
        : { ...(panes[panes.length - 1] as { start: number; rows: number }), sketch: `${replica}@open` },
  },
  closed: closed.map((c) => ({ ...c, sketch: `${replica}:closed@${c.start}${c.segment ?? ""}` })),
});

describe("merging shares", () => {
  test("rows split over three replicas merge into the window one process sketches from all of them", () => {
    const rows = fraudRows(7, 3000, 1.6);
    const whole = new Windower(tumbling, ops);
    const replicas = ["a", "b", "c"].map(() => new Windower(tumbling, ops));
    rows.forEach((row, i) => {
      const at = T0 + Math.floor((i / rows.length) * HOUR);
      whole.add(at, (s) => s.updateRow(row));
      // An uneven split: a gets half, b a third, c the rest.
      const r = i % 6 < 3 ? 0 : i % 6 < 5 ? 1 : 2;
      (replicas[r] as Windower<WindowSketch>).add(at, (s) => s.updateRow(row));
    });
    whole.tick(T0 + HOUR);
    const [expected] = whole.drain();
    assert.ok(expected);
    // a and b closed the window and kept it; c died before the hour ended: its open pane counts.
    const closedOf = (w: Windower<WindowSketch>): ClosedShare<WindowSketchJSON> => {
      w.tick(T0 + HOUR);
      const [c] = w.drain();
      assert.ok(c);
      const { firstAt, lastAt } = c;
      assert.ok(firstAt !== undefined && lastAt !== undefined);
      return { start: c.start, end: c.end, rows: c.rows, sketch: c.sketch.toJSON(), firstAt, lastAt };
    };
    const [a, b, c] = replicas as [Windower<WindowSketch>, Windower<WindowSketch>, Windower<WindowSketch>];
    const shares = [
      shareFrom("a", a, T0 + HOUR + 5, [closedOf(a)]),
      shareFrom("b", b, T0 + HOUR + 9, [closedOf(b)]),
      shareFrom("c", c, T0 + HOUR / 2),
    ];
    const window = windowEndingAt(tumbling, T0 + HOUR);
    assert.deepEqual(window, { start: T0, end: T0 + HOUR });
    const parts = shares.flatMap((s) => partOf(s, tumbling, window!));
    assert.deepEqual(
      parts.map((p) => [p.replica, p.rows]),
      [
        ["a", 1500],
        ["b", 1000],
        ["c", 500],
      ],
    );
    const merged = mergeParts(window!, parts, ops, fromJSON);
    assert.ok(merged);
    assert.equal(merged.rows, 3000);
    assert.equal(merged.firstAt, expected.firstAt);
    assert.equal(merged.lastAt, expected.lastAt);
    for (const f of ["amount", "hour", "night"]) {
      // Bin counts add exactly.
      assert.deepEqual(
        merged.sketch.feature(f)?.binnedCounts(),
        expected.sketch.feature(f)?.binnedCounts(),
        f,
      );
    }
    // The KLL sketch of the merge answers ranks within the sketch's bound of the exact ones.
    const amounts = rows.map((r) => r.amount).sort((x, y) => x - y);
    const sketch = merged.sketch.feature("amount")?.sketch;
    assert.ok(sketch);
    const bound = rankErrorBound(200);
    for (const q of [0.05, 0.25, 0.5, 0.75, 0.95]) {
      const x = sketch.quantile(q);
      const exactRank = amounts.filter((v) => v <= x).length / amounts.length;
      assert.ok(Math.abs(exactRank - q) <= bound + 1 / amounts.length, `q=${q}: rank ${exactRank}`);
    }
    // Binned tests read only the counts: the drift statistic is the one-process statistic.
    const options = { tests: { amount: "psi" as const, hour: "psi" as const }, features: ["amount", "hour"] };
    const one = evaluateDrift(profile, expected.sketch, options);
    const many = evaluateDrift(profile, merged.sketch, options);
    assert.deepEqual(
      many.features.map((f) => f.score),
      one.features.map((f) => f.score),
    );
    assert.equal(many.features.find((f) => f.feature === "amount")?.drifted, true);
  });

  test("a part whose sketch does not read is left out, the others still merge", () => {
    const good = new WindowSketch(profile, { role: "input" });
    good.updateRow({ amount: 10, hour: 3, night: 1 });
    const parts = [
      { replica: "a", rows: 1, sketch: good.toJSON() },
      { replica: "b", rows: 5, sketch: { rows: 5, features: [] } as WindowSketchJSON },
    ];
    const lenient = (json: WindowSketchJSON) => {
      try {
        return fromJSON(json);
      } catch {
        return null;
      }
    };
    const merged = mergeParts({ start: 0, end: 1 }, parts, ops, lenient);
    assert.equal(merged?.rows, 1);
    assert.throws(() => fromJSON(parts[1]!.sketch), /window\.features/);
  });

  test("a window with no rows in any share merges to nothing", () => {
    assert.equal(mergeParts({ start: 0, end: 1 }, [], ops, fromJSON), null);
  });
});

describe("what belongs to a window", () => {
  const window = { start: T0, end: T0 + HOUR };

  test("a closed window with those bounds is the share's part, not its panes", () => {
    const s = share(
      "a",
      T0 + HOUR,
      [{ start: T0 + HOUR, rows: 4 }],
      [{ start: T0, end: T0 + HOUR, rows: 7 }],
    );
    assert.deepEqual(
      partOf(s, tumbling, window).map((p) => [p.rows, p.sketch]),
      [[7, "a:closed@" + T0]],
    );
  });

  test("without one, the saved panes inside the window, as last saved", () => {
    const s = share("dead", T0 + 10, [{ start: T0, rows: 3 }]);
    assert.deepEqual(
      partOf(s, tumbling, window).map((p) => p.rows),
      [3],
    );
    assert.deepEqual(partOf(s, tumbling, { start: T0 + HOUR, end: T0 + 2 * HOUR }), []);
  });

  test("sliding: each pane belongs to every window covering it", () => {
    const sliding: WindowSpec = { kind: "sliding", by: "time", durationMs: 3 * HOUR, stepMs: HOUR };
    const s = share(
      "dead",
      T0,
      [
        { start: T0, rows: 1 },
        { start: T0 + HOUR, rows: 2 },
      ],
      [],
      sliding,
    );
    assert.deepEqual(
      pendingWindowEnds(sliding, [s], -Infinity, Infinity).map((e) => (e - T0) / HOUR),
      [1, 2, 3, 4],
    );
    const rowsIn = (end: number) =>
      partOf(s, sliding, windowEndingAt(sliding, T0 + end * HOUR)!).reduce((n, p) => n + p.rows, 0);
    assert.deepEqual([1, 2, 3, 4].map(rowsIn), [1, 3, 3, 2]);
  });

  test("a share saved under another window spec holds nothing of this one", () => {
    const other: WindowSpec = { kind: "tumbling", by: "time", durationMs: 2 * HOUR };
    const s = share("a", T0, [{ start: T0, rows: 3 }], [], other);
    assert.deepEqual(partOf(s, tumbling, window), []);
    assert.deepEqual(pendingWindowEnds(tumbling, [s], -Infinity, Infinity), []);
    // Nor do windows it closed under that spec.
    const closed = share("a", T0, [], [{ start: T0, end: T0 + 2 * HOUR, rows: 3 }]);
    assert.deepEqual(pendingWindowEnds(tumbling, [closed], -Infinity, Infinity), []);
  });

  test("segments: a value's closed window or panes; the values of every share", () => {
    const s: WindowShare<string> = {
      ...share(
        "a",
        T0 + HOUR,
        [],
        [
          { start: T0, end: T0 + HOUR, rows: 5 },
          { start: T0, end: T0 + HOUR, rows: 2, segment: "x" },
        ],
      ),
      segments: {
        feature: "f",
        windows: [
          {
            value: "y",
            state: { spec: tumbling, rowsSeen: 3, previous: [], open: { start: T0, rows: 3, sketch: "y" } },
          },
        ],
      },
    };
    assert.deepEqual(segmentValues([s]), ["y", "x"]);
    assert.deepEqual(
      partOf(s, tumbling, window, "x").map((p) => p.rows),
      [2],
    );
    assert.deepEqual(
      partOf(s, tumbling, window, "y").map((p) => p.rows),
      [3],
    );
    assert.deepEqual(partOf(s, tumbling, window, "z"), []);
  });

  test("pending windows: ended by now, after the last one done, ascending; count windows none", () => {
    const shares = [
      share("a", 0, [{ start: T0 + 2 * HOUR, rows: 1 }], [{ start: T0, end: T0 + HOUR, rows: 1 }]),
      share("b", 0, [{ start: T0 + HOUR, rows: 1 }]),
    ];
    const at = (h: number) => T0 + h * HOUR;
    assert.deepEqual(pendingWindowEnds(tumbling, shares, -Infinity, at(3)), [at(1), at(2), at(3)]);
    assert.deepEqual(pendingWindowEnds(tumbling, shares, at(1), at(2.5)), [at(2)]);
    assert.deepEqual(
      pendingWindowEnds({ kind: "tumbling", by: "count", size: 10 }, shares, -Infinity, Infinity),
      [],
    );
  });
});

describe("when a window is evaluated", () => {
  const end = T0 + HOUR;
  const alive = (r: string) => r !== "dead";

  test("it waits for a live replica that has not saved since the window ended", () => {
    const shares = [
      { replica: "a", takenAt: end + 1 },
      { replica: "b", takenAt: end - 1 },
    ];
    assert.deepEqual(readiness(shares, end, alive, end + 2, 10_000), { ready: false, waitingFor: ["b"] });
  });

  test("a dead replica is not waited for: its share counts as last saved", () => {
    const shares = [
      { replica: "a", takenAt: end },
      { replica: "dead", takenAt: end - HOUR / 2 },
    ];
    assert.deepEqual(readiness(shares, end, alive, end, 10_000), { ready: true, late: [] });
  });

  test("after maxWaitMs a live replica's share is merged as last saved, and named late", () => {
    const shares = [{ replica: "b", takenAt: end - 1 }];
    assert.deepEqual(readiness(shares, end, alive, end + 10_000, 10_000), { ready: true, late: ["b"] });
  });

  test("a dead replica's share is spent once every window of it is done; a live one's never", () => {
    const dead = share("dead", 0, [{ start: T0, rows: 2 }]);
    const live = share("a", 0, [{ start: T0, rows: 2 }]);
    assert.deepEqual(spentShares(tumbling, [dead, live], end - HOUR, alive), []);
    assert.deepEqual(
      spentShares(tumbling, [dead, live], end, alive).map((s) => s.replica),
      ["dead"],
    );
    assert.deepEqual(
      spentShares(tumbling, [share("dead", 0, [])], -Infinity, alive).map((s) => s.replica),
      ["dead"],
    );
  });

  test("closed windows are kept for the newest ends within the retention", () => {
    const closed = [1, 2, 2, 3, 4].map((end, i) => ({ end, i }));
    assert.deepEqual(
      retainedClosed(closed, 4, 100, 2).map((c) => c.i),
      [3, 4],
    );
    assert.deepEqual(
      retainedClosed(closed, 4, 100, 3).map((c) => c.i),
      [1, 2, 3, 4],
    );
    assert.deepEqual(
      retainedClosed(closed, 4, 2, 10).map((c) => c.i),
      [3, 4],
    );
  });
});
