/**
 * Business-event rates over one window (click-through, conversion, …): for each event name,
 * how many predictions received it at least once, that count over the window's predictions,
 * and the sum of the events' values (revenue, dwell time, …). Feedback is idempotent per
 * (request id, row, kind), so the caller knows whether an event is a first arrival (`event`)
 * or a replacement (`revalue`). Memory is bounded by the number of distinct event names, which
 * is capped; the cap's error says so rather than dropping names silently.
 */
import { conflict, invalid } from "../../domain/errors.js";

export const DEFAULT_MAX_EVENT_NAMES = 100;

export interface EventRate {
  /** Predictions that received the event at least once. */
  readonly count: number;
  /** count / predictions; null when the window has no predictions. */
  readonly rate: number | null;
  /** Sum of the events' values; events sent without a value add nothing. */
  readonly valueSum: number;
  /** Events that carried a value. */
  readonly valued: number;
}

export interface EventRates {
  readonly predictions: number;
  readonly events: Readonly<Record<string, EventRate>>;
}

export interface EventsState {
  readonly kind: "events";
  readonly predictions: number;
  /** [name, count, valueSum, valued], sorted by name. */
  readonly events: [string, number, number, number][];
}

interface EventTally {
  count: number;
  valueSum: number;
  valued: number;
}

function checkName(name: unknown): asserts name is string {
  if (typeof name !== "string" || name.length === 0) {
    throw invalid(`event name must be a non-empty string; got ${JSON.stringify(name)}`, { name });
  }
  if (name === "label") {
    throw invalid(
      '"label" is the ground truth, not a business event; send it to the performance accumulators',
    );
  }
}

function checkValue(value: unknown, name: string): asserts value is number | null {
  if (value !== null && (typeof value !== "number" || !Number.isFinite(value))) {
    throw invalid(`value of event "${name}" must be a finite number or null; got ${String(value)}`, {
      name,
      value,
    });
  }
}

export class EventRateAccumulator {
  private predictions = 0;
  private readonly tallies = new Map<string, EventTally>();

  constructor(private readonly maxEventNames = DEFAULT_MAX_EVENT_NAMES) {
    if (!Number.isSafeInteger(maxEventNames) || maxEventNames < 1) {
      throw invalid(`maxEventNames must be a positive integer; got ${String(maxEventNames)}`);
    }
  }

  /** One prediction, with the events (name → value or null) already known for it. */
  add(events: Readonly<Record<string, number | null>> = {}): void {
    const entries = Object.entries(events);
    for (const [name, value] of entries) {
      checkName(name);
      checkValue(value, name);
    }
    const fresh = entries.filter(([name]) => !this.tallies.has(name)).length;
    // Checked up front so a rejected prediction leaves the window as it was.
    if (this.tallies.size + fresh > this.maxEventNames)
      this.tooManyNames(entries[entries.length - 1]?.[0] ?? "");
    this.predictions += 1;
    for (const [name, value] of entries) this.record(name, value);
  }

  /** A prediction already in the window received `name` for the first time. */
  event(name: string, value: number | null = null): void {
    checkName(name);
    checkValue(value, name);
    const current = this.tallies.get(name)?.count ?? 0;
    if (current >= this.predictions) {
      throw conflict(
        `event "${name}" would be counted on more predictions (${current + 1}) than the window holds (${this.predictions}); add the prediction first`,
        { name },
      );
    }
    this.record(name, value);
  }

  /** The value of an event already counted was replaced (the last feedback wins). */
  revalue(name: string, previous: number | null, value: number | null): void {
    checkName(name);
    checkValue(previous, name);
    checkValue(value, name);
    const tally = this.tallies.get(name);
    if (tally === undefined || tally.count === 0 || (previous !== null && tally.valued === 0)) {
      throw conflict(
        `no event "${name}"${previous === null ? "" : " with a value"} in this window to replace`,
        {
          name,
        },
      );
    }
    if (previous !== null) {
      tally.valueSum -= previous;
      tally.valued -= 1;
    }
    if (value !== null) {
      tally.valueSum += value;
      tally.valued += 1;
    }
  }

  merge(other: EventRateAccumulator): EventRateAccumulator {
    const out = this.clone();
    out.predictions += other.predictions;
    for (const [name, t] of other.tallies) {
      const mine = out.tally(name);
      mine.count += t.count;
      mine.valueSum += t.valueSum;
      mine.valued += t.valued;
    }
    return out;
  }

  clone(): EventRateAccumulator {
    const out = new EventRateAccumulator(this.maxEventNames);
    out.predictions = this.predictions;
    for (const [name, t] of this.tallies) out.tallies.set(name, { ...t });
    return out;
  }

  rates(): EventRates {
    const events: Record<string, EventRate> = {};
    for (const name of [...this.tallies.keys()].sort()) {
      const t = this.tallies.get(name) as EventTally;
      events[name] = {
        count: t.count,
        rate: this.predictions === 0 ? null : t.count / this.predictions,
        valueSum: t.valueSum,
        valued: t.valued,
      };
    }
    return { predictions: this.predictions, events };
  }

  toJSON(): EventsState {
    return {
      kind: "events",
      predictions: this.predictions,
      events: [...this.tallies.entries()]
        .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
        .map(([name, t]) => [name, t.count, t.valueSum, t.valued]),
    };
  }

  static fromJSON(state: EventsState, maxEventNames = DEFAULT_MAX_EVENT_NAMES): EventRateAccumulator {
    if (
      state === null ||
      typeof state !== "object" ||
      state.kind !== "events" ||
      !Array.isArray(state.events)
    ) {
      throw invalid('events state must be an object with kind "events" and an events array');
    }
    const out = new EventRateAccumulator(maxEventNames);
    if (!Number.isSafeInteger(state.predictions) || state.predictions < 0) {
      throw invalid(
        `events state: predictions must be a non-negative integer; got ${String(state.predictions)}`,
      );
    }
    out.predictions = state.predictions;
    for (const entry of state.events) {
      if (!Array.isArray(entry) || entry.length !== 4) {
        throw invalid("events state: each event must be [name, count, valueSum, valued]");
      }
      const [name, count, valueSum, valued] = entry;
      checkName(name);
      if (out.tallies.has(name)) throw invalid(`events state: event "${name}" appears twice`);
      if (!Number.isSafeInteger(count) || count < 0 || count > state.predictions) {
        throw invalid(
          `events state: count of "${name}" must be an integer in [0, predictions]; got ${String(count)}`,
        );
      }
      if (!Number.isSafeInteger(valued) || valued < 0 || valued > count) {
        throw invalid(
          `events state: valued of "${name}" must be an integer in [0, count]; got ${String(valued)}`,
        );
      }
      checkValue(valueSum, name);
      out.tally(name);
      out.tallies.set(name, { count, valueSum: valueSum ?? 0, valued });
    }
    return out;
  }

  private record(name: string, value: number | null): void {
    const t = this.tally(name);
    t.count += 1;
    if (value !== null) {
      t.valueSum += value;
      t.valued += 1;
    }
  }

  private tooManyNames(name: string): never {
    throw invalid(
      `more than ${this.maxEventNames} distinct event names in one window ("${name}" is one too many); raise maxEventNames or map event kinds to fewer names`,
      { name, maxEventNames: this.maxEventNames },
    );
  }

  private tally(name: string): EventTally {
    let t = this.tallies.get(name);
    if (t === undefined) {
      if (this.tallies.size >= this.maxEventNames) this.tooManyNames(name);
      t = { count: 0, valueSum: 0, valued: 0 };
      this.tallies.set(name, t);
    }
    return t;
  }
}
