/**
 * Trains the fraud model on week 1 and writes examples/fraud/model/fraud-logreg.json, the file
 * `npm start` serves. Prints AUC and accuracy on week 1 (training), week 2 (holdout from the
 * same world) and on every later week it finds, where the world has moved on.
 *
 *   npx tsx examples/fraud/generate.ts      # first: writes data/week-*.csv
 *   npx tsx examples/fraud/train.ts [--data examples/fraud/data] [--week 1] [--out examples/fraud/model/fraud-logreg.json]
 *
 * Same data, same model, to the last digit: the trainer is an exact Newton solver.
 */
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import * as prettier from "prettier";
import { readRowBatches } from "../../src/io/rows.js";
import { serializeBuiltinModel, type LinearBuiltinModel } from "../../src/runtimes/builtin/format.js";
import { linearScores } from "../../src/runtimes/builtin/score.js";
import { trainLogisticRegression } from "../../src/runtimes/builtin/train.js";
import { FRAUD_FEATURES } from "../../src/sim/fraud.js";

const DEFAULT_DATA_DIR = fileURLToPath(new URL("./data/", import.meta.url));
const DEFAULT_MODEL = fileURLToPath(new URL("./model/fraud-logreg.json", import.meta.url));
const L2 = 1;

interface LabelledRows {
  readonly x: number[][];
  readonly y: number[];
}

async function readWeek(path: string): Promise<LabelledRows> {
  const x: number[][] = [];
  const y: number[] = [];
  for await (const batch of readRowBatches(path, { format: "csv", batchSize: 4096 })) {
    for (const [i, row] of batch.rows.entries()) {
      const line = batch.lines[i];
      if (Array.isArray(row)) throw new Error(`${path} line ${line}: expected a CSV row with a header`);
      x.push(
        FRAUD_FEATURES.map((name) => {
          const value = row[name];
          if (typeof value !== "number")
            throw new Error(`${path} line ${line}: ${name} is ${JSON.stringify(value)}`);
          return value;
        }),
      );
      const label = row.is_fraud;
      if (label !== 0 && label !== 1)
        throw new Error(`${path} line ${line}: is_fraud is ${JSON.stringify(label)}`);
      y.push(label);
    }
  }
  return { x, y };
}

/** Area under the ROC curve from ranks (the Mann-Whitney U statistic); ties count half. */
function auc(scores: ArrayLike<number>, labels: readonly number[]): number {
  const order = Array.from(scores, (score, i) => ({ score, label: labels[i] ?? 0 })).sort(
    (a, b) => a.score - b.score,
  );
  let positives = 0;
  let rankSum = 0;
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j < order.length && order[j]?.score === order[i]?.score) j++;
    for (let k = i; k < j; k++) {
      if (order[k]?.label === 1) {
        positives++;
        rankSum += (i + 1 + j) / 2;
      }
    }
    i = j;
  }
  const negatives = order.length - positives;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

interface Evaluation {
  readonly rows: number;
  readonly fraudRate: number;
  readonly auc: number;
  /** At the model's own threshold, probability 0.5. */
  readonly accuracy: number;
}

function evaluate(model: LinearBuiltinModel, data: LabelledRows): Evaluation {
  const scores = linearScores(model, data.x.flat(), data.x.length);
  let correct = 0;
  scores.forEach((z, i) => {
    if ((z > 0 ? 1 : 0) === data.y[i]) correct++;
  });
  const frauds = data.y.reduce((s, v) => s + v, 0);
  return {
    rows: data.y.length,
    fraudRate: frauds / data.y.length,
    auc: auc(scores, data.y),
    accuracy: correct / data.y.length,
  };
}

const round = (value: number, digits = 4): number => Number(value.toFixed(digits));

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { data: { type: "string" }, week: { type: "string" }, out: { type: "string" } },
  });
  const dataDir = values.data ?? DEFAULT_DATA_DIR;
  const trainWeek = Number(values.week ?? "1");
  if (!Number.isInteger(trainWeek) || trainWeek < 1)
    throw new Error(`--week must be a positive integer, got "${values.week}"`);
  const out = values.out ?? DEFAULT_MODEL;
  const weekPath = (n: number): string => join(dataDir, `week-${n}.csv`);
  if (!existsSync(weekPath(trainWeek))) {
    throw new Error(
      `${relative(process.cwd(), weekPath(trainWeek))} is missing; run \`npx tsx examples/fraud/generate.ts\` first`,
    );
  }

  const training = await readWeek(weekPath(trainWeek));
  const fitted = trainLogisticRegression(training.x, training.y, {
    features: [...FRAUD_FEATURES],
    l2: L2,
    standardize: true,
  });

  const report: Array<{ week: number; role: string; evaluation: Evaluation }> = [];
  for (let week = 1; existsSync(weekPath(week)); week++) {
    const role =
      week === trainWeek
        ? "train"
        : week === trainWeek + 1
          ? "holdout"
          : week < trainWeek
            ? "earlier"
            : "later";
    const data = week === trainWeek ? training : await readWeek(weekPath(week));
    report.push({ week, role, evaluation: evaluate(fitted, data) });
  }

  const trainEval = report.find((r) => r.week === trainWeek)?.evaluation;
  const holdoutEval = report.find((r) => r.week === trainWeek + 1)?.evaluation;
  // What the file records about its training: enough to reproduce it and to compare a retrain.
  const model: LinearBuiltinModel = {
    ...fitted,
    training: {
      ...fitted.training,
      data: `examples/fraud week ${trainWeek} (generate.ts defaults: seed 42)`,
      ...(trainEval === undefined
        ? {}
        : { train_auc: round(trainEval.auc), train_accuracy: round(trainEval.accuracy) }),
      ...(holdoutEval === undefined
        ? {}
        : {
            holdout_week: trainWeek + 1,
            holdout_auc: round(holdoutEval.auc),
            holdout_accuracy: round(holdoutEval.accuracy),
          }),
    },
  };
  await mkdir(dirname(out), { recursive: true });
  // Formatted as the repository's prettier config wants, so a retrain diffs cleanly and `npm run lint` passes.
  const text = await prettier.format(serializeBuiltinModel(model), {
    ...(await prettier.resolveConfig(out)),
    filepath: out,
  });
  await writeFile(out, text);

  console.log(
    `trained on ${relative(process.cwd(), weekPath(trainWeek))}: ${training.y.length} rows, l2 ${L2}, standardized`,
  );
  console.log("week  role      rows   fraud%  AUC     accuracy");
  for (const { week, role, evaluation: e } of report) {
    console.log(
      `${String(week).padEnd(5)} ${role.padEnd(8)} ${String(e.rows).padStart(6)}  ${(100 * e.fraudRate).toFixed(2).padStart(5)}  ` +
        `${e.auc.toFixed(3)}   ${e.accuracy.toFixed(4)}`,
    );
  }
  console.log(`wrote ${relative(process.cwd(), out)}`);
}

main().catch((error: unknown) => {
  console.error(`train: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
