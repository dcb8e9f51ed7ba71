/**
 * `ballast fit garch|regimes -f file.csv --column c`: the statistics behind the markets story,
 * on the command line so that anyone can check them against R or statsmodels. `fit garch|ewma|
 * har-rv|last-value --save model.json` also writes the fit as a builtin model file (see
 * runtimes/builtin/volatility-format.ts) that `ballast models register` and `serve --model` take.
 */
import { writeFile } from "node:fs/promises";
import { basename } from "node:path";
import type { Command } from "commander";
import { invalid } from "../../domain/errors.js";
import { GARCH_KINDS, type GarchFit, type GarchKind } from "../../markets/garch.js";
import { fitHmm, type HmmFit } from "../../markets/hmm.js";
import { fitMarkovSwitching, type MarkovSwitchingFit } from "../../markets/markov-switching.js";
import { readSeriesFile, RETURN_KINDS, type ReturnKind } from "../../markets/series-file.js";
import { forecastFromWindow, RISKMETRICS_LAMBDA, type HarRvFit } from "../../markets/specialists.js";
import { serializeBuiltinModel } from "../../runtimes/builtin/format.js";
import { fitVolatilityModel, type VolatilityFit } from "../../runtimes/builtin/volatility-fit.js";
import { parsePositiveInt } from "../options.js";
import { formatTable } from "../table.js";

interface SeriesFlags {
  file: string;
  save?: string;
  window?: string;
  horizon?: string;
  column: string;
  scale?: string;
  returns?: string;
  output?: string;
}

const REGIME_METHODS = ["markov-switching", "hmm"] as const;

export function register(program: Command): void {
  const fit = program.command("fit").description("Fit volatility and regime models to a series in a file");

  withSeriesFlags(
    fit
      .command("garch")
      .description("GARCH(1,1) or GJR-GARCH(1,1) with a constant mean, Gaussian QMLE")
      .option("--model <model>", "garch or gjr", "garch"),
    250,
  ).action(async (options: SeriesFlags & { model: string }) => {
    if (!(GARCH_KINDS as readonly string[]).includes(options.model))
      throw invalid(`--model must be garch or gjr, got '${options.model}'`);
    const series = await readSeries(options);
    const fitted = fitVolatilityModel(series.values, {
      kind: options.model as GarchKind,
      window: windowOf(options, 250),
      horizon: horizonOf(options),
      standardErrors: true,
      rowName: (i) => `${basename(options.file)} line ${series.lines[i]}`,
      training: trainingOf(options),
    });
    const result = fitted.garch as GarchFit;
    const p = result.model.params;
    const out = {
      n: result.n,
      mu: p.mu,
      omega: p.omega,
      alpha: p.alpha,
      ...(result.model.kind === "gjr" ? { gamma: p.gamma } : {}),
      beta: p.beta,
      loglik: result.loglik,
    };
    await saveSpecialist(options, fitted);
    if (options.output === "json") {
      process.stdout.write(`${JSON.stringify(out)}\n`);
      return;
    }
    const se = result.standardErrors;
    const names = Object.keys(out).filter((k) => k !== "n" && k !== "loglik") as Array<keyof typeof p>;
    process.stdout.write(
      formatTable(
        ["PARAMETER", "ESTIMATE", "STD ERROR"],
        names.map((k) => [k, fmt(p[k]), se === undefined ? "-" : fmt(se[k])]),
      ),
    );
    process.stdout.write(
      `n ${result.n}, log-likelihood ${result.loglik.toFixed(4)}, persistence ${fmt(p.alpha + p.gamma / 2 + p.beta)}\n`,
    );
  });

  withSeriesFlags(
    fit
      .command("regimes")
      .description("A regime model: Markov switching (Hamilton) or a Gaussian HMM (Baum-Welch)")
      .option("--method <method>", "markov-switching or hmm", "markov-switching")
      .option("--regimes <n>", "number of regimes (2 or 3; up to 4 for markov-switching)", "2")
      .option("--switching-variance", "markov-switching: each regime its own variance")
      .option("--ar <p>", "markov-switching: autoregressive order, Hamilton's form (0)", "0")
      .option("--probabilities <file>", "write smoothed and filtered probabilities per row (CSV)"),
    undefined,
  ).action(
    async (
      options: SeriesFlags & {
        method: string;
        regimes: string;
        switchingVariance?: boolean;
        ar: string;
        probabilities?: string;
      },
    ) => {
      if (!(REGIME_METHODS as readonly string[]).includes(options.method))
        throw invalid(`--method must be markov-switching or hmm, got '${options.method}'`);
      const regimes = parsePositiveInt(options.regimes, "--regimes");
      const order = /^[0-9]+$/.test(options.ar) ? Number(options.ar) : Number.NaN;
      if (!Number.isInteger(order)) throw invalid(`--ar must be a whole number, got '${options.ar}'`);
      if (options.method === "hmm" && (order !== 0 || options.switchingVariance === true))
        throw invalid(
          "--ar and --switching-variance are for markov-switching; an HMM's states always have their own variance",
        );
      const series = await readSeries(options);
      const rowName = (i: number): string => `${basename(options.file)} line ${series.lines[i]}`;
      const fitted =
        options.method === "hmm"
          ? fromHmm(fitHmm(series.values, regimes, { rowName }))
          : fromMarkovSwitching(
              fitMarkovSwitching(
                series.values,
                { regimes, order, switchingVariance: options.switchingVariance === true },
                { rowName },
              ),
            );
      if (options.probabilities !== undefined) {
        const k = regimes;
        const header = [
          "row",
          "line",
          ...Array.from({ length: k }, (_, s) => `smoothed_${s}`),
          ...Array.from({ length: k }, (_, s) => `filtered_${s}`),
        ];
        const rows = fitted.smoothed.map((sm, t) => {
          const at = t + fitted.first;
          const fl = fitted.filtered[t] as Float64Array;
          return [at + 1, series.lines[at], ...Array.from(sm), ...Array.from(fl)].join(",");
        });
        await writeFile(options.probabilities, `${header.join(",")}\n${rows.join("\n")}\n`);
      }
      const out = {
        n: fitted.n,
        loglik: fitted.loglik,
        params: fitted.params,
        transition: fitted.transition,
        expected_durations: fitted.expected_durations,
      };
      if (options.output === "json") {
        process.stdout.write(`${JSON.stringify(out)}\n`);
        return;
      }
      process.stdout.write(
        formatTable(
          ["REGIME", "MEAN", "VARIANCE", "STAY", "EXPECTED DURATION"],
          out.params.means.map((m, s) => [
            s,
            fmt(m),
            fmt(out.params.variances[s] as number),
            fmt(out.transition[s]?.[s] as number),
            fmt(out.expected_durations[s] as number),
          ]),
        ),
      );
      process.stdout.write(
        `n ${out.n}, log-likelihood ${out.loglik.toFixed(4)}${options.probabilities === undefined ? "" : `; probabilities in ${options.probabilities}`}\n`,
      );
    },
  );

  registerBaselines(fit);
}

/** The baselines: EWMA (no estimation: lambda given), HAR-RV (OLS), the last value (none). */
function registerBaselines(fit: Command): void {
  withSeriesFlags(
    fit
      .command("ewma")
      .description(
        "EWMA variance (RiskMetrics): nothing to estimate, lambda given; --save writes a servable model",
      )
      .option("--lambda <lambda>", "decay, between 0 and 1", String(RISKMETRICS_LAMBDA)),
    250,
  ).action(async (options: SeriesFlags & { lambda: string }) => {
    const lambda = Number(options.lambda);
    if (options.lambda.trim() === "" || !(lambda > 0 && lambda < 1))
      throw invalid(`--lambda must be a number strictly between 0 and 1, got '${options.lambda}'`);
    const series = await readSeries(options);
    const variance = forecastFromWindow({ kind: "ewma", lambda }, series.values, 1)[0] as number;
    await saveSpecialist(options, fitSaved(options, series, "ewma", 250, { lambda }));
    printBaseline(options, { n: series.values.length, lambda, next_variance: variance });
  });

  withSeriesFlags(
    fit
      .command("har-rv")
      .description("HAR-RV (Corsi): next squared return on daily, weekly and monthly realized variance, OLS"),
    22,
  ).action(async (options: SeriesFlags) => {
    const series = await readSeries(options);
    const fitted = fitSaved(options, series, "har-rv", 22);
    const result = fitted.harRv as HarRvFit;
    await saveSpecialist(options, fitted);
    printBaseline(options, { n: result.n, ...result.coefficients, r_squared: result.rSquared });
  });

  withSeriesFlags(
    fit
      .command("last-value")
      .description("The last realized variance (mean squared return over --window) as the forecast"),
    22,
  ).action(async (options: SeriesFlags) => {
    const series = await readSeries(options);
    const window = parsePositiveInt(options.window ?? "22", "--window");
    const variance = forecastFromWindow({ kind: "last-value" }, series.values.slice(-window), 1)[0] as number;
    await saveSpecialist(options, fitSaved(options, series, "last-value", 22));
    printBaseline(options, { n: series.values.length, window, next_variance: variance });
  });
}

function printBaseline(options: SeriesFlags, out: Record<string, number>): void {
  if (options.output === "json") {
    process.stdout.write(`${JSON.stringify(out)}\n`);
    return;
  }
  process.stdout.write(
    formatTable(
      ["", "VALUE"],
      Object.entries(out).map(([k, v]) => [k, fmt(v)]),
    ),
  );
}

/** The fit as volatility-fit.ts makes it (the pipelines' train step makes the same file). */
function fitSaved(
  options: SeriesFlags,
  series: { values: number[]; lines: number[] },
  kind: "ewma" | "har-rv" | "last-value",
  defaultWindow: number,
  extra: { lambda?: number } = {},
): VolatilityFit {
  return fitVolatilityModel(series.values, {
    kind,
    window: windowOf(options, defaultWindow),
    horizon: horizonOf(options),
    ...extra,
    rowName: (i) => `${basename(options.file)} line ${series.lines[i]}`,
    training: trainingOf(options),
  });
}

function windowOf(options: SeriesFlags, fallback: number): number {
  return parsePositiveInt(options.window ?? String(fallback), "--window");
}

function horizonOf(options: SeriesFlags): number {
  return parsePositiveInt(options.horizon ?? "1", "--horizon");
}

function trainingOf(options: SeriesFlags): Record<string, unknown> {
  return {
    file: basename(options.file),
    column: options.column,
    ...(options.scale === undefined ? {} : { scale: Number(options.scale) }),
  };
}

/**
 * With --save: the fit as a builtin model file, checked by the same parser the registry uses
 * (in fitVolatilityModel), so what is written can be registered and served as it is.
 */
async function saveSpecialist(options: SeriesFlags, fitted: VolatilityFit): Promise<void> {
  if (options.save === undefined) return;
  await writeFile(options.save, serializeBuiltinModel(fitted.model));
}

/** What `fit regimes` prints and writes, whichever method made it. */
interface RegimesFitted {
  readonly n: number;
  readonly loglik: number;
  readonly params: { means: number[]; variances: number[]; ar?: number[]; initial?: number[] };
  readonly transition: number[][];
  readonly expected_durations: number[];
  /** The series' row of the first modelled observation (an AR model conditions on the first p). */
  readonly first: number;
  readonly filtered: Float64Array[];
  readonly smoothed: Float64Array[];
}

function fromHmm(f: HmmFit): RegimesFitted {
  return {
    n: f.n,
    loglik: f.loglik,
    params: { means: f.params.means, variances: f.params.variances, initial: f.params.initial },
    transition: f.params.transition,
    expected_durations: f.expectedDurations,
    first: 0,
    filtered: f.filtered,
    smoothed: f.smoothed,
  };
}

function fromMarkovSwitching(f: MarkovSwitchingFit): RegimesFitted {
  return {
    n: f.n,
    loglik: f.loglik,
    params: {
      means: f.params.means,
      variances: f.params.variances,
      ...(f.spec.order > 0 ? { ar: f.params.ar } : {}),
    },
    transition: f.params.transition,
    expected_durations: f.expectedDurations,
    first: f.spec.order,
    filtered: f.filtered,
    smoothed: f.smoothed,
  };
}

/** The series flags; with `servableWindow`, also --save, --window (that default) and --horizon. */
function withSeriesFlags(command: Command, servableWindow: number | undefined): Command {
  const withSeries = command
    .requiredOption("-f, --file <file>", "CSV or JSONL file")
    .requiredOption("--column <column>", "the column holding returns (or prices, with --returns)")
    .option("--returns <kind>", "the column holds prices: derive log or simple returns")
    .option("--scale <factor>", "multiply the returns (100 for percent)")
    .option("-o, --output <format>", "json for machine-readable output");
  if (servableWindow === undefined) return withSeries;
  return withSeries
    .option(
      "--save <file>",
      "write the fit as a builtin model file (ballast models register / serve --model)",
    )
    .option(
      "--window <n>",
      "saved model: returns per input row (input `returns` [n, window])",
      String(servableWindow),
    )
    .option("--horizon <h>", "saved model: variances per output row (output `variance` [n, h])", "1");
}

async function readSeries(options: SeriesFlags): Promise<{ values: number[]; lines: number[] }> {
  if (options.returns !== undefined && !(RETURN_KINDS as readonly string[]).includes(options.returns))
    throw invalid(`--returns must be log or simple, got '${options.returns}'`);
  let scale = 1;
  if (options.scale !== undefined) {
    scale = Number(options.scale);
    if (options.scale.trim() === "" || !Number.isFinite(scale) || scale === 0)
      throw invalid(`--scale must be a non-zero number, got '${options.scale}'`);
  }
  if (options.output !== undefined && options.output !== "json")
    throw invalid(`--output must be json (or left out for a table), got '${options.output}'`);
  return readSeriesFile(options.file, {
    column: options.column,
    scale,
    ...(options.returns === undefined ? {} : { returns: options.returns as ReturnKind }),
  });
}

function fmt(v: number): string {
  return Number.isFinite(v) ? v.toPrecision(6) : String(v);
}
