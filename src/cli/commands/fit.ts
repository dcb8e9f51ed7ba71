/**
 * `ballast fit garch|regimes -f file.csv --column c`: the statistics behind the markets story,
 * on the command line so that anyone can check them against R or statsmodels. `fit garch|ewma|
 * har-rv|last-value --save model.json` also writes the fit as a builtin model file (see
 * runtimes/builtin/volatility-format.ts) that `ballast models register` and `serve --model` take.
 */
import { readFile, writeFile } from "node:fs/promises";
import { parse as parseYaml } from "yaml";
import { basename } from "node:path";
import type { Command } from "commander";
import { invalid } from "../../domain/errors.js";
import { GARCH_KINDS, type GarchFit, type GarchKind } from "../../markets/garch.js";
import { fitHmm, type HmmFit } from "../../markets/hmm.js";
import { fitMarkovSwitching, type MarkovSwitchingFit } from "../../markets/markov-switching.js";
import {
  defaultRegimeLabels,
  parseRegimeModel,
  readRegime,
  regimeModelFromHmm,
  regimeModelFromMarkovSwitching,
  startRegime,
  stepRegime,
  type RegimeModel,
} from "../../markets/regime-classifier.js";
import { readSeriesFile, RETURN_KINDS, type ReturnKind } from "../../markets/series-file.js";
import { forecastFromWindow, RISKMETRICS_LAMBDA, type HarRvFit } from "../../markets/specialists.js";
import { parseBuiltinModel, serializeBuiltinModel } from "../../runtimes/builtin/format.js";
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
  rows?: string;
  skipRepeats?: boolean;
  output?: string;
}

const REGIME_METHODS = ["markov-switching", "hmm", "rules"] as const;

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
      .description(
        "A regime model: Markov switching (Hamilton), a Gaussian HMM (Baum-Welch) or percentile rules; --save writes a servable classifier",
      )
      .option("--method <method>", "markov-switching, hmm or rules", "markov-switching")
      .option(
        "--rules <file>",
        "rules: the rules, YAML or JSON (indicator, window, lookback, enter, exit, minDuration)",
      )
      .option("--labels <names>", "regime names, calm first, comma-separated (default calm,turbulent for 2)")
      .option(
        "--save <file>",
        "write the classifier as a builtin model file (ballast models register / serve --model)",
      )
      .option(
        "--window <n>",
        "saved classifier: returns per input row (input `returns` [n, window]); 250, or what rules need",
      )
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
        rules?: string;
        labels?: string;
      },
    ) => {
      if (!(REGIME_METHODS as readonly string[]).includes(options.method))
        throw invalid(`--method must be markov-switching, hmm or rules, got '${options.method}'`);
      const regimes = parsePositiveInt(options.regimes, "--regimes");
      const labels = options.labels?.split(",").map((l) => l.trim());
      if (labels !== undefined && labels.length !== regimes)
        throw invalid(`--labels names ${labels.length} regimes but --regimes is ${regimes}`);
      const scale = options.scale === undefined ? 1 : Number(options.scale);
      if (options.method === "rules") {
        await fitRules(options, labels ?? defaultRegimeLabels(regimes), scale);
        return;
      }
      if (options.rules !== undefined) throw invalid("--rules is for --method rules");
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
      if (options.save !== undefined) {
        // The file is read with the returns already scaled; the classifier reads raw returns.
        const model =
          options.method === "hmm"
            ? regimeModelFromHmm(fitted.hmm as HmmFit, labels, scale)
            : regimeModelFromMarkovSwitching(fitted.ms as MarkovSwitchingFit, labels, scale);
        await saveClassifier(options, options.method === "hmm" ? "hmm" : "markov-switching", model, {
          n: fitted.n,
          loglik: fitted.loglik,
        });
      }
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
    ...(options.rows === undefined ? {} : { rows: Number(options.rows) }),
    ...(options.skipRepeats === true ? { skipRepeats: true } : {}),
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
  readonly hmm?: HmmFit;
  readonly ms?: MarkovSwitchingFit;
}

function fromHmm(f: HmmFit): RegimesFitted {
  return {
    hmm: f,
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
    ms: f,
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
    .option("--rows <n>", "only the file's first n data rows (fit on the past, replay the rest)")
    .option("--skip-repeats", "with --returns: drop a price equal to the one before (holiday fills)")
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
  let rows: number | undefined;
  if (options.rows !== undefined) {
    rows = Number(options.rows);
    if (!/^[1-9][0-9]*$/.test(options.rows.trim()) || !Number.isSafeInteger(rows))
      throw invalid(`--rows must be a positive whole number, got '${options.rows}'`);
  }
  if (options.skipRepeats === true && options.returns === undefined)
    throw invalid("--skip-repeats needs --returns (the column must hold prices)");
  return readSeriesFile(options.file, {
    column: options.column,
    scale,
    ...(rows === undefined ? {} : { rows }),
    ...(options.skipRepeats === true ? { skipRepeats: true } : {}),
    ...(options.returns === undefined ? {} : { returns: options.returns as ReturnKind }),
  });
}

function fmt(v: number): string {
  // Counts (n, window) read as counts, not as 15376.0.
  if (Number.isSafeInteger(v)) return String(v);
  return Number.isFinite(v) ? v.toPrecision(6) : String(v);
}

/**
 * `fit regimes --method rules --rules rules.yaml`: nothing is estimated; the rules are run over
 * the series and what they did is printed: n (returns classified once the rules had warmed up),
 * params (the rules, and the share of those returns in each regime), transition (the empirical
 * transition matrix of the rules' regime path, a row of nulls for a regime never left from),
 * expected_durations (1 / (1 - p_ii), null when infinite or unknown). No log-likelihood: rules
 * have none.
 */
async function fitRules(
  options: SeriesFlags & { rules?: string; probabilities?: string; switchingVariance?: boolean; ar: string },
  labels: string[],
  scale: number,
): Promise<void> {
  if (options.rules === undefined) throw invalid("--method rules needs --rules <file> (YAML or JSON)");
  if (options.switchingVariance === true || options.ar !== "0")
    throw invalid("--ar and --switching-variance are for markov-switching");
  let raw: unknown;
  try {
    raw = parseYaml(await readFile(options.rules, "utf8"));
  } catch (error) {
    throw invalid(`cannot read the rules in ${options.rules}: ${(error as Error).message}`);
  }
  // The series is read already scaled; the rules are scale-free (percentiles), and the saved
  // classifier multiplies what it reads by the same scale.
  const model = parseRegimeModel({ method: "rules", labels, scale: 1, rules: raw });
  const series = await readSeries(options);
  const k = labels.length;
  const counts = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  const visits = new Array<number>(k).fill(0);
  const path: Array<number | undefined> = [];
  let state = startRegime(model);
  let previous: number | undefined;
  for (const r of series.values) {
    state = stepRegime(model, state, r);
    const regime = readRegime(model, state)?.regime;
    path.push(regime);
    if (regime === undefined) continue;
    visits[regime] = (visits[regime] as number) + 1;
    if (previous !== undefined)
      (counts[previous] as number[])[regime] = ((counts[previous] as number[])[regime] as number) + 1;
    previous = regime;
  }
  const n = visits.reduce((a, b) => a + b, 0);
  if (n === 0)
    throw invalid(
      `the rules need at least ${model.method === "rules" ? model.rules.window + model.rules.lookback - 1 : 1} returns before they classify one; the series has ${series.values.length}`,
    );
  const transition = counts.map((row) => {
    const total = row.reduce((a, b) => a + b, 0);
    return row.map((c) => (total === 0 ? null : c / total));
  });
  const expected = transition.map((row, i) => {
    const stay = row[i];
    return stay === null || stay === undefined || stay >= 1 ? null : 1 / (1 - stay);
  });
  const saved = { ...model, scale };
  await saveClassifier(options, "regime-rules", saved, { n });
  if (options.probabilities !== undefined) {
    const header = ["row", "line", "regime", ...labels.map((_, s) => `filtered_${s}`)];
    const rows = path.map((regime, t) =>
      [
        t + 1,
        series.lines[t],
        regime ?? "",
        ...labels.map((_, s) => (regime === undefined ? "" : s === regime ? 1 : 0)),
      ].join(","),
    );
    await writeFile(options.probabilities, `${header.join(",")}\n${rows.join("\n")}\n`);
  }
  const out = {
    n,
    params: { rules: model.method === "rules" ? model.rules : {}, labels, shares: visits.map((v) => v / n) },
    transition,
    expected_durations: expected,
  };
  if (options.output === "json") {
    process.stdout.write(`${JSON.stringify(out)}\n`);
    return;
  }
  process.stdout.write(
    formatTable(
      ["REGIME", "LABEL", "SHARE", "STAY", "EXPECTED DURATION"],
      labels.map((label, s) => [
        s,
        label,
        fmt(out.params.shares[s] as number),
        transition[s]?.[s] === null ? "-" : fmt(transition[s]?.[s] as number),
        expected[s] === null ? "-" : fmt(expected[s] as number),
      ]),
    ),
  );
  process.stdout.write(
    `n ${n} (after a warm-up of ${series.values.length - n} returns); rules have no likelihood\n`,
  );
}

/** With --save: the classifier as a builtin model file, checked by the parser the registry uses. */
async function saveClassifier(
  options: SeriesFlags,
  kind: "markov-switching" | "hmm" | "regime-rules",
  regimes: RegimeModel,
  training: Record<string, unknown>,
): Promise<void> {
  if (options.save === undefined) return;
  const needed = regimes.method === "rules" ? regimes.rules.window + regimes.rules.lookback - 1 : 1;
  const window = parsePositiveInt(options.window ?? String(Math.max(250, needed)), "--window");
  const model = parseBuiltinModel({
    format: "ballast.builtin/v1",
    kind,
    window,
    regimes,
    training: { ...training, file: basename(options.file), column: options.column, labels: regimes.labels },
  });
  await writeFile(options.save, serializeBuiltinModel(model));
}
