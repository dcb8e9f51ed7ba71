import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestServer, type TestServer } from "../helpers/app.js";
import { gitIn } from "../helpers/git.js";
import { folderSource, gitSource, SourceSync } from "../../src/resources/source-sync.js";

const deployment = (name: string, timeoutMs: number, selfHeal = false) => `apiVersion: ballast/v1
kind: Deployment
metadata:
  name: ${name}
${selfHeal ? '  annotations: {ballast.io/self-heal: "true"}\n' : ""}spec:
  timeoutMs: ${timeoutMs}
  variants: [{model: fraud, version: 1}]
`;

interface Events {
  events: Array<{
    kind: string;
    name: string;
    reason: string;
    type: string;
    message: string;
    details: Record<string, unknown>;
  }>;
}

describe("GitOps: a watched folder", () => {
  let server: TestServer;
  let dir: string;
  let sync: SourceSync;
  before(async () => {
    server = await startTestServer();
    dir = await mkdtemp(join(tmpdir(), "ballast-watch-"));
    sync = new SourceSync(folderSource(dir), server.ballast.resources, server.ballast.events, server.clock);
  });
  after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  const timeoutOf = async (name: string): Promise<number | undefined> => {
    const res = await server.app.inject({ url: `/api/v1/deployments/${name}` });
    return res.statusCode === 200 ? (res.json() as { timeoutMs: number }).timeoutMs : undefined;
  };

  test("what the folder holds is applied; a change in a file is applied on the next poll", async () => {
    await writeFile(join(dir, "a.yaml"), deployment("alpha", 700));
    await mkdir(join(dir, "team"));
    await writeFile(join(dir, "team", "b.yml"), deployment("beta", 900, true));
    await writeFile(join(dir, "notes.txt"), "not a manifest");
    await sync.sync();
    assert.equal(sync.status().lastError, null);
    assert.equal(await timeoutOf("alpha"), 700);
    assert.equal(await timeoutOf("beta"), 900);
    await writeFile(join(dir, "a.yaml"), deployment("alpha", 750));
    await sync.sync();
    assert.equal(await timeoutOf("alpha"), 750);
  });

  test("a broken file applies nothing, is reported once, and the last good state keeps serving", async () => {
    await writeFile(join(dir, "a.yaml"), deployment("alpha", 800).replace("timeoutMs", "timeoutMS"));
    await sync.sync();
    await sync.sync();
    assert.match(
      sync.status().lastError ?? "",
      /a\.yaml:\d+: Deployment alpha: spec\.timeoutMS: unknown field/,
    );
    assert.equal(await timeoutOf("alpha"), 750);
    const { events } = (await server.app.inject({ url: "/api/v1/events?kind=Source" })).json() as Events;
    assert.equal(events.filter((e) => e.reason === "SyncFailed").length, 1);
    await writeFile(join(dir, "a.yaml"), deployment("alpha", 800));
    await sync.sync();
    assert.equal(sync.status().lastError, null);
    assert.equal(await timeoutOf("alpha"), 800);
  });

  test("changes made around the folder are reported; self-healing resources are put back", async () => {
    for (const name of ["alpha", "beta"]) {
      const put = await server.app.inject({
        method: "PUT",
        url: `/api/v1/deployments/${name}`,
        payload: { model: "fraud", version: 1, timeoutMs: 111 },
      });
      assert.equal(put.statusCode, 200);
    }
    await sync.sync();
    assert.equal(await timeoutOf("alpha"), 111, "alpha does not ask to be healed: only reported");
    assert.equal(await timeoutOf("beta"), 900, "beta asks for self-healing: put back");
    assert.deepEqual(
      sync.status().outOfSync.map((o) => o.name),
      ["alpha"],
    );
    assert.match(sync.status().outOfSync[0]!.diff, /- timeoutMs: 800\n\+ timeoutMs: 111/);
    const { events } = (await server.app.inject({ url: "/api/v1/events?limit=1000" })).json() as Events;
    assert.ok(events.some((e) => e.reason === "OutOfSync" && e.name === "alpha"));
    assert.ok(events.some((e) => e.reason === "Reverted" && e.name === "beta"));
    const status = (await server.app.inject({ url: "/api/v1/resources/deployment/alpha" })).json() as {
      status: { sync: string };
    };
    assert.equal(status.status.sync, "OutOfSync");
  });

  test("a file removed from the folder is pruned; resources from elsewhere are left alone", async () => {
    await unlink(join(dir, "team", "b.yml"));
    await sync.sync();
    assert.equal(await timeoutOf("beta"), undefined);
    assert.equal(await timeoutOf("fraud"), 10_000, "deployed through the API, never in the folder");
    const { events } = (await server.app.inject({ url: "/api/v1/events?name=beta" })).json() as Events;
    assert.equal(events.at(-1)?.reason, "Pruned");
  });
});

describe("GitOps: a git repository", () => {
  let server: TestServer;
  let repo: string;
  let work: string;
  const git = gitIn(() => repo);

  before(async () => {
    server = await startTestServer();
    repo = await mkdtemp(join(tmpdir(), "ballast-repo-"));
    work = await mkdtemp(join(tmpdir(), "ballast-clones-"));
    git("init", "--quiet", "--initial-branch", "main");
    await mkdir(join(repo, "deploy"));
    await writeFile(join(repo, "deploy", "shop.yaml"), deployment("shop", 600));
    await writeFile(join(repo, "README.md"), "manifests live in deploy/\n");
    git("add", ".");
    git("commit", "--quiet", "-m", "shop at 600 ms");
  });
  after(async () => {
    await server.close();
    await rm(repo, { recursive: true, force: true });
    await rm(work, { recursive: true, force: true });
  });

  test("each commit on the branch is applied and recorded with its hash", async () => {
    const sync = new SourceSync(
      gitSource({ repo, branch: "main", path: "deploy", workDir: work }),
      server.ballast.resources,
      server.ballast.events,
      server.clock,
    );
    await sync.sync();
    assert.equal(sync.status().lastError, null);
    const first = git("rev-parse", "HEAD");
    assert.equal(sync.status().commit, first);
    const view = (await server.app.inject({ url: "/api/v1/resources/deployment/shop" })).json() as {
      manifest: { spec: { timeoutMs: number } };
      status: { source: { via: string; commit: string; file: string } };
    };
    assert.equal(view.manifest.spec.timeoutMs, 600);
    assert.deepEqual(
      [view.status.source.via, view.status.source.commit, view.status.source.file],
      ["git", first, "shop.yaml"],
    );

    await writeFile(join(repo, "deploy", "shop.yaml"), deployment("shop", 650));
    git("commit", "--quiet", "-am", "shop at 650 ms");
    const second = git("rev-parse", "HEAD");
    await sync.sync();
    const res = (await server.app.inject({ url: "/api/v1/deployments/shop" })).json() as {
      timeoutMs: number;
    };
    assert.equal(res.timeoutMs, 650);
    const { events } = (
      await server.app.inject({ url: "/api/v1/events?kind=Source&limit=10" })
    ).json() as Events;
    const synced = events.filter((e) => e.reason === "Synced");
    assert.deepEqual(
      synced.map((e) => (e.details.source as { commit: string }).commit),
      [first, second],
    );
    assert.match(
      synced[1]!.message,
      new RegExp(`deployment/shop configured from .* at ${second.slice(0, 12)}`),
    );
    await sync.stop();
  });

  test("a branch that does not exist is a sync failure naming it, not a crash", async () => {
    const sync = new SourceSync(
      gitSource({ repo, branch: "nope", workDir: work }),
      server.ballast.resources,
      server.ballast.events,
      server.clock,
    );
    await sync.sync();
    assert.match(sync.status().lastError ?? "", /git clone of .* \(nope\) failed/);
    assert.equal(sync.status().failures, 1);
  });
});

describe("GitOps: a watched folder drives a full canary", () => {
  let server: TestServer;
  let dir: string;
  before(async () => {
    server = await startTestServer();
    dir = await mkdtemp(join(tmpdir(), "ballast-watch-canary-"));
    const v2 = join(server.dataDir, "fraud-v2.json");
    await writeFile(
      v2,
      JSON.stringify({
        format: "ballast.builtin/v1",
        kind: "logistic_regression",
        features: ["amount", "hour", "night"],
        weights: [0.8, -0.05, 1.5],
        intercept: -2,
      }),
    );
    await server.ballast.registry.registerVersion({ model: "fraud", artifactPath: v2 });
  });
  after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  const canary = (version: number) => `apiVersion: ballast/v1
kind: Deployment
metadata: {name: shop}
spec:
  variants: [{model: fraud, version: ${version}}]
  strategy:
    canary:
      steps: [{setWeight: 25}, {pause: {duration: 1m}}, {setWeight: 75}, {pause: {duration: 1m}}]
      analysis: {interval: 10s, gates: [{metric: error_rate, minSamples: 10}]}
`;

  test("a commit of a new version is rolled out step by step, promoted, and ends in sync", async () => {
    const sync = new SourceSync(
      folderSource(dir),
      server.ballast.resources,
      server.ballast.events,
      server.clock,
    );
    await writeFile(join(dir, "shop.yaml"), canary(1));
    await sync.sync();
    await writeFile(join(dir, "shop.yaml"), canary(2));
    await sync.sync();
    const weights = () =>
      server.ballast.endpoints.get("shop").variants.map((v) => [v.version.version, v.variant.weight]);
    assert.deepEqual(weights(), [
      [1, 75],
      [2, 25],
    ]);
    let view = (await server.app.inject({ url: "/api/v1/resources/deployment/shop" })).json() as {
      status: { sync: string };
    };
    assert.equal(view.status.sync, "Progressing");
    await sync.sync(); // polling again while the rollout runs changes nothing and reports nothing
    assert.deepEqual(sync.status().outOfSync, []);
    for (let s = 0; s < 14; s++) {
      for (let i = 0; i < 10; i++) {
        await server.app.inject({
          method: "POST",
          url: "/v1/models/shop:predict",
          payload: { instances: [{ amount: 1, hour: 2, night: 0 }] },
        });
      }
      server.clock.advance(10_000);
      await server.ballast.rollouts.tick();
    }
    assert.deepEqual(weights(), [[2, 100]]);
    view = (await server.app.inject({ url: "/api/v1/resources/deployment/shop" })).json() as {
      status: { sync: string };
    };
    assert.equal(view.status.sync, "Synced");
    const { events } = (
      await server.app.inject({ url: "/api/v1/events?kind=Deployment&name=shop&limit=100" })
    ).json() as Events;
    assert.deepEqual(
      events
        .map((e) => e.reason)
        .filter((r) => ["Created", "Applied", "RolloutStarted", "StepWeight", "Promoted"].includes(r)),
      ["Created", "RolloutStarted", "StepWeight", "Applied", "StepWeight", "Promoted"],
    );
  });
});
