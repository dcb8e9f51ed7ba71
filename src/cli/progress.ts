/**
 * Progress for long CLI jobs: a bar on stderr when a person is watching (stderr is a TTY),
 * nothing while the job runs otherwise (so logs and pipes stay clean), and one summary line at
 * the end either way. stdout is left to the job's real output.
 */
import { SingleBar } from "cli-progress";
import { systemClock, type Clock } from "../domain/clock.js";

export interface ProgressStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

export interface ProgressOptions {
  /** Expected units of work (rows); null when unknown, which shows a counter without a bar. */
  readonly total: number | null;
  /** What is being counted, for the bar and the summary ("rows"). */
  readonly unit?: string;
  readonly stream?: ProgressStream;
  readonly clock?: Clock;
}

export interface Progress {
  advance(count: number): void;
  /**
   * Stops the bar and writes `<verb> <n> <unit> in <s> s (<rate> <unit>/s)`; returns that line.
   * `count` is what the job did, when that is not the units of work: a file read twice for a
   * profile advances the bar by twice its rows, but only its rows were profiled.
   */
  finish(verb: string, count?: number): string;
  /** Stops the bar and writes `<what> in <s> s`, for jobs whose result is not one count. */
  finishWith(what: string): string;
  /** Stops the bar without a summary (the job failed; its error is the last word). */
  abort(): void;
}

export function startProgress(options: ProgressOptions): Progress {
  const stream = options.stream ?? process.stderr;
  const clock = options.clock ?? systemClock;
  const unit = options.unit ?? "rows";
  const started = clock.now();
  let done = 0;
  let bar: SingleBar | null = null;
  if (stream.isTTY === true) {
    const known = options.total !== null;
    bar = new SingleBar({
      // cli-progress only needs write(); its type asks for a full WritableStream.
      stream: stream as NodeJS.WritableStream,
      format: known
        ? `{bar} {percentage}% | {value}/{total} ${unit} | {eta_formatted} left`
        : `{value} ${unit} | {duration_formatted}`,
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 50,
    });
    bar.start(options.total ?? 0, 0);
  }
  const stop = (): void => {
    bar?.stop();
    bar = null;
  };
  return {
    advance(count: number): void {
      done += count;
      // The row count was an estimate (blank lines, multi-line cells): never run past the end.
      if (bar !== null && options.total !== null && done > options.total) bar.setTotal(done);
      bar?.update(done);
    },
    finish(verb: string, count: number = done): string {
      stop();
      const line = summaryLine(verb, count, unit, clock.now() - started);
      stream.write(`${line}\n`);
      return line;
    },
    finishWith(what: string): string {
      stop();
      const line = `${what} in ${((clock.now() - started) / 1000).toFixed(2)} s`;
      stream.write(`${line}\n`);
      return line;
    },
    abort: stop,
  };
}

/** `predicted 10000 rows in 1.25 s (8000 rows/s)`. */
export function summaryLine(verb: string, count: number, unit: string, elapsedMs: number): string {
  const seconds = elapsedMs / 1000;
  const rateText = seconds > 0 ? `${Math.round(count / seconds)} ${unit}/s` : `-- ${unit}/s`;
  return `${verb} ${count} ${unit} in ${seconds.toFixed(2)} s (${rateText})`;
}
