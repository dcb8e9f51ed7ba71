/** Issue 8, item 2: secrets in resources are never returned or written to events; they can be referenced. */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { startTestServer, type TestServer } from "../helpers/app.js";
import { readManifests } from "../../src/resources/manifest.js";
import { createNotifier, parseNotifierConfig } from "../../src/alerts/notifiers/index.js";
import { REDACTED, redactSecrets, redactUrl } from "../../src/domain/redact.js";
import { alertIdentity } from "../../src/alerts/alert-book.js";
import type { AlertNotification } from "../../src/alerts/notifier.js";

const SECRETS = ["hunter2", "s3cr3t-hook", "XXXXSLACKKEY", "am-t0ken", "inline-k3y"];

const stack = (password: string) => `apiVersion: ballast/v1
kind: Notifier
metadata: {name: mail}
spec: {kind: email, host: smtp.example.com, port: 587, from: a@example.com, to: [b@example.com], auth: {user: ops, pass: ${password}}}
---
apiVersion: ballast/v1
kind: Notifier
metadata: {name: hook}
spec: {kind: webhook, url: "http://hooks.example.com/in?key=s3cr3t-hook", headers: {Authorization: "Bearer s3cr3t-hook", X-Team: ops}}
---
apiVersion: ballast/v1
kind: Notifier
metadata: {name: slack}
spec: {kind: slack, url: "https://hooks.slack.com/services/T000/B000/XXXXSLACKKEY"}
---
apiVersion: ballast/v1
kind: Notifier
metadata: {name: am}
spec: {kind: alertmanager, url: "http://alertmanager:9093", headers: {authorization: "Basic am-t0ken"}}
---
apiVersion: ballast/v1
kind: Monitor
metadata: {name: fraud-drift}
spec:
  deployment: fraud
  window: {kind: tumbling, by: count, size: 500}
  notifiers: [mail, hook, slack, am, {kind: webhook, name: inline, url: "http://127.0.0.1:9/x", headers: {x-api-key: inline-k3y}}]
`;

const manifests = (yaml: string) =>
  readManifests(yaml, "stack.yaml").map((m) => ({ manifest: m.manifest, origin: m.origin }));

function assertNoSecret(text: string, where: string): void {
  for (const secret of SECRETS)
    assert.ok(!text.includes(secret), `${where} shows ${secret}: ${text.slice(0, 2000)}`);
}

describe("secrets: redacted on the way out", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => server.close());

  const apply = (yaml: string, dryRun = false) =>
    server.app.inject({
      method: "POST",
      url: "/api/v1/apply",
      payload: { resources: manifests(yaml), dryRun },
    });

  test("apply (dry run and real) answers without the secrets", async () => {
    const dry = await apply(stack("hunter2"), true);
    assert.equal(dry.statusCode, 200, dry.body);
    assertNoSecret(dry.body, "dry run");
    const res = await apply(stack("hunter2"));
    assert.equal(res.statusCode, 200, res.body);
    assertNoSecret(res.body, "apply");
    assert.match(res.body, /<redacted>/);
  });

  test("resources, monitors and events read back without the secrets", async () => {
    for (const url of [
      "/api/v1/resources/notifier",
      "/api/v1/resources/notifier/mail",
      "/api/v1/resources/notifier/slack",
      "/api/v1/resources/monitor",
      "/api/v1/monitors",
      "/api/v1/monitors/fraud-drift",
      "/api/v1/events",
    ]) {
      const res = await server.app.inject({ url });
      assert.equal(res.statusCode, 200, `${url}: ${res.body}`);
      assertNoSecret(res.body, url);
    }
    const mail = (await server.app.inject({ url: "/api/v1/resources/notifier/mail" })).json() as {
      manifest: { spec: { auth: { user: string; pass: string } } };
    };
    assert.deepEqual(mail.manifest.spec.auth, { user: "ops", pass: REDACTED });
    const slack = (await server.app.inject({ url: "/api/v1/resources/notifier/slack" })).json() as {
      manifest: { spec: { url: string } };
    };
    assert.equal(slack.manifest.spec.url, `https://hooks.slack.com/${REDACTED}`);
  });

  test("nothing secret is stored in the event log", async () => {
    const events = await server.ballast.events.list({ limit: 1000 });
    assert.ok(events.length > 0);
    assertNoSecret(JSON.stringify(events), "event log");
  });

  test("redaction does not break idempotence; a changed secret is a change, not shown", async () => {
    const again = (await apply(stack("hunter2"))).json() as { changes: Array<{ action: string }> };
    assert.ok(
      again.changes.every((c) => c.action === "unchanged"),
      JSON.stringify(again.changes),
    );
    const rotated = await apply(stack("hunter3"));
    const body = rotated.json() as {
      changes: Array<{ kind: string; name: string; action: string; diff: string }>;
    };
    const mail = body.changes.find((c) => c.name === "mail");
    assert.equal(mail?.action, "configured");
    assert.ok(!rotated.body.includes("hunter3"));
    assert.match(mail?.diff ?? "", /values changed \(not shown\)/);
    const sync = (await server.app.inject({ url: "/api/v1/resources/notifier/mail" })).json() as {
      status: { sync: string };
    };
    assert.equal(sync.status.sync, "Synced");
  });
});

describe("secrets: redaction rules", () => {
  test("credential fields, header values, URL paths and user info anywhere", () => {
    assert.deepEqual(
      redactSecrets({
        auth: { user: "u", pass: "p" },
        headers: { "X-Team": "ops" },
        url: "http://am:9093",
        location: "https://bot:ghp_x@github.com/o/r.git",
        note: "cloned from https://bot:ghp_x@github.com/o/r.git at abc",
      }),
      {
        auth: { user: "u", pass: REDACTED },
        headers: { "X-Team": REDACTED },
        url: "http://am:9093",
        location: `https://${REDACTED}@github.com/o/r.git`,
        note: `cloned from https://${REDACTED}@github.com/o/r.git at abc`,
      },
    );
    assert.equal(redactUrl("https://hooks.slack.com/services/T/B/K"), `https://hooks.slack.com/${REDACTED}`);
  });
});

describe("secrets: referenced from the environment or a file", () => {
  const received: IncomingHttpHeaders[] = [];
  const receiver = createServer((request, response) => {
    received.push(request.headers);
    request.resume();
    request.on("end", () => response.end("ok"));
  });
  let url = "";
  before(async () => {
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => receiver.close(() => resolve())));

  const labels = { alertname: "FeatureDrift", deployment: "fraud" };
  const firing: AlertNotification = {
    status: "firing",
    identity: alertIdentity(labels),
    labels,
    annotations: { summary: "drift" },
    startsAt: Date.UTC(2026, 0, 5),
  };

  test("urlFrom and headersFrom are read when sending; the config shows only the references", async () => {
    const server = await startTestServer({ deploy: false });
    try {
      const tokenFile = join(server.dataDir, "hook-token");
      await writeFile(tokenFile, "Bearer from-file\n");
      process.env.BALLAST_TEST_HOOK_URL = `${url}/in/k3y`;
      const raw = {
        kind: "webhook",
        name: "ref",
        urlFrom: { env: "BALLAST_TEST_HOOK_URL" },
        headersFrom: { Authorization: { file: tokenFile } },
      };
      const config = parseNotifierConfig(raw);
      assert.deepEqual(redactSecrets(config), config); // references are not secrets
      await createNotifier(raw).send(firing, new AbortController().signal);
      assert.equal(received.at(-1)?.authorization, "Bearer from-file");
      delete process.env.BALLAST_TEST_HOOK_URL;
      await assert.rejects(
        createNotifier(raw).send(firing, new AbortController().signal),
        /urlFrom: environment variable BALLAST_TEST_HOOK_URL is not set/,
      );
    } finally {
      await server.close();
    }
  });

  test("references are checked when applied", () => {
    assert.throws(
      () => parseNotifierConfig({ kind: "slack", name: "s", url: "https://x", urlFrom: { env: "X" } }),
      /give url or urlFrom/,
    );
    assert.throws(
      () =>
        parseNotifierConfig({
          kind: "webhook",
          name: "w",
          url: "https://x",
          headersFrom: { A: { env: "X", file: "y" } },
        }),
      /exactly one of env or file/,
    );
    const email = parseNotifierConfig({
      kind: "email",
      name: "m",
      host: "h",
      port: 25,
      from: "a@b",
      to: ["c@d"],
      auth: { user: "u", passFrom: { env: "SMTP_PASSWORD" } },
    });
    assert.deepEqual((email as { auth?: unknown }).auth, { user: "u", passFrom: { env: "SMTP_PASSWORD" } });
  });
});
