// After a restart a router's series are on /metrics before anyone asks it anything: routers are
// loaded at start (they were loaded lazily, so a dashboard or alert rule saw a gap).
import { test } from "node:test";
import assert from "node:assert/strict";
import { rm } from "node:fs/promises";
import { startTestServer } from "../helpers/app.js";
import { BASE, apply, deploySpecialists, registerClassifier, router } from "../helpers/router-fixtures.js";

test("a router's regime and weight series are on /metrics right after a restart", async () => {
  const first = await startTestServer({ deploy: false });
  await deploySpecialists(first);
  await registerClassifier(first);
  const applied = await apply(first, router("vol", BASE));
  assert.equal(applied.statusCode, 200, applied.body);
  await first.app.close();
  await first.ballast.close();

  const again = await startTestServer({ deploy: false, ballast: { dataDir: first.dataDir } });
  try {
    const metrics = (await again.app.inject({ url: "/metrics" })).body;
    assert.match(metrics, /ballast_router_weight\{router="vol",regime="calm",specialist="ewma"\} 1/);
    assert.match(metrics, /ballast_router_weight\{router="vol",regime="turbulent",specialist="last"\} 0\.75/);
  } finally {
    await again.close();
    await rm(first.dataDir, { recursive: true, force: true });
  }
});
