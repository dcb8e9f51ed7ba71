/** What a model run gave a request, and who gave it when not the chosen variant. */
import type { JsonTensor } from "../domain/tensor-json.js";
import type { FallbackReason } from "./resilience.js";
import type { ServedVariant } from "./served.js";

/** What the model run gave, and who gave it when not the chosen variant. */
export interface Answer {
  readonly outputs: JsonTensor[];
  readonly latencyMs: number;
  readonly fallback?: { readonly reason: FallbackReason; readonly by: ServedVariant | null };
}
