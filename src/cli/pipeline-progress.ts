/**
 * The live display of a pipeline run's steps while `ballast pipeline run --wait` waits: one line
 * per step with its state, how long it has run and whether it came from the cache. On a
 * terminal the block is redrawn in place; otherwise a line is written when a step's state
 * changes, so logs and pipes get a readable history. Drawn on stderr; stdout gets the result.
 */
import type { ProgressStream } from "./progress.js";

export interface StepLineInput {
  readonly name: string;
  readonly kind: string;
  readonly state: string;
  readonly attempt: number;
  readonly cached: boolean;
  readonly startedAt?: number;
  readonly finishedAt?: number;
  readonly error?: string;
}

const MARK: Record<string, string> = {
  Pending: " ",
  Running: ">",
  Succeeded: "+",
  Cached: "+",
  Failed: "x",
  Skipped: "-",
  Cancelled: "-",
};

/** One line per step; `now` gives a running step its time so far. Pure. */
export function stepLines(steps: readonly StepLineInput[], now: number): string[] {
  const width = Math.max(4, ...steps.map((s) => s.name.length));
  return steps.map((s) => {
    const end = s.finishedAt ?? (s.state === "Running" ? now : undefined);
    const took =
      s.startedAt !== undefined && end !== undefined ? `${((end - s.startedAt) / 1000).toFixed(1)} s` : "";
    const notes = [
      s.cached ? "cached" : "",
      s.attempt > 1 ? `attempt ${s.attempt}` : "",
      s.state === "Failed" || s.state === "Skipped" ? (s.error ?? "") : "",
    ].filter((n) => n !== "");
    return `${MARK[s.state] ?? "?"} ${s.name.padEnd(width)}  ${s.state.padEnd(9)}  ${took.padStart(8)}  ${notes.join(", ")}`.trimEnd();
  });
}

export class StepDisplay {
  private drawn = 0;
  private readonly seen = new Map<string, string>();

  constructor(private readonly stream: ProgressStream = process.stderr) {}

  show(steps: readonly StepLineInput[], now: number): void {
    const lines = stepLines(steps, now);
    if (this.stream.isTTY === true) {
      // Up over the block drawn last time, then each line cleared and written again.
      const up = this.drawn > 0 ? `\x1b[${this.drawn}A` : "";
      this.stream.write(up + lines.map((l) => `\x1b[2K${l}\n`).join(""));
      this.drawn = lines.length;
      return;
    }
    steps.forEach((s, i) => {
      const key = `${s.state}/${s.attempt}`;
      if (this.seen.get(s.name) === key) return;
      this.seen.set(s.name, key);
      if (s.state !== "Pending" || s.attempt > 0) this.stream.write(`${lines[i] as string}\n`);
    });
  }
}
