/**
 * The analysis's numbers for a variant: requests, errors and latency from the traffic meter,
 * business events from the prediction log joined with feedback, drift from the monitors.
 */
import type { PredictionLog } from "../serving/prediction-log.js";
import type { PredictionStore } from "../serving/prediction-store.js";
import type { Monitors } from "../monitoring/monitors.js";
import type { MeasurementSource } from "./controller.js";
import type { TrafficMeter } from "./traffic-meter.js";
import { valueAt } from "./kinds/challenger.js";
import { binaryLabel } from "../monitoring/log-performance.js";

export function measurementSource(parts: {
  meter: TrafficMeter;
  predictions: PredictionStore;
  log: PredictionLog;
  monitors: Monitors;
  /** The events and monitors the deployment's gates read. */
  needs: (deployment: string) => {
    events: string[];
    monitors: string[];
    labels: { score: string; threshold: number } | null;
  };
}): MeasurementSource {
  return {
    async measure(deployment, variant, since) {
      // The epoch the meter counts the running rollout under (its id); all replicas' counts.
      const epoch = parts.meter.epochOf(deployment);
      const traffic =
        epoch === undefined
          ? { requests: 0, errors: 0, p50: null, p99: null }
          : await parts.meter.read(deployment, variant, epoch);
      const { events, monitors, labels } = parts.needs(deployment);
      await parts.log.flush();
      let exposures = 0;
      const counts: Record<string, number> = {};
      for (const event of events) {
        const c = await parts.predictions.eventCounts(deployment, variant, since, event);
        exposures = c.exposures;
        counts[event] = c.events;
      }
      if (events.length === 0) exposures = await parts.predictions.countSince(deployment, variant, since);
      const driftShare: Record<string, number | null> = {};
      for (const name of monitors) driftShare[name] = latestShare(parts.monitors, name, variant);
      const labelled =
        labels === null
          ? undefined
          : await labelledOutcomes(parts.predictions, deployment, variant, since, labels);
      return {
        ...(labelled === undefined ? {} : { labelled }),
        requests: traffic.requests,
        errors: traffic.errors,
        latencyMs: { p50: traffic.p50, p99: traffic.p99 },
        exposures,
        events: counts,
        driftShare,
      };
    },
  };
}

/**
 * The variant's labelled predictions since `since` and how many its score got wrong. Read from
 * the log at each analysis, so labels that arrive late count as soon as they are in.
 */
async function labelledOutcomes(
  predictions: PredictionStore,
  deployment: string,
  variant: string,
  since: number,
  labels: { score: string; threshold: number },
): Promise<{ count: number; wrong: number }> {
  let count = 0;
  let wrong = 0;
  for await (const page of predictions.scan(deployment, since, Number.MAX_SAFE_INTEGER)) {
    const mine = page.filter((p) => p.variant === variant);
    if (mine.length === 0) continue;
    const feedback = await predictions.feedbackFor(mine.map((p) => p.requestId));
    for (const p of mine) {
      for (const f of feedback.get(p.requestId) ?? []) {
        if (f.kind !== "label") continue;
        const truth = binaryLabel(f.label, undefined);
        const score = valueAt(p.outputs, labels.score, f.row);
        if (truth === null || score === null) continue;
        count++;
        if ((score >= labels.threshold ? 1 : 0) !== truth) wrong++;
      }
    }
  }
  return { count, wrong };
}

function latestShare(monitors: Monitors, name: string, variant: string): number | null {
  try {
    const status = monitors.status(name) as {
      variants?: Array<{
        variant: string;
        latest: { drift: { dataset: { share: number } | null } | null } | null;
      }>;
    };
    const latest = status.variants?.find((v) => v.variant === variant)?.latest;
    return latest?.drift?.dataset?.share ?? null;
  } catch {
    return null; // the monitor was deleted: the gate waits, and says so
  }
}
