/** Each deployment's drift and open alerts, from the monitors' own status (what /api/v1/monitors answers). */
import type { Ballast } from "../../../ballast.js";

export interface DeploymentHealth {
  drifted: boolean;
  /** The largest drifted-feature share among its variants' latest windows; null before any. */
  share: number | null;
  openAlerts: number;
}

export function driftByDeployment(b: Ballast): Map<string, DeploymentHealth> {
  const out = new Map<string, DeploymentHealth>();
  for (const status of b.monitors.list()) {
    const name = status.spec.deployment;
    const h = out.get(name) ?? { drifted: false, share: null, openAlerts: 0 };
    h.openAlerts += status.alerts.filter((a) => a.phase === "firing" || a.phase === "pending").length;
    if ("variants" in status) {
      for (const v of status.variants) {
        const dataset = v.latest?.drift?.dataset;
        if (dataset === null || dataset === undefined) continue;
        h.share = Math.max(h.share ?? 0, dataset.share);
        h.drifted ||= dataset.drifted;
      }
    }
    out.set(name, h);
  }
  return out;
}
