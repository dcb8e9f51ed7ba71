/**
 * Reference profiles as the registry keeps them: checked, matched against the version's
 * signature, and stored as a content-addressed artifact in one canonical serialization, so the
 * same profile always gets the same hash whichever way it arrived (CLI, HTTP, code).
 *
 * The registry keeps profiles but never computes with them: their format comes in through
 * `ProfileFormat` (monitoring implements it), so this layer depends on nothing above it.
 */
import { readFile } from "node:fs/promises";
import { BallastError, invalid } from "../domain/errors.js";
import type { ReferenceSummary, Signature } from "../domain/model.js";
import type { ArtifactStore } from "./artifacts.js";

export interface CheckedProfile {
  /** The canonical serialization: equal profiles give equal text. */
  readonly text: string;
  readonly rows: number;
  readonly features: number;
  readonly inputFeatures: readonly string[];
}

export interface ProfileFormat {
  /** Validates a profile (an `invalid` error naming the field when it is not one). */
  check(profile: unknown): CheckedProfile;
}

/**
 * A valid profile that describes every feature the signature names. Drift is computed per
 * feature the model reads, so a profile missing one of them could never be compared in full.
 */
export function checkReference(
  format: ProfileFormat | undefined,
  profile: unknown,
  signature: Signature | null,
): CheckedProfile {
  if (format === undefined) throw invalid("this registry was set up without reference profile support");
  let checked: CheckedProfile;
  try {
    checked = format.check(profile);
  } catch (error) {
    if (error instanceof BallastError) {
      throw invalid(error.message, { ...error.details, field: "referenceProfile" });
    }
    throw error;
  }
  const features = signature?.features;
  if (features !== undefined) {
    const inputs = new Set(checked.inputFeatures);
    const missing = features.filter((name) => !inputs.has(name));
    if (missing.length > 0) {
      throw invalid(
        `referenceProfile lacks input feature${missing.length === 1 ? "" : "s"} ` +
          `${missing.map((m) => `"${m}"`).join(", ")} named by the version's signature; ` +
          `profile data that has ${missing.length === 1 ? "that column" : "those columns"}`,
        { field: "referenceProfile", missing },
      );
    }
  }
  return checked;
}

/** Stores the profile's canonical bytes; the summary is what the version row records. */
export async function storeReference(
  artifacts: ArtifactStore,
  profile: CheckedProfile,
): Promise<ReferenceSummary> {
  const stored = await artifacts.putBytes(Buffer.from(profile.text, "utf8"));
  return { sha256: stored.sha256, rows: profile.rows, features: profile.features };
}

/** The stored profile as JSON; its consumer validates it against the format it expects. */
export async function loadReference(artifacts: ArtifactStore, sha256: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(await artifacts.ensureLocal(sha256), "utf8");
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new BallastError("internal", `reference profile sha256:${sha256} cannot be read: ${reason}`);
  }
  return JSON.parse(text) as unknown;
}
