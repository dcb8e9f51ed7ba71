/**
 * Drift of what a deployment actually received over a period, read back from the prediction
 * log: each (variant, version) against the reference profile of that version. The log is
 * streamed page by page into window sketches, so a week of traffic needs no more memory than a
 * window does. The raw values of numerical features are kept as well while they fit
 * (`maxExactRows` per feature), so the current side of KS and Wasserstein is exact and only the
 * reference's sketch adds error (none when the reference was small enough to be kept whole).
 */
import { invalid } from "../domain/errors.js";
import { isPlainObject } from "../domain/json-value.js";
import type { ModelVersion } from "../domain/model.js";
import type { PredictionRecord } from "../domain/prediction.js";
import { decodeTensor } from "../domain/tensor-json.js";
import type { ReferenceProfile } from "./profile/reference-profile.js";
import { WindowSketch } from "./sketches/feature-window.js";
import { evaluateDrift, type DriftOptions, type DriftResult } from "./drift.js";
import { instanceRows, tensorRows } from "./request-rows.js";
import { DEFAULT_MAX_EXACT_ROWS, RawValues } from "./raw-values.js";
import { MISSING_SEGMENT, OTHER_SEGMENT, SegmentKeys, type SegmentSpec } from "./segments.js";

export interface LogSource {
  scan(deployment: string, since: number, until: number): AsyncIterable<readonly PredictionRecord[]>;
}

export interface VersionSource {
  getVersion(model: string, version: number): Promise<ModelVersion>;
  getReference(model: string, version: number): Promise<ReferenceProfile | null>;
}

export interface LogDriftGroup {
  readonly variant: string;
  readonly model: string;
  readonly version: number;
  /** Rows (not requests) seen for this group; a batched request gives several. */
  readonly rows: number;
  readonly drift: DriftResult | null;
  /** Why there is no drift result (no reference profile, no rows that could be read). */
  readonly problem?: string;
  /** With a segment: drift per value (the segment's own feature is not tested within it). */
  readonly segments?: LogDriftSegment[];
  /** With a segment: why this group has no segments (the feature is not in its reference). */
  readonly segmentProblem?: string;
}

export interface LogDriftSegment {
  /** The feature's value, __other__ or __missing__. */
  readonly segment: string;
  readonly rows: number;
  readonly drift: DriftResult;
}

export interface LogDrift {
  readonly deployment: string;
  readonly since: number;
  readonly until: number;
  readonly predictions: number;
  readonly groups: LogDriftGroup[];
  /** With a segment: the values that have a segment of their own (shared by the groups). */
  readonly segment?: SegmentSpec & { readonly values: string[] };
}

interface Group {
  readonly variant: string;
  readonly version: ModelVersion;
  readonly reference: ReferenceProfile | null;
  readonly window: WindowSketch | null;
  readonly raw: RawValues | null;
  /** Per segment value; null without a segment or when the reference lacks its feature. */
  readonly segments: Map<string, { window: WindowSketch; raw: RawValues }> | null;
  rows: number;
  unreadable: number;
}

export async function driftFromLog(
  log: LogSource,
  versions: VersionSource,
  query: { deployment: string; since: number; until: number; segment?: SegmentSpec },
  options: DriftOptions = {},
  limits: { readonly maxExactRows?: number } = {},
): Promise<LogDrift> {
  if (!(query.since < query.until)) throw invalid("since must be before until");
  const maxExactRows = limits.maxExactRows ?? DEFAULT_MAX_EXACT_ROWS;
  const rawFor = (reference: ReferenceProfile): RawValues =>
    new RawValues(
      reference.features.filter((f) => f.role === "input"),
      maxExactRows,
    );
  const segment = query.segment;
  const keys = segment === undefined ? null : new SegmentKeys(segment.maxValues);
  const hasFeature = (reference: ReferenceProfile) =>
    reference.features.some((f) => f.role === "input" && f.name === segment?.feature);
  const groups = new Map<string, Group>();
  let predictions = 0;
  for await (const page of log.scan(query.deployment, query.since, query.until)) {
    for (const p of page) {
      predictions++;
      const key = `${p.variant}\u0000${p.model}\u0000${p.modelVersion}`;
      let group = groups.get(key);
      if (group === undefined) {
        const version = await versions.getVersion(p.model, p.modelVersion);
        const reference = await versions.getReference(p.model, p.modelVersion);
        group = {
          variant: p.variant,
          version,
          reference,
          window: reference === null ? null : new WindowSketch(reference, { role: "input" }),
          raw: reference === null ? null : rawFor(reference),
          segments: reference !== null && segment !== undefined && hasFeature(reference) ? new Map() : null,
          rows: 0,
          unreadable: 0,
        };
        groups.set(key, group);
      }
      const rows = loggedRows(p.inputs, group.version);
      if (rows === null) group.unreadable++;
      else {
        group.rows += rows.length;
        if (group.window !== null) for (const row of rows) group.window.updateRow(row);
        if (group.raw !== null) for (const row of rows) group.raw.addRow(row);
        const segments = group.segments;
        if (segments !== null && keys !== null && segment !== undefined && group.reference !== null) {
          for (const row of rows) {
            const key = keys.keyOf(row[segment.feature]);
            let windows = segments.get(key);
            if (windows === undefined) {
              windows = {
                window: new WindowSketch(group.reference, { role: "input" }),
                raw: rawFor(group.reference),
              };
              segments.set(key, windows);
            }
            windows.window.updateRow(row);
            windows.raw.addRow(row);
          }
        }
      }
    }
  }
  const { segment: _segment, ...period } = query;
  if (segment !== undefined && keys !== null) {
    const referenced = [...groups.values()].filter((g) => g.reference !== null);
    if (referenced.length > 0 && referenced.every((g) => g.segments === null)) {
      const inputs = (referenced[0]?.reference as ReferenceProfile).features
        .filter((f) => f.role === "input")
        .map((f) => f.name);
      throw invalid(
        `segment: '${segment.feature}' is not an input feature of the reference profiles of what ${query.deployment} served (features: ${inputs.join(", ")})`,
      );
    }
  }
  return {
    ...period,
    predictions,
    ...(segment === undefined || keys === null ? {} : { segment: { ...segment, values: keys.values() } }),
    groups: [...groups.values()].map((g) => {
      const base = { variant: g.variant, model: g.version.model, version: g.version.version, rows: g.rows };
      if (g.reference === null || g.window === null) {
        return {
          ...base,
          drift: null,
          problem: `version ${g.version.version} of ${g.version.model} has no reference profile`,
        };
      }
      if (g.rows === 0) {
        return {
          ...base,
          drift: null,
          problem: `none of the ${g.unreadable} logged requests could be read as named features`,
        };
      }
      return {
        ...base,
        drift: evaluateDrift(g.reference, g.window, options, { current: g.raw?.source }),
        ...(segment === undefined ? {} : segmentResults(g, segment, options)),
      };
    }),
  };
}

/** The rows of one logged request, or null when its inputs cannot be named. */
export function loggedRows(inputs: unknown, version: ModelVersion): Record<string, unknown>[] | null {
  if (!isPlainObject(inputs) || version.signature === null) return null;
  if (Array.isArray(inputs.instances)) {
    return instanceRows(inputs.instances as Array<Record<string, unknown> | unknown[]>, version.signature);
  }
  if (Array.isArray(inputs.tensors)) {
    try {
      const tensors = inputs.tensors.map((t, i) => decodeTensor(t, { where: `inputs[${i}]`, role: "input" }));
      const rows = tensorRows(tensors, version.signature);
      return rows.length === 0 ? null : rows;
    } catch {
      return null;
    }
  }
  return null;
}

function segmentResults(
  g: Group,
  segment: SegmentSpec,
  options: DriftOptions,
): { segments: LogDriftSegment[] } | { segmentProblem: string } {
  const reference = g.reference as ReferenceProfile;
  const inputs = reference.features.filter((f) => f.role === "input").map((f) => f.name);
  if (g.segments === null) {
    return {
      segmentProblem: `segment feature '${segment.feature}' is not an input feature of the reference profile of ${g.version.model} version ${g.version.version} (features: ${inputs.join(", ")})`,
    };
  }
  // Within a segment its own feature holds one value: against the whole reference that would
  // always read as drift, so it is left out.
  const features = (options.features ?? inputs).filter((f) => f !== segment.feature);
  const rank = (v: string) => (v === OTHER_SEGMENT ? 1 : v === MISSING_SEGMENT ? 2 : 0);
  return {
    segments: [...g.segments]
      .sort(([a], [b]) => rank(a) - rank(b))
      .map(([value, { window, raw }]) => ({
        segment: value,
        rows: window.rows,
        drift: evaluateDrift(reference, window, { ...options, features }, { current: raw.source }),
      })),
  };
}
