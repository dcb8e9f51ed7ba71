/**
 * `ballast report drift --reference ref.csv --current cur.csv [--segment col] --html r.html
 * --json r.json`: drift of one file against another, as a table on the terminal, a standalone
 * HTML page and JSON with the same numbers.
 */
import { writeFile } from "node:fs/promises";
import { basename } from "node:path";
import type { Command } from "commander";
import { invalid } from "../../domain/errors.js";
import { countRows, rowFormatFor } from "../../io/rows.js";
import { driftBetweenFiles } from "../../monitoring/file-drift.js";
import {
  MISSING_POLICIES,
  methodLabel,
  type DriftResult,
  type MissingPolicy,
} from "../../monitoring/drift.js";
import { DEFAULT_MAX_EXACT_ROWS } from "../../monitoring/raw-values.js";
import type { Correction } from "../../math/stats/dataset-drift.js";
import { DEFAULT_RULE_TEXT } from "../../math/stats/default-rule.js";
import { renderDriftReport } from "../../monitoring/report/html.js";
import { startProgress } from "../progress.js";
import { collect, pairs } from "../options.js";
import { DEFAULT_SERVER, clientFor } from "../client.js";
import { parseDuration } from "../../domain/duration.js";
import type { LogDrift } from "../../monitoring/log-drift.js";
import { formatTable } from "../table.js";
import { list } from "./profile.js";

interface DriftCommandOptions {
  reference?: string;
  current?: string;
  deployment?: string;
  window: string;
  server: string;
  token?: string;
  format?: string;
  segment?: string;
  exclude?: string;
  test: string[];
  threshold: string[];
  correction: string;
  share: string;
  html?: string;
  json?: string;
  maxExactRows: string;
  missing: string;
}

const CORRECTIONS: readonly Correction[] = ["none", "bonferroni", "benjamini-hochberg"];

export function register(program: Command): void {
  const report = program.command("report").description("Reports: data drift between two files");
  report
    .command("drift")
    .description(
      "Drift per feature and for the dataset: of --current against --reference (files), or of what --deployment received over --window against its versions' reference profiles",
    )
    .option("--reference <file>", "reference data (CSV or JSONL), e.g. the training data")
    .option("--current <file>", "current data (CSV or JSONL), e.g. last week's requests")
    .option(
      "--deployment <name>",
      "instead of files: read the running server's prediction log for this deployment",
    )
    .option(
      "--window <last-N>",
      "with --deployment: the period up to now, e.g. last-7d, last-24h, last-30m",
      "last-7d",
    )
    .option("--server <url>", "with --deployment: the Ballast server (or $BALLAST_SERVER)", DEFAULT_SERVER)
    .option("--token <token>", "with --deployment: API token, if the server requires one (or $BALLAST_TOKEN)")
    .option("--format <format>", "csv or jsonl (default: from the extension)")
    .option(
      "--segment <column>",
      "also report drift per value of this column (files: at most 50 values; --deployment: the first 20, the rest as __other__)",
    )
    .option("--exclude <a,b>", "columns to leave out (labels, ids, timestamps)")
    .option(
      "--test <feature=test>",
      "use this test for a feature instead of the default rule (repeatable)",
      collect,
      [],
    )
    .option(
      "--threshold <feature=value>",
      "threshold for a feature instead of its test's default (repeatable)",
      collect,
      [],
    )
    .option(
      "--correction <method>",
      "multiple-testing correction for p-value tests: none, bonferroni, benjamini-hochberg",
      "none",
    )
    .option("--share <fraction>", "share of drifted features at which the dataset counts as drifted", "0.5")
    .option(
      "--missing <policy>",
      "ignore: rows without a feature are left out of its test and shown as its missing share; drift: a changed missing rate counts as drift",
      "ignore",
    )
    .option(
      "--max-exact-rows <n>",
      "files: keep up to n raw values per numerical feature and file for exact KS and Wasserstein (scipy's answers); past n a feature uses quantile sketches (± bound)",
      String(DEFAULT_MAX_EXACT_ROWS),
    )
    .option("--html <file>", "write a standalone HTML report (no network needed to view it)")
    .option("--json <file>", "write the numbers as JSON")
    .addHelpText("after", `\nDefault choice of test:\n${DEFAULT_RULE_TEXT}\n`)
    .action(async (options: DriftCommandOptions) => {
      if (!(MISSING_POLICIES as readonly string[]).includes(options.missing))
        throw invalid(`--missing must be one of ${MISSING_POLICIES.join(", ")}`);
      if (options.deployment !== undefined) return deploymentReport(options);
      if (options.reference === undefined || options.current === undefined) {
        throw invalid("give --reference and --current files, or --deployment to read a running server's log");
      }
      const files = { reference: options.reference, current: options.current };
      const correction = options.correction as Correction;
      if (!CORRECTIONS.includes(correction))
        throw invalid(`--correction must be one of ${CORRECTIONS.join(", ")}`);
      const share = Number(options.share);
      if (!(share >= 0 && share <= 1))
        throw invalid(`--share must be a fraction in [0, 1], got '${options.share}'`);
      const maxExactRows = Number(options.maxExactRows);
      if (!Number.isSafeInteger(maxExactRows) || maxExactRows < 0)
        throw invalid(`--max-exact-rows must be a whole number ≥ 0, got '${options.maxExactRows}'`);
      const format = options.format === undefined ? undefined : rowFormatFor(files.current, options.format);
      // The reference is read twice (profile, then exact bin counts), the current file once.
      const total =
        2 * (await countRows(files.reference, { format })) + (await countRows(files.current, { format }));
      const progress = startProgress({ total, unit: "rows" });
      let drift: Awaited<ReturnType<typeof driftBetweenFiles>>;
      try {
        drift = await driftBetweenFiles(files.reference, files.current, {
          format,
          exclude: list(options.exclude),
          segment: options.segment,
          maxExactRows,
          progress: (rows) => progress.advance(rows),
          drift: {
            tests: pairs(options.test, "--test", (v) => v) ?? {},
            thresholds: pairs(options.threshold, "--threshold", (v, k) => {
              const n = Number(v);
              if (v.trim() === "" || !Number.isFinite(n))
                throw invalid(`--threshold ${k} must be a number, got '${v}'`);
              return n;
            }),
            correction,
            share,
            missing: options.missing as MissingPolicy,
          },
        });
        const { referenceRows, currentRows } = drift.overall;
        progress.finishWith(`compared ${currentRows} current rows with ${referenceRows} reference rows`);
      } catch (error) {
        progress.abort();
        throw error;
      }
      printSummary(drift.overall, "all rows");
      for (const s of drift.segment?.results ?? [])
        printSummary(s.result, `${drift.segment?.column} = ${s.value}`);
      const generatedAt = Date.now();
      if (options.json !== undefined) {
        await writeFile(
          options.json,
          JSON.stringify(
            {
              reference: files.reference,
              current: files.current,
              generatedAt,
              overall: labelled(drift.overall),
              ...(drift.segment === undefined
                ? {}
                : {
                    segment: {
                      ...drift.segment,
                      results: drift.segment.results.map((r) => ({ ...r, result: labelled(r.result) })),
                    },
                  }),
            },
            null,
            2,
          ),
        );
        process.stdout.write(`wrote ${options.json}\n`);
      }
      if (options.html !== undefined) {
        const context = {
          title: `Drift: ${basename(files.current)} against ${basename(files.reference)}`,
          reference: files.reference,
          current: files.current,
          generatedAt,
        };
        const pages = [renderDriftReport(drift.overall, context)];
        await writeFile(options.html, pages[0] as string);
        process.stdout.write(`wrote ${options.html}\n`);
        for (const s of drift.segment?.results ?? []) {
          const path = options.html.replace(
            /(\.html?)?$/,
            `.${safe(drift.segment?.column ?? "")}-${safe(s.value)}.html`,
          );
          await writeFile(
            path,
            renderDriftReport(s.result, {
              ...context,
              segment: { column: drift.segment?.column ?? "", value: s.value },
            }),
          );
          process.stdout.write(`wrote ${path}\n`);
        }
      }
    });
}

function printSummary(result: DriftResult, scope: string): void {
  const d = result.dataset;
  const verdict =
    d === null
      ? "no feature could be tested"
      : `${d.driftedCount} of ${d.features.length} features drifted (share ${d.share.toFixed(2)}, dataset ${d.drifted ? "DRIFTED" : "not drifted"})`;
  process.stdout.write(`\n${scope}: ${verdict}\n`);
  process.stdout.write(
    formatTable(
      ["FEATURE", "KIND", "TEST", "METHOD", "SCORE", "THRESHOLD", "DRIFTED", "MISSING"],
      result.features.map((f) => [
        f.feature,
        f.featureKind,
        f.test,
        methodLabel(f),
        f.skipped === undefined ? Number(f.score.toPrecision(4)).toString() : `- (${f.skipped})`,
        f.threshold,
        f.drifted ? "yes" : "no",
        `${(f.missingShare * 100).toFixed(1)}%`,
      ]),
    ),
  );
}

/** The result with each feature's method as reports show it ("exact", "sketch ±0.03"), for --json. */
function labelled(result: DriftResult): DriftResult & { features: Array<{ methodLabel: string }> } {
  return { ...result, features: result.features.map((f) => ({ ...f, methodLabel: methodLabel(f) })) };
}

function safe(text: string): string {
  return text.replace(/[^A-Za-z0-9._-]+/g, "_").slice(0, 40);
}

/** `--deployment fraud --window last-7d`: the server reads its own log; the page is drawn here. */
async function deploymentReport(options: DriftCommandOptions): Promise<void> {
  const deployment = options.deployment as string;
  const match = /^last-(.+)$/.exec(options.window);
  if (match === null)
    throw invalid(`--window must look like last-7d, last-24h or last-30m, got '${options.window}'`);
  const span = parseDuration(match[1] as string, "--window");
  const until = Date.now();
  const since = until - span;
  const client = clientFor(options);
  const result = await client.request<LogDrift>(
    "GET",
    `/api/v1/deployments/${encodeURIComponent(deployment)}/drift?since=${since}&until=${until}&correction=${encodeURIComponent(options.correction)}&missing=${encodeURIComponent(options.missing)}${options.segment === undefined ? "" : `&segment=${encodeURIComponent(options.segment)}`}`,
  );
  // Each logged prediction is one request, which may carry many rows.
  const rows = result.groups.reduce((sum, g) => sum + g.rows, 0);
  process.stdout.write(
    `${deployment}, ${options.window}: ${result.predictions} logged requests (${rows} rows)\n`,
  );
  if (result.groups.length === 0) process.stdout.write("nothing was logged in that period\n");
  for (const g of result.groups) {
    const scope = `variant ${g.variant} (${g.model} v${g.version}, ${g.rows} rows)`;
    if (g.drift === null) process.stdout.write(`\n${scope}: ${g.problem ?? "no result"}\n`);
    else printSummary(g.drift, scope);
    if (g.segmentProblem !== undefined) process.stdout.write(`\n${scope}: ${g.segmentProblem}\n`);
    for (const s of g.segments ?? [])
      printSummary(s.drift, `variant ${g.variant}, ${options.segment} = ${s.segment} (${s.rows} rows)`);
  }
  const generatedAt = Date.now();
  if (options.json !== undefined) {
    const groups = result.groups.map((g) => (g.drift === null ? g : { ...g, drift: labelled(g.drift) }));
    await writeFile(options.json, JSON.stringify({ generatedAt, ...result, groups }, null, 2));
    process.stdout.write(`wrote ${options.json}\n`);
  }
  if (options.html !== undefined) {
    const drawn = result.groups.filter((g) => g.drift !== null);
    for (const g of drawn) {
      const path =
        drawn.length === 1
          ? options.html
          : options.html.replace(/(\.html?)?$/, `.${safe(g.variant)}-v${g.version}.html`);
      await writeFile(
        path,
        renderDriftReport(g.drift as DriftResult, {
          title: `Drift: ${deployment} ${options.window} (${g.variant}, ${g.model} v${g.version})`,
          reference: `reference profile of ${g.model} v${g.version}`,
          current: `${new Date(since).toISOString()} – ${new Date(until).toISOString()}`,
          generatedAt,
        }),
      );
      process.stdout.write(`wrote ${path}\n`);
    }
  }
}
