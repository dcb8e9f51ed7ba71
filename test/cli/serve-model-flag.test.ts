/**
 * `serve --model name=path` on a restart: it registers the file, but never undoes what was done
 * to the deployment since (a `ballast deploy`, a running canary). Real server processes.
 */
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { once } from "node:events";
import { FRAUD_MODEL } from "../helpers/app.js";
import { startServer } from "../helpers/cli.js";
import { decideModelFlag, type DeploymentFacts } from "../../src/cli/model-flag.js";
import type { Deployment } from "../../src/domain/model.js";

/** Every server started, so a failed assertion cannot leave one running (and the suite waiting). */
const running = new Set<ChildProcess>();

async function start(args: string[]): Promise<Awaited<ReturnType<typeof startServer>>> {
  const server = await startServer(args);
  running.add(server.child);
  return server;
}

async function stop(server: { child: ChildProcess }): Promise<void> {
  if (!running.delete(server.child)) return;
  server.child.kill("SIGTERM");
  await once(server.child, "exit");
}

async function json<T>(url: string, init?: RequestInit): Promise<T> {
  const bytes = init?.body instanceof Uint8Array;
  const res = await fetch(url, {
    ...init,
    headers: { "content-type": bytes ? "application/octet-stream" : "application/json" },
  });
  const text = await res.text();
  assert.ok(res.ok, `${init?.method ?? "GET"} ${url}: ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

interface DeploymentView {
  variants: Array<{ name: string; ref: { version?: number }; weight: number }>;
}

describe("serve --model on a restart", () => {
  let dir: string;
  let modelPath: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "ballast-model-flag-"));
    modelPath = join(dir, "fraud.json");
    await writeFile(modelPath, JSON.stringify(FRAUD_MODEL));
  });
  after(async () => {
    for (const child of running) await stop({ child });
    await rm(dir, { recursive: true, force: true });
  });

  test("it follows an edited file while the deployment is as it left it, and leaves a deployment changed since alone", async () => {
    const data = join(dir, "edited");
    const path = join(dir, "edited.json");
    await writeFile(path, JSON.stringify(FRAUD_MODEL));
    let server = await start(["--data-dir", data, "--model", `fraud=${path}`]);
    await stop(server);
    await writeFile(path, JSON.stringify({ ...FRAUD_MODEL, intercept: -1.5 }));
    server = await start(["--data-dir", data, "--model", `fraud=${path}`]);
    let meta = await json<{ versions: string[] }>(`${server.url}/v2/models/fraud`);
    assert.deepEqual(meta.versions, ["2"], "the edited file is served");
    assert.doesNotMatch(server.log, /left as it is/);
    // What `ballast deploy fraud --version 1` sends: a person's choice, which a restart keeps.
    await json(`${server.url}/api/v1/deployments/fraud`, {
      method: "PUT",
      body: JSON.stringify({ model: "fraud", version: 1 }),
    });
    await stop(server);

    server = await start(["--data-dir", data, "--model", `fraud=${path}`]);
    meta = await json<{ versions: string[] }>(`${server.url}/v2/models/fraud`);
    assert.deepEqual(meta.versions, ["1"], "the restart must not undo the deploy");
    assert.match(
      server.log,
      /ballast: deployment fraud left as it is \(stable fraud v1 100%\): it was set or changed by something other than --model .*; --model found the file already registered as fraud v2/,
    );
    await stop(server);
  });

  test("a canary in progress keeps its weights and its state across a restart with --model", async () => {
    const data = join(dir, "canary");
    let server = await start(["--data-dir", data, "--model", `fraud=${modelPath}`]);
    await json(`${server.url}/api/v1/models/fraud/versions`, {
      method: "POST",
      body: JSON.stringify({
        artifact: (
          await json<{ artifact: string }>(`${server.url}/api/v1/artifacts`, {
            method: "POST",
            body: Buffer.from(JSON.stringify({ ...FRAUD_MODEL, intercept: -2 })),
          })
        ).artifact,
        flavor: "builtin",
      }),
    });
    await json(`${server.url}/api/v1/deployments/fraud`, {
      method: "PUT",
      body: JSON.stringify({
        model: "fraud",
        version: 1,
        strategy: { canary: { steps: [{ setWeight: 20 }, { pause: {} }] } },
      }),
    });
    const started = await json<{ rollout: { phase: string } }>(
      `${server.url}/api/v1/deployments/fraud/rollout`,
      {
        method: "POST",
        body: JSON.stringify({ version: 2 }),
      },
    );
    assert.equal(started.rollout.phase, "Paused", "at the pause step, 20% on the canary");
    let weights = "";
    for (let i = 0; i < 50 && weights !== "stable=80 canary=20"; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const d = await json<DeploymentView>(`${server.url}/api/v1/deployments/fraud`);
      weights = d.variants.map((v) => `${v.name}=${v.weight}`).join(" ");
    }
    assert.equal(weights, "stable=80 canary=20");
    await stop(server);

    server = await start(["--data-dir", data, "--model", `fraud=${modelPath}`]);
    try {
      const d = await json<DeploymentView>(`${server.url}/api/v1/deployments/fraud`);
      assert.deepEqual(
        d.variants.map((v) => [v.name, v.ref.version, v.weight]),
        [
          ["stable", 1, 80],
          ["canary", 2, 20],
        ],
      );
      const view = await json<{ rollout: { phase: string; weight: number } }>(
        `${server.url}/api/v1/deployments/fraud/rollout`,
      );
      assert.deepEqual([view.rollout.phase, view.rollout.weight], ["Paused", 20]);
      assert.match(server.log, /deployment fraud left as it is .*: a rollout of fraud v2 is Paused at 20%/);
    } finally {
      await stop(server);
    }
  });
});

describe("decideModelFlag", () => {
  const deployment = (over: Partial<Deployment> = {}): Deployment => ({
    name: "fraud",
    variants: [{ name: "stable", model: "fraud", ref: { version: 1 }, weight: 100 }],
    timeoutMs: 10_000,
    createdAt: 1,
    updatedAt: 5,
    ...over,
  });
  const facts = (over: Partial<DeploymentFacts> = {}): DeploymentFacts => ({
    deployment: deployment(),
    declared: false,
    rollout: null,
    lastSetByFlag: { version: 1, updatedAt: 5 },
    ...over,
  });

  test("creates what does not exist, follows the file only while the deployment is as it left it", () => {
    assert.deepEqual(decideModelFlag(facts({ deployment: null, lastSetByFlag: null }), 1), {
      action: "create",
    });
    assert.deepEqual(decideModelFlag(facts(), 1), { action: "unchanged" });
    assert.deepEqual(decideModelFlag(facts(), 2), { action: "update", from: 1 });
    const changed = decideModelFlag(facts({ deployment: deployment({ updatedAt: 9 }) }), 2);
    assert.equal(changed.action, "leave");
    assert.equal(decideModelFlag(facts({ lastSetByFlag: null }), 2).action, "leave");
    assert.equal(decideModelFlag(facts({ declared: true }), 2).action, "leave");
    assert.equal(
      decideModelFlag(facts({ deployment: deployment({ strategy: { canary: {} } }) }), 2).action,
      "leave",
    );
  });
});
