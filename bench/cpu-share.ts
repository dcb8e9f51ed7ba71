/**
 * How much of the machine other processes used while a run was measured. The benchmark shares
 * its two cores with whatever else runs (test suites, builds); a run that competed with them
 * is not comparable with one that did not, so each run shows this next to its figures.
 * Linux only (/proc); elsewhere the share is unknown.
 */
import { readFileSync } from "node:fs";

export interface CpuSample {
  /** Clock ticks of all cores, busy or not. */
  readonly total: number;
  /** Ticks spent in user and system mode by anyone. */
  readonly used: number;
  /** Ticks used by each of the given processes (all their threads). */
  readonly byPid: ReadonlyMap<number, number>;
}

/** Linux reports CPU time in USER_HZ ticks, which the kernel ABI fixes at 100 per second. */
const TICKS_PER_SECOND = 100;

function processTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name may contain spaces and parentheses; the fields after the last ')' do not.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15 of the whole line, 11 and 12 after the name.
  return Number(fields[11]) + Number(fields[12]);
}

export function sampleCpu(pids: readonly number[]): CpuSample | undefined {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0] ?? "";
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = line
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    return {
      total: user + nice + system + idle + iowait + irq + softirq + steal,
      used: user + nice + system,
      byPid: new Map(pids.map((pid) => [pid, processTicks(pid)])),
    };
  } catch {
    return undefined;
  }
}

/** Fraction of all cores (0…1) that other processes used between two samples. */
export function othersShare(before: CpuSample | undefined, after: CpuSample | undefined): number {
  if (before === undefined || after === undefined || after.total <= before.total) return Number.NaN;
  let ours = 0;
  for (const [pid, ticks] of after.byPid) ours += ticks - (before.byPid.get(pid) ?? ticks);
  const others = after.used - before.used - ours;
  return Math.max(0, others) / (after.total - before.total);
}

/** CPU seconds one process used between two samples (NaN if unknown). */
export function cpuSeconds(before: CpuSample | undefined, after: CpuSample | undefined, pid: number): number {
  const from = before?.byPid.get(pid);
  const to = after?.byPid.get(pid);
  return from === undefined || to === undefined ? Number.NaN : (to - from) / TICKS_PER_SECOND;
}
