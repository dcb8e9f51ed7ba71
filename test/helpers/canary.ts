/** A canary in progress: `shop` serves fraud v1 and fraud v2 (intercept -2) goes out in steps. */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { FRAUD_MODEL, type TestServer } from "./app.js";

/**
 * Registers fraud v2, deploys `shop` on v1 with a canary through `steps` (as a manifest declares
 * them), and takes the first step.
 */
export async function startShopCanary(s: TestServer, steps: readonly object[]): Promise<void> {
  const b = s.ballast;
  const v2 = join(s.dataDir, "fraud-v2.json");
  await writeFile(v2, JSON.stringify({ ...FRAUD_MODEL, intercept: -2 }));
  await b.registry.registerVersion({ model: "fraud", artifactPath: v2 });
  await b.deployments.put({
    name: "shop",
    variants: [{ name: "stable", model: "fraud", ref: { version: 1 }, weight: 100 }],
    strategy: { canary: { steps } },
  });
  await b.endpoints.sync();
  await b.rollouts.start("shop", { ref: { version: 2 } });
  await b.rollouts.tick();
}
