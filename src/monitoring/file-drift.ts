/**
 * Profiles and drift from files (CSV or JSONL), streamed in batches so memory stays bounded
 * whatever the file size: what `ballast profile` and `ballast report drift` run.
 *
 * A reference is read twice: once to profile it (bin edges come from its quantiles), once more
 * to count it exactly in those bins, so the binned tests never compare against sketch estimates.
 * The raw values of numerical features are kept on both sides while they fit (`maxExactRows`
 * per feature), so KS and Wasserstein are scipy's exact answers; past that limit a feature falls
 * back to its sketches and its rows say so ("sketch ±0.03").
 */
import { invalid } from "../domain/errors.js";
import { isPlainObject } from "../domain/json-value.js";
import { readRowBatches, type RowFormat } from "../io/rows.js";
import { ProfileBuilder, type ProfileOptions } from "./profile/profile-builder.js";
import { binCountFor } from "./profile/numeric-bins.js";
import type { ReferenceProfile } from "./profile/reference-profile.js";
import { WindowSketch } from "./sketches/feature-window.js";
import { evaluateDrift, type DriftOptions, type DriftResult } from "./drift.js";
import { RawValues } from "./raw-values.js";

const BATCH = 4096;
/** Segments reported at most: past this a column is not a segment key but an id. */
export const MAX_SEGMENTS = 50;

export interface FileOptions {
  readonly format?: RowFormat;
  /** Columns left out of the profile (labels, ids, timestamps). */
  readonly exclude?: readonly string[];
  /**
   * Called after each batch with the number of rows just read, for progress bars. A reference
   * is read twice and the current file once, so a report reads 2 × reference + current rows.
   */
  readonly progress?: (rows: number) => void;
  /** Raw values kept per numerical feature and side for exact tests (default 1,000,000). */
  readonly maxExactRows?: number;
}

export interface SegmentedDrift {
  readonly overall: DriftResult;
  readonly segment?: {
    readonly column: string;
    readonly results: Array<{ value: string; result: DriftResult }>;
  };
}

/** The reference profile of a file, with exact reference counts in its bins. */
export async function profileFile(
  path: string,
  options: FileOptions & { profile?: ProfileOptions } = {},
): Promise<ReferenceProfile> {
  const { profiles } = await profileGroups(path, undefined, options, false);
  return profiles.get(ALL) as ReferenceProfile;
}

/** Drift of `current` against `reference`, overall and (with `segment`) per value of that column. */
export async function driftBetweenFiles(
  referencePath: string,
  currentPath: string,
  options: FileOptions & { profile?: ProfileOptions; drift?: DriftOptions; segment?: string } = {},
): Promise<SegmentedDrift> {
  const { profiles, raw: referenceRaw } = await profileGroups(referencePath, options.segment, options);
  const windows = new Map<string, WindowSketch>();
  const currentRaw = new Map<string, RawValues>();
  for (const [key, profile] of profiles) {
    windows.set(key, new WindowSketch(profile, { role: "input" }));
    currentRaw.set(key, rawValuesFor(profile, options));
  }
  let read = 0;
  for await (const batch of readRowBatches(currentPath, { format: options.format, batchSize: BATCH })) {
    batch.rows.forEach((row, i) => {
      const record = objectRow(row, currentPath, batch.lines[i] ?? 0);
      windows.get(ALL)?.updateRow(record);
      currentRaw.get(ALL)?.addRow(record);
      if (options.segment !== undefined) {
        const key = segmentKey(record, options.segment);
        windows.get(key)?.updateRow(record);
        currentRaw.get(key)?.addRow(record);
      }
    });
    read += batch.rows.length;
    options.progress?.(batch.rows.length);
  }
  if (read === 0) throw invalid(`${currentPath} has no rows`);
  const evaluate = (key: string): DriftResult =>
    evaluateDrift(profiles.get(key) as ReferenceProfile, windows.get(key) as WindowSketch, options.drift, {
      reference: referenceRaw.get(key)?.source,
      current: currentRaw.get(key)?.source,
    });
  const overall = evaluate(ALL);
  if (options.segment === undefined) return { overall };
  const results = [...profiles.keys()]
    .filter((key) => key !== ALL && (windows.get(key)?.rows ?? 0) > 0)
    .sort()
    .map((value) => ({ value, result: evaluate(value) }));
  return { overall, segment: { column: options.segment, results } };
}

const ALL = "\u0000all";

/** Raw values of a profile's numerical inputs, within the caller's limit. */
function rawValuesFor(profile: ReferenceProfile, options: FileOptions): RawValues {
  return new RawValues(
    profile.features.filter((f) => f.role === "input"),
    options.maxExactRows,
  );
}

/**
 * Profiles of the whole file and of each segment value, with exact bin counts, and (with
 * `keepRaw`) the raw values of each, read in the same second pass.
 */
async function profileGroups(
  path: string,
  segment: string | undefined,
  options: FileOptions & { profile?: ProfileOptions },
  keepRaw = true,
): Promise<{ profiles: Map<string, ReferenceProfile>; raw: Map<string, RawValues> }> {
  const exclude = [...(options.exclude ?? []), ...(segment === undefined ? [] : [segment])];
  const builders = new Map<string, ProfileBuilder>();
  const builderFor = (key: string): ProfileBuilder => {
    let builder = builders.get(key);
    if (builder === undefined) {
      if (builders.size > MAX_SEGMENTS) {
        throw invalid(
          `--segment ${segment}: more than ${MAX_SEGMENTS} distinct values; pick a column with fewer`,
        );
      }
      builder = new ProfileBuilder(options.profile);
      builders.set(key, builder);
    }
    return builder;
  };
  builderFor(ALL);
  let rows = 0;
  for await (const batch of readRowBatches(path, { format: options.format, batchSize: BATCH })) {
    const records = batch.rows.map((row, i) => without(objectRow(row, path, batch.lines[i] ?? 0), exclude));
    builderFor(ALL).add(records, batch.lines);
    if (segment !== undefined) {
      batch.rows.forEach((row, i) => {
        const key = segmentKey(row as Record<string, unknown>, segment);
        builderFor(key).add([records[i]], [batch.lines[i] ?? 0]);
      });
    }
    rows += batch.rows.length;
    options.progress?.(batch.rows.length);
  }
  if (rows === 0) throw invalid(`${path} has no rows; a reference needs at least one`);
  const profiles = new Map([...builders].map(([key, builder]) => [key, builder.finish()]));

  // Second pass: exact counts in the bins the first pass chose.
  const windows = new Map([...profiles].map(([key, profile]) => [key, new WindowSketch(profile)]));
  const raw = new Map(
    keepRaw ? [...profiles].map(([key, profile]) => [key, rawValuesFor(profile, options)]) : [],
  );
  for await (const batch of readRowBatches(path, { format: options.format, batchSize: BATCH })) {
    for (const row of batch.rows) {
      const record = row as Record<string, unknown>;
      windows.get(ALL)?.updateRow(record);
      raw.get(ALL)?.addRow(record);
      if (segment !== undefined) {
        const key = segmentKey(record, segment);
        windows.get(key)?.updateRow(record);
        raw.get(key)?.addRow(record);
      }
    }
    options.progress?.(batch.rows.length);
  }
  return {
    profiles: new Map(
      [...profiles].map(([key, profile]) => [key, withExactBins(profile, windows.get(key) as WindowSketch)]),
    ),
    raw,
  };
}

function withExactBins(profile: ReferenceProfile, window: WindowSketch): ReferenceProfile {
  return {
    ...profile,
    features: profile.features.map((feature) => {
      if (feature.kind !== "numerical") return feature;
      const counts = window.feature(feature.name)?.binnedCounts();
      if (counts === undefined) return feature;
      const bins = binCountFor(feature.edges.length);
      return { ...feature, binCounts: Array.from(counts).slice(0, bins), binsExact: true };
    }),
  };
}

function objectRow(row: unknown, path: string, line: number): Record<string, unknown> {
  if (!isPlainObject(row)) {
    throw invalid(
      `${path} line ${line}: profiles need named columns; use CSV with a header or JSONL objects`,
    );
  }
  return row;
}

function without(row: Record<string, unknown>, columns: readonly string[]): Record<string, unknown> {
  if (columns.length === 0) return row;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(row)) if (!columns.includes(key)) out[key] = row[key];
  return out;
}

function segmentKey(row: Record<string, unknown>, column: string): string {
  const value = row[column];
  return value === null || value === undefined || value === "" ? "(missing)" : String(value);
}
