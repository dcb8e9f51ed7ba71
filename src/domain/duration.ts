import { invalid } from "./errors.js";

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** "30d", "12h", "90s", "500ms" -> milliseconds. */
export function parseDuration(raw: string, flag: string): number {
  const match = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d|w)$/.exec(raw.trim());
  if (match === null)
    throw invalid(`${flag} must be a duration like 500ms, 90s, 15m, 12h, 30d or 2w, got '${raw}'`);
  return Math.round(Number(match[1]) * (UNIT_MS[match[2] as string] as number));
}
