/**
 * Reference profiles as the registry keeps them: validated, checked against the version's
 * signature, and stored as a content-addressed artifact in one canonical serialization, so the
 * same profile always gets the same hash whichever way it arrived (CLI, HTTP, code).
 */
import { readFile } from "node:fs/promises";
import { BallastError, invalid } from "../domain/errors.js";
import type { ReferenceSummary, Signature } from "../domain/model.js";
// The registry stores profiles but never computes with them; it needs only their format.
import {
  parseProfile,
  serializeProfile,
  validateProfile,
  type ReferenceProfile,
} from "../monitoring/profile/reference-profile.js";
import type { ArtifactStore } from "./artifacts.js";

/**
 * A valid profile that describes every feature the signature names. Drift is computed per
 * feature the model reads, so a profile missing one of them could never be compared in full.
 */
export function checkReference(profile: unknown, signature: Signature | null): ReferenceProfile {
  let checked: ReferenceProfile;
  try {
    checked = validateProfile(profile);
  } catch (error) {
    if (error instanceof BallastError) {
      throw invalid(error.message, { ...error.details, field: "referenceProfile" });
    }
    throw error;
  }
  const features = signature?.features;
  if (features !== undefined) {
    const inputs = new Set(checked.features.filter((f) => f.role === "input").map((f) => f.name));
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
  profile: ReferenceProfile,
): Promise<ReferenceSummary> {
  const stored = await artifacts.putBytes(Buffer.from(serializeProfile(profile), "utf8"));
  return { sha256: stored.sha256, rows: profile.rows, features: profile.features.length };
}

export async function loadReference(artifacts: ArtifactStore, sha256: string): Promise<ReferenceProfile> {
  let text: string;
  try {
    text = await readFile(artifacts.pathFor(sha256), "utf8");
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new BallastError("internal", `reference profile sha256:${sha256} cannot be read: ${reason}`);
  }
  return parseProfile(text);
}
