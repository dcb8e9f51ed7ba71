/** `POST /v1/models/{name}:predict`: named-feature instances in, predictions out. */
import { isPlainObject } from "../../domain/json-value.js";
import { loggedInstances, type LoggedInputs } from "../logged-inputs.js";
import { decodeInstances, instancesToTensor, predictionsFromOutputs } from "../named-features.js";
import {
  answeredVersion,
  fallbackMarker,
  type Codec,
  type DecodedRequest,
  type FallbackMarker,
} from "./codec.js";

export type NamedPredictionResponse = {
  predictions: unknown[];
  model_name: string;
  model_version?: string;
  request_id: string;
} & Partial<FallbackMarker>;

export const V1: Codec<NamedPredictionResponse> = {
  // A sticky field is read from the first instance.
  stickyFields(body) {
    if (!isPlainObject(body)) return undefined;
    const rows = body.instances ?? body.inputs;
    return Array.isArray(rows) ? rows[0] : undefined;
  },

  decode(body: unknown): DecodedRequest {
    const instances = decodeInstances(body);
    let logged: LoggedInputs | undefined;
    return {
      rows: instances.length,
      form: { kind: "instances", instances },
      prepare: (signature) => ({ inputs: [instancesToTensor(instances, signature)], outputs: undefined }),
      logged: () => (logged ??= loggedInstances(instances)),
    };
  },

  encode({ deployment, request, requestId, version, answer }): NamedPredictionResponse {
    const predictions = predictionsFromOutputs(answer.outputs, request.rows);
    if (answer.fallback === undefined)
      return { predictions, model_name: deployment, model_version: String(version), request_id: requestId };
    const answered = answeredVersion(answer.fallback);
    return {
      predictions,
      model_name: deployment,
      ...(answered === undefined ? {} : { model_version: answered }),
      request_id: requestId,
      ...fallbackMarker(answer.fallback),
    };
  },
};
