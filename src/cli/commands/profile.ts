/** `ballast profile <file> -o profile.json`: a reference profile of a CSV or JSONL file. */
import { writeFile } from "node:fs/promises";
import type { Command } from "commander";
import { invalid } from "../../domain/errors.js";
import { countRows, rowFormatFor, type RowFormat } from "../../io/rows.js";
import { profileFile } from "../../monitoring/file-drift.js";
import { calibrationFromFile } from "../../monitoring/file-calibration.js";
import {
  FEATURE_KINDS,
  serializeProfile,
  type FeatureKind,
} from "../../monitoring/profile/reference-profile.js";
import { startProgress } from "../progress.js";
import { collect, parsePositiveInt } from "../options.js";
import { formatTable } from "../table.js";

interface ProfileCommandOptions {
  output: string;
  format?: string;
  exclude?: string;
  outputs?: string;
  kind: string[];
  bins: string;
  maxCategories: string;
  label?: string;
  scoreColumn?: string;
  positive?: string;
}

export function register(program: Command): void {
  program
    .command("profile <file>")
    .description("Profile reference data (CSV or JSONL) for drift monitoring: kinds, bins, frequencies")
    .requiredOption("-o, --output <file>", "where to write the profile (JSON)")
    .option("--format <format>", "csv or jsonl (default: from the extension)")
    .option("--exclude <a,b>", "columns to leave out (labels, ids, timestamps)")
    .option("--outputs <a,b>", "columns that are model outputs (profiled for prediction drift)")
    .option(
      "--kind <column=kind>",
      "override the inferred kind: numerical, categorical or binary (repeatable)",
      collect,
      [],
    )
    .option("--bins <n>", "numerical bins, from reference quantiles", "10")
    .option("--max-categories <n>", "categories kept per feature; the rest count as __other__", "100")
    .option("--label <column>", "the true label; with --score-column, adds a CBPE calibration")
    .option("--score-column <column>", "the model's P(positive) on each row; with --label, for CBPE")
    .option("--positive <value>", "the label value meaning positive (default: 1/true)")
    .action(async (file: string, options: ProfileCommandOptions) => {
      const format: RowFormat = rowFormatFor(file, options.format);
      if ((options.label === undefined) !== (options.scoreColumn === undefined))
        throw invalid("--label and --score-column go together: CBPE calibrates the score on the label");
      const calibrated = options.label !== undefined && options.scoreColumn !== undefined;
      const outputs = list(options.outputs);
      // The label is never a feature; the score is one only when named as an output.
      const calibrationColumns = calibrated
        ? [
            options.label as string,
            ...(outputs.includes(options.scoreColumn as string) ? [] : [options.scoreColumn as string]),
          ]
        : [];
      // Read twice: once to profile, once to count the reference exactly in the chosen bins.
      const progress = startProgress({ total: 2 * (await countRows(file, { format })), unit: "rows" });
      try {
        const features = await profileFile(file, {
          format,
          exclude: [...list(options.exclude), ...calibrationColumns],
          progress: (rows) => progress.advance(rows),
          profile: {
            outputs,
            kinds: kinds(options.kind),
            bins: parsePositiveInt(options.bins, "--bins"),
            maxCategories: parsePositiveInt(options.maxCategories, "--max-categories"),
          },
        });
        progress.finish("profiled", features.rows);
        const calibration = calibrated
          ? await calibrationFromFile(
              file,
              {
                score: options.scoreColumn as string,
                label: options.label as string,
                ...(options.positive === undefined ? {} : { positive: options.positive }),
              },
              format,
            )
          : undefined;
        const profile =
          calibration === undefined ? features : { ...features, calibration: calibration.calibration };
        await writeFile(options.output, serializeProfile(profile));
        process.stdout.write(
          formatTable(
            ["FEATURE", "ROLE", "KIND", "COUNT", "MISSING", "SUMMARY"],
            profile.features.map((f) => [
              f.name,
              f.role,
              f.kind,
              f.count,
              f.missing,
              f.kind === "numerical"
                ? `mean ${fmt(f.mean)} sd ${fmt(f.std)} [${fmt(f.min)}, ${fmt(f.max)}] ${Math.max(0, f.edges.length - 1)} bins`
                : `${f.categories.length} categories${f.kind === "categorical" && f.other > 0 ? ` + ${f.other} other` : ""}`,
            ]),
          ),
        );
        if (calibration !== undefined) {
          const c = calibration.calibration;
          process.stdout.write(
            `calibration: ${c.score} against ${c.label} on ${calibration.used} rows (${calibration.skipped} without both), prevalence ${fmt(c.prevalence)}, ${c.isotonic.x.length} knots\n`,
          );
        }
        process.stdout.write(
          `wrote ${options.output} (${profile.rows} rows, ${profile.features.length} features)\n`,
        );
      } catch (error) {
        progress.abort();
        throw error;
      }
    });
}

export function list(raw: string | undefined): string[] {
  return raw === undefined
    ? []
    : raw
        .split(",")
        .map((s) => s.trim())
        .filter((s) => s.length > 0);
}

function kinds(pairs: string[]): Record<string, FeatureKind> {
  const out: Record<string, FeatureKind> = {};
  for (const pair of pairs) {
    const [column, kind] = pair.split("=");
    if (column === undefined || column === "" || !(FEATURE_KINDS as readonly string[]).includes(kind ?? "")) {
      throw invalid(`--kind expects column=${FEATURE_KINDS.join("|")}, got '${pair}'`);
    }
    out[column] = kind as FeatureKind;
  }
  return out;
}

function fmt(value: number | null): string {
  return value === null ? "-" : Number(value.toPrecision(4)).toString();
}
