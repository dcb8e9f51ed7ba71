/**
 * The request path's two instruments, `ballast_inference_requests_total` and
 * `ballast_inference_duration_seconds`, counted in plain numbers per label set and turned into
 * Prometheus series only when scraped. prom-client's labelled `inc` and `observe` validate and
 * hash the labels and allocate on every call, even through a cached child, which cost each
 * request several microseconds; here a request costs a map lookup and a few additions.
 *
 * The text a scrape gets is the same as prom-client's own Counter and Histogram give: the
 * counter is a prom-client Counter filled from these numbers at collect time, and the
 * histogram is a metric object that hands the registry the values a Histogram would.
 */
import { Counter, type Histogram, type Registry } from "prom-client";

export const DURATION_BUCKETS: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/** The label set of one series, as the metrics name it. */
export interface SeriesLabels {
  readonly deployment: string;
  readonly model: string;
  readonly version: string;
  readonly variant: string;
}

/** Requests of one series with one status. */
interface StatusCount {
  readonly labels: SeriesLabels;
  readonly status: string;
  n: number;
}

interface Series {
  readonly labels: SeriesLabels;
  /** Requests by HTTP status code. */
  readonly byStatus: Map<number, StatusCount>;
  /** Observations per bucket (not cumulative); one more than the bounds, for +Inf. */
  readonly buckets: number[];
  sum: number;
  count: number;
}

const DURATION = {
  name: "ballast_inference_duration_seconds",
  help: "Time to answer an inference request, from routing to encoded response, in seconds.",
};

export class InferenceSeries {
  private readonly series = new Map<string, Series>();
  /** Every (series, status) in the order first seen, the order prom-client writes them in. */
  private readonly counts: StatusCount[] = [];

  constructor(registry: Registry) {
    const { series, counts } = this;
    new Counter({
      name: "ballast_inference_requests_total",
      help: "Inference requests by deployment, model, version, variant and HTTP status code.",
      labelNames: ["deployment", "model", "version", "variant", "status"] as const,
      registers: [registry],
      collect(this: Counter<"deployment" | "model" | "version" | "variant" | "status">) {
        this.reset();
        for (const c of counts) this.inc({ ...c.labels, status: c.status }, c.n);
      },
    });
    // The registry reads a metric through name, help, type and get() (and reset() when told to
    // reset); this object gives what a prom-client Histogram with these labels would.
    const histogram = {
      ...DURATION,
      type: "histogram" as const,
      aggregator: "sum" as const,
      get: async () => ({
        ...DURATION,
        type: "histogram" as const,
        aggregator: "sum" as const,
        values: [...series.values()].flatMap(durationValues),
      }),
      reset: () => {
        series.clear();
        counts.length = 0;
      },
    };
    registry.registerMetric(histogram as unknown as Histogram);
  }

  /** One request: its status and how long it took. */
  observe(
    deployment: string,
    model: string,
    version: number,
    variant: string,
    status: number,
    seconds: number,
  ): void {
    const key = `${deployment}\u0000${model}\u0000${version}\u0000${variant}`;
    let s = this.series.get(key);
    if (s === undefined) {
      s = {
        labels: { deployment, model, version: String(version), variant },
        byStatus: new Map(),
        buckets: new Array<number>(DURATION_BUCKETS.length + 1).fill(0),
        sum: 0,
        count: 0,
      };
      this.series.set(key, s);
    }
    let count = s.byStatus.get(status);
    if (count === undefined) {
      count = { labels: s.labels, status: String(status), n: 0 };
      s.byStatus.set(status, count);
      this.counts.push(count);
    }
    count.n++;
    let bucket = 0;
    while (bucket < DURATION_BUCKETS.length && seconds > (DURATION_BUCKETS[bucket] as number)) bucket++;
    s.buckets[bucket] = (s.buckets[bucket] as number) + 1;
    s.sum += seconds;
    s.count += 1;
  }
}

/** A series' histogram lines as prom-client writes them: cumulative buckets, +Inf, sum, count. */
function durationValues(s: Series) {
  const values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> = [];
  let cumulative = 0;
  DURATION_BUCKETS.forEach((le, i) => {
    cumulative += s.buckets[i] as number;
    values.push({ labels: { le, ...s.labels }, value: cumulative, metricName: `${DURATION.name}_bucket` });
  });
  values.push({ labels: { le: "+Inf", ...s.labels }, value: s.count, metricName: `${DURATION.name}_bucket` });
  values.push({ labels: { ...s.labels }, value: s.sum, metricName: `${DURATION.name}_sum` });
  values.push({ labels: { ...s.labels }, value: s.count, metricName: `${DURATION.name}_count` });
  return values;
}
