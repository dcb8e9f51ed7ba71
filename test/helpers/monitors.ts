/** Monitors on the test fraud deployment, and evaluating them on the injected clock. */
import type { Ballast } from "../../src/ballast.js";
import { ProfileBuilder } from "../../src/monitoring/profile/profile-builder.js";
import { parseAnyMonitorSpec } from "../../src/monitoring/monitor-spec.js";
import type { TestServer } from "./app.js";
import { fraudRows } from "./traffic.js";

/** Moves the clock and evaluates at once, so a stray real tick can never see a half-sent step. */
export async function stepMonitors(s: TestServer, ms: number): Promise<void> {
  s.clock.advance(ms);
  s.ballast.monitors.tick(s.clock.now());
  await s.ballast.monitors.settled();
}

/**
 * A reference profile for fraud v1 (3000 seeded rows) and `fraud-drift`, a PSI monitor on
 * amount and hour whose tumbling window closes every 200 rows.
 */
export async function watchFraudDrift(b: Ballast): Promise<void> {
  const builder = new ProfileBuilder();
  builder.add(fraudRows(1, 3000, 1));
  await b.registry.attachReference("fraud", 1, builder.finish());
  await b.monitorChanges.put(
    parseAnyMonitorSpec(
      {
        deployment: "fraud",
        features: ["amount", "hour"],
        test: "psi",
        window: { kind: "tumbling", by: "count", size: 200 },
        minSamples: 100,
      },
      "fraud-drift",
    ),
  );
}

/** A performance monitor's spec (PUT /api/v1/monitors/NAME): fraud's accuracy on late labels, below 0.8 breaches. */
export const FRAUD_ACCURACY = {
  type: "performance",
  deployment: "fraud",
  metric: "accuracy",
  condition: { below: 0.8 },
  window: { bucket: "1h", buckets: 6 },
  minSamples: 20,
  evaluateEvery: "1m",
};
