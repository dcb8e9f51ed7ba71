// The market series (examples/markets/data, copied from ../shared/data) and the reference fixtures.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
/** The copy in the repository, so a clean clone tests the same; BALLAST_SHARED_DATA overrides it. */
export const DATA_DIR = ((): string => {
  const candidates = [
    process.env["BALLAST_SHARED_DATA"],
    join(here, "..", "..", "examples", "markets", "data"),
  ].filter((c): c is string => c !== undefined);
  const found = candidates.find((c) => existsSync(join(c, "dem2gbp.csv")));
  if (found === undefined)
    throw new Error(`the shared market data is not in any of ${candidates.join(", ")}`);
  return found;
})();
const FIXTURES = join(here, "..", "fixtures", "markets");

/** One numeric column of a CSV in the shared data folder. */
export function series(file: string, column: string, scale = 1): number[] {
  const [header, ...rows] = readFileSync(join(DATA_DIR, file), "utf8").trim().split("\n");
  const columns = (header ?? "").split(",").map((c) => c.replaceAll('"', ""));
  const at = columns.indexOf(column);
  if (at < 0) throw new Error(`${file} has no column ${column}`);
  return rows.map((row) => Number(row.split(",")[at]) * scale);
}

export function fixture<T>(name: string): T {
  return JSON.parse(readFileSync(join(FIXTURES, name), "utf8")) as T;
}

export function assertRelative(actual: number, expected: number, tolerance: number, what: string): void {
  const error = Math.abs(actual - expected) / Math.max(Math.abs(expected), 1e-300);
  if (!(error <= tolerance))
    throw new Error(
      `${what}: ${actual} vs ${expected} (relative error ${error.toExponential(2)} > ${tolerance})`,
    );
}

export function assertAbsolute(actual: number, expected: number, tolerance: number, what: string): void {
  if (!(Math.abs(actual - expected) <= tolerance))
    throw new Error(
      `${what}: ${actual} vs ${expected} (off by ${Math.abs(actual - expected).toExponential(2)} > ${tolerance})`,
    );
}
