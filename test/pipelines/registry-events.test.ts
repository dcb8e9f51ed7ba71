/**
 * Registry and pipeline events: a version registered (by any door) and an alias moved (over
 * HTTP) are recorded in the event log and delivered to a real HTTP webhook whose Notifier
 * subscribes to them; a pipeline's validation failure and finished run go the same way through
 * recordRunEvent. A Notifier that subscribes to nothing hears nothing; a non-change (the same
 * artifact again, an alias set to where it is) announces nothing.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { once } from "node:events";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { readManifests } from "../../src/resources/manifest.js";
import { recordRunEvent } from "../../src/pipelines/run-events.js";
import { FRAUD_MODEL, startTestServer, type TestServer } from "../helpers/app.js";

interface Received {
  readonly path: string;
  readonly body: { status: string; labels: Record<string, string>; annotations: Record<string, string> };
}

/** A real HTTP receiver on a free port that records the JSON bodies it accepts, per path. */
async function receiver() {
  const received: Received[] = [];
  const server = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk: Buffer) => (body += chunk));
    request.on("end", () => {
      received.push({ path: request.url ?? "", body: JSON.parse(body) as Received["body"] });
      response.end("ok");
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    received,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe("registry events", () => {
  let server: TestServer;
  let hook: Awaited<ReturnType<typeof receiver>>;

  before(async () => {
    hook = await receiver();
    server = await startTestServer({ deploy: false });
  });
  after(async () => {
    await server.close();
    await hook.close();
  });

  const apply = (yaml: string) =>
    server.app.inject({
      method: "POST",
      url: "/api/v1/apply",
      payload: {
        resources: readManifests(yaml, "n.yaml").map((m) => ({ manifest: m.manifest, origin: m.origin })),
        source: { via: "cli" },
      },
    });

  test("a Notifier's events list is checked, naming the field", async () => {
    const res = await apply(`apiVersion: ballast/v1
kind: Notifier
metadata: {name: bad}
spec: {kind: webhook, url: "${hook.url}/bad", events: [VersionRegistered, ModelDeleted]}
`);
    assert.equal(res.statusCode, 400, res.body);
    assert.match(
      res.body,
      /spec\.events\[1\]: expected one of VersionRegistered, AliasMoved, ValidationFailed, RunFinished/,
    );
  });

  test("registered, alias moved, validation failed, run finished: in the event log and at the subscribed webhook only", async () => {
    const res = await apply(`apiVersion: ballast/v1
kind: Notifier
metadata: {name: registry-hook}
spec: {kind: webhook, url: "${hook.url}/registry", events: [VersionRegistered, AliasMoved, ValidationFailed, RunFinished]}
---
apiVersion: ballast/v1
kind: Notifier
metadata: {name: quiet}
spec: {kind: webhook, url: "${hook.url}/quiet"}
`);
    assert.equal(res.statusCode, 200, res.body);
    const path = join(server.dataDir, "fraud-v2.json");
    await writeFile(path, JSON.stringify({ ...FRAUD_MODEL, intercept: -2 }));
    const { version } = await server.ballast.registry.registerVersion({ model: "fraud", artifactPath: path });
    // The same bytes again: no new version, nothing announced.
    await server.ballast.registry.registerVersion({ model: "fraud", artifactPath: path });
    for (let i = 0; i < 2; i++) {
      const moved = await server.app.inject({
        method: "PUT",
        url: "/api/v1/models/fraud/aliases/champion",
        payload: { version: version.version },
      });
      assert.equal(moved.statusCode, 200, moved.body);
    }
    await recordRunEvent(server.ballast.announcements, {
      type: "validation-failed",
      pipeline: "fraud-retrain",
      runId: "r1",
      step: "validate",
      reasons: ["auc 0.71 < threshold 0.8", "logloss rose 0.02, more than allowed"],
    });
    await recordRunEvent(server.ballast.announcements, {
      type: "run-finished",
      pipeline: "fraud-retrain",
      runId: "r1",
      state: "Failed",
      reason: "validate: the candidate failed its gates",
      trigger: "alert fraud-drift firing (critical)",
    });
    await server.ballast.announcements.settled();
    await server.ballast.alerts.idle();

    const events = [
      ...(await server.ballast.events.list({ kind: "Model", name: "fraud" })),
      ...(await server.ballast.events.list({ kind: "Pipeline", name: "fraud-retrain" })),
    ];
    assert.deepEqual(
      events.map((e) => [e.reason, e.type, e.message]),
      [
        [
          "VersionRegistered",
          "Normal",
          `version 1 of fraud registered (builtin, sha256:${version.artifactSha256.slice(0, 12)})`,
        ],
        ["AliasMoved", "Normal", "alias @champion of fraud set to version 1"],
        [
          "ValidationFailed",
          "Warning",
          "run r1: the candidate failed validation (validate): auc 0.71 < threshold 0.8; logloss rose 0.02, more than allowed",
        ],
        ["RunFinished", "Warning", "run r1 failed: validate: the candidate failed its gates"],
      ],
    );
    assert.deepEqual(
      hook.received.map((r) => [
        r.path,
        r.body.status,
        r.body.labels.reason,
        r.body.labels.alertname,
        r.body.annotations.summary,
      ]),
      events.map((e) => ["/registry", "firing", e.reason, `Ballast${e.reason}`, e.message]),
    );
    assert.equal(server.ballast.announcements.stats().failed, 0);
  });
});
