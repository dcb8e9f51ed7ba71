/**
 * The analysis's numbers for a variant: requests, errors and latency from the traffic meter,
 * business events from the prediction log joined with feedback, drift from the monitors.
 */
import type { PredictionLog } from "../serving/prediction-log.js";
import type { PredictionStore } from "../serving/prediction-store.js";
import type { Monitors } from "../monitoring/monitors.js";
import type { MeasurementSource } from "./controller.js";
import type { TrafficMeter } from "./traffic-meter.js";

export function measurementSource(parts: {
  meter: TrafficMeter;
  predictions: PredictionStore;
  log: PredictionLog;
  monitors: Monitors;
  /** The events and monitors the deployment's gates read. */
  needs: (deployment: string) => { events: string[]; monitors: string[] };
}): MeasurementSource {
  return {
    async measure(deployment, variant, since) {
      const traffic = parts.meter.read(deployment, variant);
      const { events, monitors } = parts.needs(deployment);
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
      return {
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
