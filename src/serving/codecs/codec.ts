/**
 * One codec per protocol: it decodes a request body into the one internal request the
 * pipeline runs, and encodes the answer in the protocol's words. Everything between (plan,
 * execution, taps) is the same for every protocol.
 */
import type { Signature } from "../../domain/model.js";
import type { Tensor } from "../../domain/tensor.js";
import { STATIC_FALLBACK } from "../endpoints.js";
import type { Answer } from "../answer.js";
import type { LoggedInputs } from "../logged-inputs.js";
import type { Instance } from "../named-features.js";
import type { FallbackReason } from "../resilience.js";

/** The model's inputs for the signature of the version that runs the request. */
export interface Prepared {
  readonly inputs: Tensor[];
  /** Requested output names; undefined means all. */
  readonly outputs: readonly string[] | undefined;
}

/** The request as it arrived, for taps that read it (monitors name its rows). */
export type RequestForm =
  | { readonly kind: "tensors"; readonly inputs: readonly Tensor[] }
  | { readonly kind: "instances"; readonly instances: readonly Instance[] };

/** One request, whatever its protocol. */
export interface DecodedRequest {
  /** The id the request body carries (OIP's `id`), answered back as given. */
  readonly id?: string;
  /** Rows in the request: a static fallback answers each. */
  readonly rows: number;
  readonly form: RequestForm;
  /** Inputs checked against (and shaped for) `signature`; a mismatch is the client's 400. */
  prepare(signature: Signature): Prepared;
  /** What the prediction log keeps of the request (computed once, shared with shadows' rows). */
  logged(): LoggedInputs;
}

/** What a codec encodes: the answer to a request under the id it was logged with. */
export interface Reply {
  readonly deployment: string;
  readonly request: DecodedRequest;
  readonly requestId: string;
  /** The version the plan chose (the primary). */
  readonly version: number;
  readonly answer: Answer;
}

export interface Codec<R> {
  /** The body's value for a routing `sticky.field`, read before the request is decoded. */
  stickyFields(body: unknown): unknown;
  decode(body: unknown): DecodedRequest;
  encode(reply: Reply): R;
}

/** What a response says when a fallback answered it (`served_by`: a variant, or an '@' label). */
export interface FallbackMarker {
  fallback: true;
  fallback_reason: FallbackReason;
  served_by: string;
}

type Fallback = NonNullable<Answer["fallback"]>;

export function servedBy(fallback: Fallback): string {
  return fallback.by === null ? STATIC_FALLBACK : fallback.by.variant.name;
}

export function fallbackMarker(fallback: Fallback): FallbackMarker {
  return { fallback: true, fallback_reason: fallback.reason, served_by: servedBy(fallback) };
}

/** The version that answered for the fallback; undefined for a static answer. */
export function answeredVersion(fallback: Fallback): string | undefined {
  return fallback.by === null ? undefined : String(fallback.by.version.version);
}
