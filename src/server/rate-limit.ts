/**
 * Per-client token buckets: `rate` units a second, up to `burst` saved. The arithmetic is pure
 * (time comes in as a number); the table of clients is bounded, so a flood of new client
 * addresses costs a fixed amount of memory and is counted rather than grown.
 */
export interface Bucket {
  readonly tokens: number;
  readonly at: number;
}

export interface Take {
  readonly allowed: boolean;
  readonly bucket: Bucket;
  /** When refused: how long until `cost` units are available, in ms. */
  readonly retryAfterMs: number;
}

/** Refills the bucket for the time since it was last touched, then takes `cost` units if there are enough. */
export function take(
  bucket: Bucket | undefined,
  now: number,
  cost: number,
  rate: number,
  burst: number,
): Take {
  const elapsed = bucket === undefined ? 0 : Math.max(0, now - bucket.at);
  const tokens = Math.min(burst, (bucket?.tokens ?? burst) + (elapsed * rate) / 1000);
  const wanted = Math.min(cost, burst); // more than a full bucket can never pass; a full bucket does
  if (tokens >= wanted)
    return { allowed: true, bucket: { tokens: tokens - wanted, at: now }, retryAfterMs: 0 };
  return {
    allowed: false,
    bucket: { tokens, at: now },
    retryAfterMs: Math.ceil(((wanted - tokens) * 1000) / rate),
  };
}

export interface RateLimiterOptions {
  /** Units a second per client. */
  readonly rate: number;
  readonly burst: number;
  /** Clients tracked at once; the least recently seen is forgotten beyond it. */
  readonly maxClients?: number;
  readonly onEvict?: () => void;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly maxClients: number;

  constructor(private readonly options: RateLimiterOptions) {
    this.maxClients = options.maxClients ?? 10_000;
  }

  take(client: string, now: number, cost: number): Take {
    const before = this.buckets.get(client);
    const result = take(before, now, cost, this.options.rate, this.options.burst);
    // Re-inserted so the Map's order is least recently seen first.
    this.buckets.delete(client);
    this.buckets.set(client, result.bucket);
    while (this.buckets.size > this.maxClients) {
      const oldest = this.buckets.keys().next().value as string;
      this.buckets.delete(oldest);
      this.options.onEvict?.();
    }
    return result;
  }

  get size(): number {
    return this.buckets.size;
  }
}
