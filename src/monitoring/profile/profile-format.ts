/** The registry's view of reference profiles: how to check and serialize one. */
import type { ProfileFormat } from "../../registry/reference.js";
import { serializeProfile, validateProfile } from "./reference-profile.js";

export const profileFormat: ProfileFormat = {
  check(profile: unknown) {
    const valid = validateProfile(profile);
    return {
      text: serializeProfile(valid),
      rows: valid.rows,
      features: valid.features.length,
      inputFeatures: valid.features.filter((f) => f.role === "input").map((f) => f.name),
    };
  },
};
