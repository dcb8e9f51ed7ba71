/**
 * Writes one CSV per simulated week of card transactions: examples/fraud/data/week-<n>.csv.
 *
 *   npx tsx examples/fraud/generate.ts [--weeks 6] [--rows 20000] [--seed 42] [--out examples/fraud/data]
 *
 * The seed is fixed by default, so everyone who runs this gets the same files, and the
 * committed model (model/fraud-logreg.json) was trained on exactly this week 1.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import {
  FRAUD_COLUMNS,
  fraudShiftForWeek,
  generateFraudWeek,
  type FraudTransaction,
} from "../../src/sim/fraud.js";

const DEFAULT_SEED = 42;
const DEFAULT_ROWS = 20_000;
const DEFAULT_WEEKS = 6;
const DEFAULT_DATA_DIR = fileURLToPath(new URL("./data/", import.meta.url));

function positiveInteger(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${flag} must be a positive integer, got "${value}"`);
  return n;
}

function csv(rows: readonly FraudTransaction[]): string {
  // No value needs quoting: numbers, and category names without commas.
  const lines = [FRAUD_COLUMNS.join(",")];
  for (const t of rows) lines.push(FRAUD_COLUMNS.map((c) => String(t[c])).join(","));
  return `${lines.join("\n")}\n`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      weeks: { type: "string" },
      rows: { type: "string" },
      seed: { type: "string" },
      out: { type: "string" },
    },
  });
  const weeks = positiveInteger("weeks", values.weeks, DEFAULT_WEEKS);
  const rows = positiveInteger("rows", values.rows, DEFAULT_ROWS);
  const seed = values.seed === undefined ? DEFAULT_SEED : Number(values.seed);
  if (!Number.isInteger(seed)) throw new Error(`--seed must be an integer, got "${values.seed}"`);
  const out = values.out ?? DEFAULT_DATA_DIR;
  await mkdir(out, { recursive: true });

  for (let week = 1; week <= weeks; week++) {
    const transactions = generateFraudWeek({ seed, week, rows });
    const path = join(out, `week-${week}.csv`);
    await writeFile(path, csv(transactions));
    const frauds = transactions.reduce((n, t) => n + t.is_fraud, 0);
    const rate = ((100 * frauds) / rows).toFixed(2);
    console.log(
      `${relative(process.cwd(), path)}: ${rows} rows, ${rate}% fraud (${fraudShiftForWeek(week).description})`,
    );
  }
}

main().catch((error: unknown) => {
  console.error(`generate: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
