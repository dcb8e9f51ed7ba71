/**
 * A server killed with SIGKILL in the middle of a canary comes back at the same step, with the
 * same weights serving, and the rollout can be finished from the CLI.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { once } from "node:events";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FRAUD_MODEL } from "../helpers/app.js";
import { ballast, startServer } from "../helpers/cli.js";

const deployment = (version: number) => `apiVersion: ballast/v1
kind: Deployment
metadata: {name: shop}
spec:
  variants: [{model: fraud, version: ${version}}]
  strategy:
    canary:
      steps: [{setWeight: 30}, {pause: {}}, {setWeight: 60}]
`;

describe("kill -9 mid-rollout", () => {
  let dir: string;
  let server: { child: ChildProcess; url: string };
  const serve = () => startServer(["--data-dir", join(dir, "data")]);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "ballast-kill-"));
    server = await serve();
    for (const intercept of [-3, -2]) {
      const path = join(dir, `fraud${intercept}.json`);
      await writeFile(path, JSON.stringify({ ...FRAUD_MODEL, intercept }));
      const reg = ballast(["models", "register", "fraud", path, "--server", server.url]);
      assert.equal(reg.status, 0, reg.stderr);
    }
  });
  after(async () => {
    server.child.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
  });

  test("the rollout resumes at its step and weights after SIGKILL, and finishes from the CLI", async () => {
    for (const version of [1, 2]) {
      const file = join(dir, `shop-v${version}.yaml`);
      await writeFile(file, deployment(version));
      const res = ballast(["apply", "-f", file, "--server", server.url]);
      assert.equal(res.status, 0, res.stderr);
    }
    const before = ballast(["rollout", "status", "shop", "-o", "json", "--server", server.url]);
    const view = JSON.parse(before.stdout) as { rollout: { phase: string; weight: number; step: number } };
    assert.deepEqual([view.rollout.phase, view.rollout.weight, view.rollout.step], ["Paused", 30, 1]);

    server.child.kill("SIGKILL");
    await once(server.child, "exit");
    server = await serve();

    const after = ballast(["rollout", "status", "shop", "--server", server.url]);
    assert.equal(after.status, 0, after.stderr);
    assert.match(after.stdout, /Paused \(step\) — fraud v2 over v1/);
    assert.match(after.stdout, /30%\s+step 2\/3/);
    const served = (await (await fetch(`${server.url}/api/v1/deployments/shop`)).json()) as {
      variants: Array<{ name: string; weight: number; ref: { version: number } }>;
    };
    assert.deepEqual(
      served.variants.map((v) => [v.name, v.ref.version, v.weight]),
      [
        ["stable", 1, 70],
        ["canary", 2, 30],
      ],
    );
    const events = ballast(["events", "--name", "shop", "--server", server.url]);
    assert.match(events.stdout, /RolloutResumed/);

    const resumed = ballast(["rollout", "resume", "shop", "--server", server.url]);
    assert.equal(resumed.status, 0, resumed.stderr);
    // The next tick (every second) steps to 60% and, with no steps left, promotes.
    let phase = "";
    for (let i = 0; i < 100 && phase !== "Succeeded"; i++) {
      await new Promise((r) => setTimeout(r, 200));
      const res = (await (await fetch(`${server.url}/api/v1/deployments/shop/rollout`)).json()) as {
        rollout: { phase: string };
      };
      phase = res.rollout.phase;
    }
    assert.equal(phase, "Succeeded");
    const again = ballast(["rollout", "abort", "shop", "--server", server.url]);
    assert.equal(again.status, 3);
    assert.match(again.stderr, /has no rollout in progress/);
  });
});
