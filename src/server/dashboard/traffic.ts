/**
 * Request rate, error share and p99 per deployment for the pages, read from the same
 * instruments `/metrics` exports (nothing on the request path changes). A sampler keeps a
 * bounded ring of snapshots; the numbers shown are between two snapshots, as Prometheus'
 * rate() and histogram_quantile() would give over that interval.
 */
import type { Registry } from "prom-client";
import { DURATION_BUCKETS } from "../../observability/inference-series.js";

export interface DeploymentTraffic {
  requests: number;
  /** 5xx answers: what the error-rate alert counts. */
  errors: number;
  /** Observations per duration bucket, cumulative, last one +Inf. */
  readonly buckets: number[];
}

export interface TrafficSnapshot {
  readonly at: number;
  readonly byDeployment: ReadonlyMap<string, DeploymentTraffic>;
}

export interface TrafficRates {
  readonly requestsPerSecond: number | null;
  readonly errorShare: number | null;
  readonly p99Seconds: number | null;
  readonly requests: number;
}

interface MetricValue {
  labels: Record<string, string | number | undefined>;
  value: number;
  metricName?: string;
}

export async function snapshot(registry: Registry, at: number): Promise<TrafficSnapshot> {
  const byDeployment = new Map<string, DeploymentTraffic>();
  const entry = (name: string): DeploymentTraffic => {
    let t = byDeployment.get(name);
    if (t === undefined) {
      t = { requests: 0, errors: 0, buckets: new Array<number>(DURATION_BUCKETS.length + 1).fill(0) };
      byDeployment.set(name, t);
    }
    return t;
  };
  const requests = registry.getSingleMetric("ballast_inference_requests_total");
  const durations = registry.getSingleMetric("ballast_inference_duration_seconds");
  if (requests !== undefined) {
    for (const v of (await requests.get()).values as MetricValue[]) {
      const t = entry(String(v.labels.deployment));
      t.requests += v.value;
      if (Number(v.labels.status) >= 500) t.errors += v.value;
    }
  }
  if (durations !== undefined) {
    for (const v of (await durations.get()).values as MetricValue[]) {
      if (v.metricName?.endsWith("_bucket") !== true) continue;
      const le =
        v.labels.le === "+Inf" ? DURATION_BUCKETS.length : DURATION_BUCKETS.indexOf(Number(v.labels.le));
      if (le < 0) continue;
      const t = entry(String(v.labels.deployment));
      t.buckets[le] = (t.buckets[le] as number) + v.value;
    }
  }
  return { at, byDeployment };
}

/** Between two snapshots of one deployment (older may be absent: since the server started). */
export function ratesBetween(
  older: TrafficSnapshot | undefined,
  newer: TrafficSnapshot,
  deployment: string,
): TrafficRates {
  const now = newer.byDeployment.get(deployment);
  if (now === undefined) return { requestsPerSecond: null, errorShare: null, p99Seconds: null, requests: 0 };
  const before = older?.byDeployment.get(deployment);
  const requests = now.requests - (before?.requests ?? 0);
  const errors = now.errors - (before?.errors ?? 0);
  const buckets = now.buckets.map((b, i) => b - (before?.buckets[i] ?? 0));
  const seconds = older === undefined ? 0 : (newer.at - older.at) / 1000;
  return {
    requestsPerSecond: seconds > 0 ? requests / seconds : null,
    errorShare: requests > 0 ? errors / requests : null,
    p99Seconds: histogramQuantile(0.99, buckets),
    requests,
  };
}

/**
 * Prometheus' histogram_quantile: the bucket holding the rank, interpolated linearly inside it
 * (from 0 for the first bucket); the last finite bound when the rank falls in +Inf.
 */
export function histogramQuantile(q: number, cumulative: readonly number[]): number | null {
  const total = cumulative.at(-1) ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  for (let i = 0; i < cumulative.length; i++) {
    if ((cumulative[i] as number) >= rank) {
      if (i >= DURATION_BUCKETS.length) return DURATION_BUCKETS.at(-1) as number;
      const upper = DURATION_BUCKETS[i] as number;
      const lower = i === 0 ? 0 : (DURATION_BUCKETS[i - 1] as number);
      const below = i === 0 ? 0 : (cumulative[i - 1] as number);
      const inBucket = (cumulative[i] as number) - below;
      return inBucket === 0 ? upper : lower + (upper - lower) * ((rank - below) / inBucket);
    }
  }
  return null;
}

/** The last `capacity` snapshots, oldest first; older ones are dropped (and counted). */
export class TrafficHistory {
  private readonly ring: TrafficSnapshot[] = [];
  dropped = 0;

  constructor(readonly capacity = 360) {}

  add(s: TrafficSnapshot): void {
    this.ring.push(s);
    if (this.ring.length > this.capacity) {
      this.ring.shift();
      this.dropped++;
    }
  }

  all(): readonly TrafficSnapshot[] {
    return this.ring;
  }

  /** The newest snapshot at least `ms` older than `at`, else the oldest there is. */
  before(at: number, ms: number): TrafficSnapshot | undefined {
    for (let i = this.ring.length - 1; i >= 0; i--) {
      const s = this.ring[i] as TrafficSnapshot;
      if (s.at <= at - ms) return s;
    }
    return this.ring[0];
  }
}
