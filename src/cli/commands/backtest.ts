/**
 * `ballast backtest -f router.yaml --data file.csv [--column c] [--refit 250] --html r.html
 * --json r.json`: a walk-forward evaluation of a router (markets/backtest.ts) with periodic
 * refits on the past only, a progress bar on stderr, a summary table on stdout (`-o json`: the
 * report as JSON), a standalone HTML report and the full JSON report.
 *
 * What is backtested: `-f` is either a `kind: Router` manifest, whose specialists are read by
 * their `name` as builtin kinds (garch, gjr, ewma, har-rv, last-value), or a backtest file
 * (`router: router.yaml` plus a `specialists:` map from each router name to a builtin kind or
 * `onnx:path.onnx`, and `classifier`, `minTrain`, `refit`, `window`): deployments cannot be
 * refitted in a backtest, builtin kinds can. The classifier is fitted afresh at every refit:
 * `markov-switching` (switching mean and variance) unless the backtest file says `hmm`.
 */
import { readFile, writeFile } from "node:fs/promises";
import { basename, dirname, resolve } from "node:path";
import type { Command } from "commander";
import { parse } from "yaml";
import { invalid } from "../../domain/errors.js";
import { isPlainObject } from "../../domain/json-value.js";
import {
  CLASSIFIER_METHODS,
  externalWindows,
  runBacktest,
  type BacktestResult,
  type BacktestSpec,
  type BacktestSpecialist,
  type ClassifierMethod,
  type LearningLoss,
} from "../../markets/backtest.js";
import { scoreBacktest, type BacktestScores } from "../../markets/backtest-score.js";
import { readSeriesFile, RETURN_KINDS, type ReturnKind } from "../../markets/series-file.js";
import { TRACKED_KINDS, type TrackedKind } from "../../markets/walk-forward.js";
import {
  LEARNING_ALGORITHMS,
  ROUTER_MODES,
  type LearningAlgorithm,
  type RouterMode,
} from "../../markets/router-weights.js";
import { renderBacktestReport } from "../../monitoring/report/backtest-html.js";
import { onnxRuntime } from "../../runtimes/onnx.js";
import { parsePositiveInt } from "../options.js";
import { startProgress } from "../progress.js";
import { formatTable } from "../table.js";

interface BacktestFlags {
  file: string;
  data: string;
  column?: string;
  timeColumn?: string;
  returns?: string;
  skipRepeats?: boolean;
  scale?: string;
  refit?: string;
  minTrain?: string;
  window?: string;
  html?: string;
  json?: string;
  output?: string;
}

export function register(program: Command): void {
  program
    .command("backtest")
    .description(
      "Walk-forward evaluation of a Router (regime classifier, specialists, weights) with periodic refits on the past only",
    )
    .requiredOption("-f, --file <file>", "a kind: Router manifest, or a backtest file naming one (router:)")
    .requiredOption("--data <file>", "CSV or JSONL with the series")
    .option("--column <column>", "the column holding returns (or prices, with --returns)", "ret")
    .option("--time-column <column>", "a column naming each row's time (date), for the report")
    .option("--returns <kind>", "the column holds prices: derive log or simple returns")
    .option("--skip-repeats", "with --returns: drop a price that repeats the previous one (holiday fills)")
    .option("--scale <factor>", "multiply the returns (default: the router's spec.scale, else 1)")
    .option("--refit <bars>", "bars between refits (default: the backtest file's, else 250)")
    .option("--min-train <n>", "returns in the first fit (default: the backtest file's, else 1000)")
    .option("--window <n>", "fit on the last n returns only (default: every return so far)")
    .option("--html <file>", "write the standalone HTML report")
    .option("--json <file>", "write the full report (per bar series included) as JSON")
    .option("-o, --output <format>", "json: print the report on stdout instead of the table")
    .action(async (flags: BacktestFlags) => {
      if (flags.output !== undefined && flags.output !== "json")
        throw invalid(`--output must be json (or left out for a table), got '${flags.output}'`);
      if (flags.returns !== undefined && !(RETURN_KINDS as readonly string[]).includes(flags.returns))
        throw invalid(`--returns must be log or simple, got '${flags.returns}'`);
      const plan = await readPlan(flags.file);
      const scale = flags.scale === undefined ? plan.scale : Number(flags.scale);
      if (!Number.isFinite(scale) || scale === 0)
        throw invalid(`--scale must be a non-zero number, got '${flags.scale}'`);
      const series = await readSeriesFile(flags.data, {
        column: flags.column ?? "ret",
        scale,
        ...(flags.timeColumn === undefined ? {} : { timeColumn: flags.timeColumn }),
        ...(flags.returns === undefined ? {} : { returns: flags.returns as ReturnKind }),
        ...(flags.skipRepeats === true ? { skipRepeats: true } : {}),
      });
      const spec: BacktestSpec = {
        ...plan.spec,
        refit: flags.refit === undefined ? plan.spec.refit : parsePositiveInt(flags.refit, "--refit"),
        minTrain:
          flags.minTrain === undefined ? plan.spec.minTrain : parsePositiveInt(flags.minTrain, "--min-train"),
        ...(flags.window === undefined ? {} : { window: parsePositiveInt(flags.window, "--window") }),
      };
      if (series.values.length < spec.minTrain + 1)
        throw invalid(
          `a backtest needs at least ${spec.minTrain + 1} returns (--min-train ${spec.minTrain} plus one to score), ${basename(flags.data)} has ${series.values.length}`,
        );
      const specialists = await withOnnx(spec.specialists, plan.onnx, series.values, spec.minTrain - 1);
      const progress = startProgress({ total: series.values.length - spec.minTrain, unit: "bars" });
      let result: BacktestResult;
      try {
        let reported = 0;
        result = runBacktest(
          series.values,
          { ...spec, specialists },
          {
            rowName: (i) => `${basename(flags.data)} line ${series.lines[i]}`,
            progress: (done) => {
              if (done - reported >= 100) {
                progress.advance(done - reported);
                reported = done;
              }
            },
          },
        );
        progress.advance(result.realized.length - reported);
      } catch (error) {
        progress.abort();
        throw error;
      }
      progress.finish("backtested");
      const scores = scoreBacktest(result);
      const report = backtestReport(result, scores, series, {
        router: plan.name,
        data: basename(flags.data),
        column: flags.column ?? "ret",
        scale,
        spec,
      });
      if (flags.json !== undefined) await writeFile(flags.json, `${JSON.stringify(report)}\n`);
      if (flags.html !== undefined)
        await writeFile(
          flags.html,
          renderBacktestReport(result, scores, {
            title: `Backtest of ${plan.name} on ${basename(flags.data)}`,
            data: `${basename(flags.data)} · ${flags.column ?? "ret"} × ${scale}`,
            generatedAt: Date.now(),
            times: report.series.time,
            level: report.series.level,
            levelName: series.prices === undefined ? "cumulative index (100 at start)" : "price",
            setup: report.setup,
          }),
        );
      if (flags.output === "json") {
        const { series: _perBar, ...summary } = report;
        process.stdout.write(`${JSON.stringify(summary)}\n`);
        return;
      }
      process.stdout.write(summaryTable(scores));
    });
}

interface Plan {
  readonly name: string;
  readonly scale: number;
  readonly spec: BacktestSpec;
  /** Specialist name -> ONNX file (an external specialist whose forecasts are computed first). */
  readonly onnx: ReadonlyMap<string, string>;
}

async function readYaml(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    throw invalid(`cannot read ${path}`);
  }
  let value: unknown;
  try {
    value = parse(text);
  } catch (error) {
    throw invalid(`${basename(path)}: not valid YAML: ${(error as Error).message.split("\n")[0] ?? ""}`);
  }
  if (!isPlainObject(value)) throw invalid(`${basename(path)}: expected a YAML mapping`);
  return value;
}

/** The router and how to backtest it, from `-f`. */
export async function readPlan(path: string): Promise<Plan> {
  const top = await readYaml(path);
  const isRouter = top["kind"] === "Router";
  const routerPath = isRouter
    ? path
    : typeof top["router"] === "string"
      ? resolve(dirname(path), top["router"])
      : undefined;
  if (routerPath === undefined)
    throw invalid(
      `${basename(path)}: expected a kind: Router manifest, or a backtest file with router: <file>`,
    );
  const router = isRouter ? top : await readYaml(routerPath);
  const where = basename(routerPath);
  if (router["kind"] !== "Router")
    throw invalid(`${where}: kind must be Router, got ${String(router["kind"])}`);
  const backtest = isRouter ? {} : top;
  const spec = isPlainObject(router["spec"]) ? router["spec"] : {};
  const name = isPlainObject(router["metadata"]) ? String(router["metadata"]["name"] ?? "router") : "router";
  const regimes = Array.isArray(spec["regimes"]) ? spec["regimes"].map(String) : ["calm", "turbulent"];
  const declared = Array.isArray(spec["specialists"]) ? spec["specialists"] : [];
  if (declared.length === 0) throw invalid(`${where}: spec.specialists is empty`);
  const kinds = isPlainObject(backtest["specialists"]) ? backtest["specialists"] : {};
  const onnx = new Map<string, string>();
  const specialists: BacktestSpecialist[] = declared.map((entry, i) => {
    const specialistName = isPlainObject(entry) ? entry["name"] : undefined;
    if (typeof specialistName !== "string") throw invalid(`${where}: spec.specialists[${i}] has no name`);
    const kind = String(kinds[specialistName] ?? specialistName);
    if (kind.startsWith("onnx:")) {
      onnx.set(specialistName, resolve(dirname(path), kind.slice("onnx:".length)));
      return { name: specialistName, kind: "external", forecasts: [] };
    }
    if (!(TRACKED_KINDS as readonly string[]).includes(kind))
      throw invalid(
        `specialist ${specialistName}: unknown kind '${kind}'; a backtest runs ${TRACKED_KINDS.join(", ")} or onnx:<file> (map router names to kinds in a backtest file's specialists:)`,
      );
    return { name: specialistName, kind: kind as TrackedKind };
  });
  const names = specialists.map((s) => s.name);
  const mode = String(spec["mode"] ?? "soft");
  if (!(ROUTER_MODES as readonly string[]).includes(mode))
    throw invalid(`${where}: spec.mode must be hard or soft, got ${mode}`);
  const weights = readWeights(spec["weights"], regimes, names, where);
  const learningSpec = isPlainObject(spec["learning"]) ? spec["learning"] : undefined;
  let learning: BacktestSpec["learning"];
  if (learningSpec !== undefined) {
    const algorithm = String(learningSpec["algorithm"] ?? "fixed-share");
    if (!(LEARNING_ALGORITHMS as readonly string[]).includes(algorithm))
      throw invalid(`${where}: spec.learning.algorithm must be hedge or fixed-share, got ${algorithm}`);
    const loss = String(learningSpec["loss"] ?? "qlike");
    if (loss !== "qlike" && loss !== "mse")
      throw invalid(`${where}: spec.learning.loss must be qlike or mse, got ${loss}`);
    learning = {
      algorithm: algorithm as LearningAlgorithm,
      rate: Number(learningSpec["rate"] ?? 1),
      share: Number(learningSpec["share"] ?? (algorithm === "fixed-share" ? 0.01 : 0)),
      loss: loss as LearningLoss,
    };
  }
  const classifier = isPlainObject(backtest["classifier"]) ? backtest["classifier"] : {};
  const method = String(classifier["method"] ?? "markov-switching");
  if (!(CLASSIFIER_METHODS as readonly string[]).includes(method))
    throw invalid(`classifier.method must be one of ${CLASSIFIER_METHODS.join(", ")}, got ${method}`);
  const number = (v: unknown, fallback: number): number => (v === undefined ? fallback : Number(v));
  return {
    name,
    scale: number(spec["scale"], 1),
    onnx,
    spec: {
      specialists,
      classifier: { method: method as ClassifierMethod, labels: regimes },
      mode: mode as RouterMode,
      ...(weights === undefined ? {} : { weights }),
      ...(learning === undefined ? {} : { learning }),
      minTrain: number(backtest["minTrain"], 1000),
      refit: number(backtest["refit"], 250),
      ...(backtest["window"] === undefined ? {} : { window: Number(backtest["window"]) }),
    },
  };
}

/** spec.weights: per regime, `{route: name}` (one-hot) or `{weights: {name: w}}` (normalised). */
function readWeights(
  value: unknown,
  regimes: readonly string[],
  names: readonly string[],
  where: string,
): number[][] | undefined {
  if (value === undefined) return undefined;
  if (!isPlainObject(value))
    throw invalid(`${where}: spec.weights must map each regime to a route or weights`);
  return regimes.map((regime) => {
    const entry = value[regime];
    if (!isPlainObject(entry)) return names.map(() => 1 / names.length);
    if (typeof entry["route"] === "string") {
      const at = names.indexOf(entry["route"]);
      if (at < 0)
        throw invalid(`${where}: spec.weights.${regime}.route names no specialist: ${entry["route"]}`);
      return names.map((_, i) => (i === at ? 1 : 0));
    }
    const w = isPlainObject(entry["weights"]) ? entry["weights"] : {};
    for (const key of Object.keys(w))
      if (!names.includes(key))
        throw invalid(`${where}: spec.weights.${regime}.weights names no specialist: ${key}`);
    const row = names.map((n) => Number(w[n] ?? 0));
    const total = row.reduce((a, b) => a + b, 0);
    if (!(total > 0) || row.some((x) => !(x >= 0)))
      throw invalid(`${where}: spec.weights.${regime}.weights must be >= 0 with a positive sum`);
    return row.map((x) => x / total);
  });
}

/**
 * The ONNX specialists' forecasts, computed before the walk from the window ending at each bar
 * (input `returns` [n, W], output `variance` [n, 1], as train_lstm.py exports); NaN before the
 * first full window.
 */
async function withOnnx(
  specialists: readonly BacktestSpecialist[],
  onnx: ReadonlyMap<string, string>,
  returns: readonly number[],
  first: number,
): Promise<BacktestSpecialist[]> {
  const out: BacktestSpecialist[] = [];
  for (const sp of specialists) {
    const path = onnx.get(sp.name);
    if (path === undefined) {
      out.push(sp);
      continue;
    }
    const model = await onnxRuntime.load({ artifactPath: path, signature: null, timeoutMs: 60_000 });
    try {
      const input = model.signature.inputs[0];
      const width = input?.shape[1];
      if (input === undefined || width === undefined || width < 1)
        throw invalid(`${basename(path)}: expected an input [batch, W] with a fixed W`);
      const start = Math.max(first, width - 1);
      const last = returns.length - 1;
      const forecasts = new Float64Array(returns.length).fill(Number.NaN);
      const batch = 4096;
      for (let from = start; from <= last; from += batch) {
        const to = Math.min(last, from + batch - 1);
        const data = externalWindows(returns, width, from, to);
        const [variance] = await model.infer([
          { name: input.name, datatype: "FP32", shape: [to - from + 1, width], data },
        ]);
        const values = variance?.data as ArrayLike<number> | undefined;
        if (values === undefined) throw invalid(`${basename(path)} gave no output`);
        for (let t = from; t <= to; t++) forecasts[t] = Number(values[t - from]);
      }
      out.push({ name: sp.name, kind: "external", forecasts });
    } finally {
      await model.unload();
    }
  }
  return out;
}

interface ReportContext {
  readonly router: string;
  readonly data: string;
  readonly column: string;
  readonly scale: number;
  readonly spec: BacktestSpec;
}

/** The JSON report: setup, scores, refit log, and the per-bar series. */
export function backtestReport(
  result: BacktestResult,
  scores: BacktestScores,
  series: { values: number[]; lines: number[]; times?: Array<string | number>; prices?: number[] },
  context: ReportContext,
) {
  // The level at each bar t: the price, or a cumulative index from the returns (100 at the start).
  const level: number[] = [];
  let index = 100;
  const levels = series.values.map((r) => (index *= Math.exp(r / context.scale)));
  for (const t of result.bars) level.push(series.prices?.[t] ?? (levels[t] as number));
  const { specialists, ...rest } = context.spec;
  return {
    setup: {
      router: context.router,
      data: context.data,
      column: context.column,
      scale: context.scale,
      ...rest,
      specialists: specialists.map((s) => ({ name: s.name, kind: s.kind === "external" ? "onnx" : s.kind })),
      returns: series.values.length,
    },
    scores,
    failures: Object.fromEntries(result.names.map((n, i) => [n, result.failures[i]])),
    refits: result.refits,
    series: {
      bar: Array.from(result.bars),
      line: Array.from(result.bars, (t) => series.lines[t + 1] as number),
      time: series.times === undefined ? undefined : Array.from(result.bars, (t) => series.times?.[t + 1]),
      level,
      realized: Array.from(result.realized),
      router: Array.from(result.router),
      forecasts: Object.fromEntries(result.names.map((n, i) => [n, Array.from(result.forecasts[i] ?? [])])),
      regime: Array.from(result.regime, (j) => result.labels[j]),
      probabilities: Object.fromEntries(
        result.labels.map((l, j) => [l, Array.from(result.probabilities[j] ?? [])]),
      ),
      weights: Object.fromEntries(result.names.map((n, i) => [n, Array.from(result.weights[i] ?? [])])),
    },
  };
}

function summaryTable(scores: BacktestScores): string {
  const f = (x: number | undefined): string =>
    x === undefined || !Number.isFinite(x) ? "-" : x.toPrecision(4);
  const rows: string[][] = [];
  const scopes = [
    { label: "all", losses: scores.overall, dm: scores.dm, best: scores.best },
    ...scores.byRegime.map((r) => ({ label: r.label, losses: r.losses, dm: r.dm, best: r.best })),
  ];
  for (const scope of scopes)
    for (const model of scores.models) {
      const l = scope.losses[model];
      const isRouter = model === "router";
      rows.push([
        scope.label,
        model + (model === scope.best ? " *" : ""),
        String(l?.n ?? 0),
        f(l?.qlike),
        f(l?.mse),
        isRouter ? f(scope.dm?.qlike?.pValue) : "",
        isRouter ? f(scope.dm?.mse?.pValue) : "",
      ]);
    }
  return (
    formatTable(["REGIME", "MODEL", "BARS", "QLIKE", "MSE", "DM p (QLIKE)", "DM p (MSE)"], rows) +
    `* best single specialist by QLIKE; DM: Diebold-Mariano (HLN), router vs that specialist, two-sided. Router/best QLIKE ${f(scores.ratio.qlike)}, MSE ${f(scores.ratio.mse)}\n`
  );
}
