/** `POST /v2/models/{name}[/versions/{v}]/infer`: the Open Inference Protocol's tensors. */
import { isPlainObject } from "../../domain/json-value.js";
import type { Tensor } from "../../domain/tensor.js";
import type { JsonTensor } from "../../domain/tensor-json.js";
import { checkAgainstSignature, conformFloats, decodeInferenceRequest } from "../inference-request.js";
import { loggedTensors, type LoggedInputs } from "../logged-inputs.js";
import { answeredVersion, fallbackMarker, type Codec, type DecodedRequest } from "./codec.js";

export interface InferenceResponse {
  model_name: string;
  /** Absent only when a static default answered: no version did. */
  model_version?: string;
  id: string;
  parameters?: Record<string, unknown>;
  outputs: JsonTensor[];
}

export const OIP_V2: Codec<InferenceResponse> = {
  // OIP requests carry request-level attributes in `parameters`.
  stickyFields: (body) => (isPlainObject(body) ? body.parameters : undefined),

  decode(body: unknown): DecodedRequest {
    const request = decodeInferenceRequest(body);
    let logged: LoggedInputs | undefined;
    return {
      ...(request.id === undefined ? {} : { id: request.id }),
      rows: rowsOf(request.inputs),
      form: { kind: "tensors", inputs: request.inputs },
      prepare: (signature) => {
        checkAgainstSignature(request, signature);
        return { inputs: conformFloats(request.inputs, signature), outputs: request.outputs };
      },
      // The tensors as the client sent them (already checked): re-encoding would cost the
      // request path a copy of every input. Only free-form fields are bounded.
      logged: () => (logged ??= loggedTensors((body as { inputs: unknown[] }).inputs, request.inputs)),
    };
  },

  encode({ deployment, request, requestId, version, answer }): InferenceResponse {
    const id = request.id ?? requestId;
    if (answer.fallback === undefined)
      return { model_name: deployment, model_version: String(version), id, outputs: answer.outputs };
    const answered = answeredVersion(answer.fallback);
    return {
      model_name: deployment,
      ...(answered === undefined ? {} : { model_version: answered }),
      id,
      parameters: { ...fallbackMarker(answer.fallback) },
      outputs: answer.outputs,
    };
  },
};

/** Rows of an OIP request: the first input's leading dimension (a scalar input is one row). */
function rowsOf(inputs: readonly Tensor[]): number {
  return inputs[0]?.shape[0] ?? 1;
}
