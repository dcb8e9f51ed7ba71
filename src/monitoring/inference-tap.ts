/**
 * Monitors as an inference tap: each answered request, for a deployment some monitor watches,
 * becomes named rows observed by its windows. The answer is read structurally (what the request
 * path's `Answered` carries), so monitoring imports nothing of serving.
 */
import type { Signature } from "../domain/model.js";
import type { Tensor } from "../domain/tensor.js";
import type { Monitors } from "./monitors.js";
import { instanceRows, tensorRows } from "./request-rows.js";

/** What the monitors read of an answered request. */
interface AnsweredRequest {
  readonly deployment: { readonly deployment: { readonly name: string } };
  readonly variant: {
    readonly variant: { readonly name: string };
    readonly version: { readonly model: string; readonly version: number };
    readonly signature: Signature;
  };
  readonly request: {
    readonly form:
      | { readonly kind: "tensors"; readonly inputs: readonly Tensor[] }
      | { readonly kind: "instances"; readonly instances: Parameters<typeof instanceRows>[0] };
  };
  readonly at: number;
}

export function monitorsTap(monitors: Monitors): { answered(answered: AnsweredRequest): void } {
  return {
    answered({ deployment, variant, request, at }) {
      const name = deployment.deployment.name;
      if (!monitors.watches(name)) return;
      const form = request.form;
      monitors.observe({
        deployment: name,
        variant: variant.variant.name,
        model: variant.version.model,
        version: variant.version.version,
        rows:
          form.kind === "tensors"
            ? tensorRows(form.inputs, variant.signature)
            : instanceRows(form.instances, variant.signature),
        at,
      });
    },
  };
}
