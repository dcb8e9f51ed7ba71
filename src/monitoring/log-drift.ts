/**
 * Drift of what a deployment actually received over a period, read back from the prediction
 * log: each (variant, version) against the reference profile of that version. The log is
 * streamed page by page into window sketches, so a week of traffic needs no more memory than a
 * window does.
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
}

export interface LogDrift {
  readonly deployment: string;
  readonly since: number;
  readonly until: number;
  readonly predictions: number;
  readonly groups: LogDriftGroup[];
}

interface Group {
  readonly variant: string;
  readonly version: ModelVersion;
  readonly reference: ReferenceProfile | null;
  readonly window: WindowSketch | null;
  rows: number;
  unreadable: number;
}

export async function driftFromLog(
  log: LogSource,
  versions: VersionSource,
  query: { deployment: string; since: number; until: number },
  options: DriftOptions = {},
): Promise<LogDrift> {
  if (!(query.since < query.until)) throw invalid("since must be before until");
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
      }
    }
  }
  return {
    ...query,
    predictions,
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
      return { ...base, drift: evaluateDrift(g.reference, g.window, options) };
    }),
  };
}

/** The rows of one logged request, or null when its inputs cannot be named. */
function loggedRows(inputs: unknown, version: ModelVersion): Record<string, unknown>[] | null {
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
