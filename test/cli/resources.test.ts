/** `ballast apply | diff | get | delete | events` and `serve --watch` as a user runs them. */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { once } from "node:events";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { FRAUD_MODEL } from "../helpers/app.js";
import { ballast, startServer } from "../helpers/cli.js";

const STACK = `apiVersion: ballast/v1
kind: Deployment
metadata: {name: shop}
spec:
  variants: [{model: fraud, version: 1}]
---
apiVersion: ballast/v1
kind: Monitor
metadata: {name: shop-drift}
spec:
  deployment: shop
  notifiers: [{kind: webhook, name: hook, url: "http://127.0.0.1:9/hook"}]
`;

describe("ballast apply / diff / get / delete / events", () => {
  let dir: string;
  let server: { child: ChildProcess; url: string };
  let stackFile: string;
  const run = (...args: string[]) => ballast([...args, "--server", server.url, "--token", "t0k"]);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "ballast-cli-res-"));
    const modelPath = join(dir, "fraud.json");
    await writeFile(modelPath, JSON.stringify(FRAUD_MODEL));
    await mkdir(join(dir, "watched"));
    await writeFile(join(dir, "watched", "fraud.yaml"), STACK.replaceAll("shop", "watched-shop"));
    stackFile = join(dir, "stack.yaml");
    await writeFile(stackFile, STACK);
    server = await startServer([
      "--data-dir",
      join(dir, "data"),
      "--model",
      `fraud=${modelPath}`,
      "--token",
      "t0k",
      "--watch",
      join(dir, "watched"),
    ]);
  });
  after(async () => {
    server.child.kill("SIGTERM");
    await once(server.child, "exit");
    await rm(dir, { recursive: true, force: true });
  });

  test("diff before apply shows the additions and exits 1; apply creates; diff after exits 0", () => {
    const diff = run("diff", "-f", stackFile);
    assert.equal(diff.status, 1, diff.stderr);
    assert.match(diff.stdout, /--- Deployment shop \(live\)\n\+\+\+ Deployment shop \(created\)\n/);
    const apply = run("apply", "-f", stackFile);
    assert.equal(apply.status, 0, apply.stderr);
    assert.equal(apply.stdout, "deployment/shop created\nmonitor/shop-drift created\n");
    const again = run("diff", "-f", stackFile);
    assert.equal(again.status, 0, again.stdout + again.stderr);
    assert.equal(again.stdout, "");
  });

  test("a mistake in a file is one line naming file and line, exit 2, before anything is sent", async () => {
    const bad = join(dir, "bad.yaml");
    await writeFile(bad, STACK.replace("version: 1}", "version: 1, weight: 50}"));
    const res = run("apply", "-f", bad);
    assert.equal(res.status, 2);
    assert.match(
      res.stderr,
      /^ballast: .*bad\.yaml:5: Deployment shop: spec\.variants: weights of the live variants must sum to 100/,
    );
    assert.equal(res.stderr.trim().split("\n").length, 1);
  });

  test("get lists with sync state and prints YAML that reads back as manifests", () => {
    const table = run("get", "deployments");
    assert.equal(table.status, 0, table.stderr);
    assert.match(table.stdout, /^KIND\s+NAME\s+SYNC\s+GENERATION\s+SOURCE\s+APPLIED/);
    assert.match(table.stdout, /Deployment\s+shop\s+Synced\s+1\s+cli:/);
    assert.match(table.stdout, /Deployment\s+watched-shop\s+Synced\s+1\s+folder:/);
    assert.match(table.stdout, /Deployment\s+fraud\s+Unmanaged/);
    const yaml = run("get", "monitor", "shop-drift", "-o", "yaml");
    assert.equal(yaml.status, 0, yaml.stderr);
    const [doc] = parseAllDocuments(yaml.stdout) as Array<{
      toJS(): { kind: string; spec: { deployment: string }; status: { sync: string } };
    }>;
    const parsed = doc!.toJS();
    assert.deepEqual(
      [parsed.kind, parsed.spec.deployment, parsed.status.sync],
      ["Monitor", "shop", "Synced"],
    );
    const unknown = run("get", "gadgets");
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /unknown kind 'gadgets'; expected one of Deployment, Monitor, Notifier/);
  });

  test("GET /api/v1/sync says what the watched folder holds and that it applied cleanly", async () => {
    const sync = (await (
      await fetch(`${server.url}/api/v1/sync`, { headers: { authorization: "Bearer t0k" } })
    ).json()) as {
      location: string;
      lastError: string | null;
      syncs: number;
      outOfSync: unknown[];
    };
    assert.match(sync.location, /watched$/);
    assert.equal(sync.lastError, null);
    assert.ok(sync.syncs >= 1);
    assert.deepEqual(sync.outOfSync, []);
  });

  test("without the token a change is refused with exit 6", () => {
    const res = ballast(["delete", "monitor", "shop-drift", "--server", server.url, "--token", "wrong"]);
    assert.equal(res.status, 6);
    assert.match(res.stderr, /needs an API token/);
  });

  test("delete -f removes what the file declares, and events tell the story", () => {
    const res = run("delete", "-f", stackFile);
    assert.equal(res.status, 0, res.stderr);
    assert.equal(res.stdout, "monitor/shop-drift deleted\ndeployment/shop deleted\n");
    const events = run("events", "--name", "shop");
    assert.equal(events.status, 0, events.stderr);
    assert.match(events.stdout, /Normal\s+Created\s+deployment\/shop\s+Deployment shop created/);
    assert.match(events.stdout, /Normal\s+Deleted\s+deployment\/shop/);
  });
});
