/**
 * The server's default limits, apart from the app so the CLI can show them without loading it.
 */

/**
 * 4 MiB: an image tensor of 224×224×3 floats is about 2-3 MB of JSON, a 256-row batch of
 * tabular features tens of KB. Raise it with --body-limit for larger tensors. Bodies are parsed
 * in slices (json-body.ts), but what a body becomes in memory (up to ~25 bytes of heap per byte
 * of nested arrays) is garbage-collected in pauses that grow with it; bench:hardening measures.
 */
export const DEFAULT_BODY_LIMIT = 4 * 1024 * 1024;

export interface Timeouts {
  /** Whole request (headers and body) received within this; 0 = none. Artifact uploads too. */
  readonly requestMs: number;
  /** Headers received within this. */
  readonly headersMs: number;
  /** A connection with no bytes either way for this long is closed. */
  readonly idleMs: number;
  /** An idle keep-alive connection is closed after this. */
  readonly keepAliveMs: number;
}

export const DEFAULT_TIMEOUTS: Timeouts = {
  requestMs: 60_000,
  headersMs: 10_000,
  // Above the 60 s idle timeout of common load balancers, so they close first (Fastify's reasoning).
  idleMs: 75_000,
  keepAliveMs: 72_000,
};
export const DEFAULT_MAX_CONNECTIONS = 1000;
export const DEFAULT_FEEDBACK_RATE = 2000;
export const DEFAULT_ARTIFACT_LIMIT = 2 * 1024 * 1024 * 1024;
