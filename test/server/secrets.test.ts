/** Issue 8, item 2: secrets in resources are never returned or written to events; they can be referenced. */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestServer, type TestServer } from "../helpers/app.js";
import { readManifests } from "../../src/resources/manifest.js";
import { createNotifier, parseNotifierConfig } from "../../src/alerts/notifiers/index.js";
import { REDACTED, redactSecrets, redactUrl } from "../../src/domain/redact.js";
import { ANYWHERE, parseAllowList } from "../../src/domain/remote-access.js";
import { DEFAULT_SECRET_ENV } from "../../src/domain/secret-access.js";
import { alertIdentity } from "../../src/alerts/alert-book.js";
import type { AlertNotification } from "../../src/alerts/notifier.js";
import type { NotifierConfig } from "../../src/alerts/notifiers/index.js";
import type { RolloutState } from "../../src/rollout/rollout-state.js";

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
      process.env.BALLAST_SECRET_TEST_HOOK_URL = `${url}/in/k3y`;
      const raw = {
        kind: "webhook",
        name: "ref",
        urlFrom: { env: "BALLAST_SECRET_TEST_HOOK_URL" },
        headersFrom: { Authorization: { file: tokenFile } },
      };
      const config = parseNotifierConfig(raw);
      assert.deepEqual(redactSecrets(config), config); // references are not secrets
      // The data dir as the secrets directory (--secrets-dir); the default env allow-list.
      const secrets = { dir: server.dataDir, env: DEFAULT_SECRET_ENV };
      await createNotifier(raw, "notifier", ANYWHERE, secrets).send(firing, new AbortController().signal);
      assert.equal(received.at(-1)?.authorization, "Bearer from-file");
      delete process.env.BALLAST_SECRET_TEST_HOOK_URL;
      await assert.rejects(
        createNotifier(raw, "notifier", ANYWHERE, secrets).send(firing, new AbortController().signal),
        /urlFrom: environment variable BALLAST_SECRET_TEST_HOOK_URL is not set/,
      );
      // Under the default policy (/run/secrets) the same file is outside: refused, not read.
      process.env.BALLAST_SECRET_TEST_HOOK_URL = `${url}/in/k3y`;
      await assert.rejects(
        createNotifier(raw).send(firing, new AbortController().signal),
        /headersFrom.Authorization: .* is outside the secrets directory \/run\/secrets/,
      );
      delete process.env.BALLAST_SECRET_TEST_HOOK_URL;
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

describe("secrets: what a declared notifier may reference (--secrets-dir, --secret-env)", () => {
  const received: IncomingHttpHeaders[] = [];
  const receiver = createServer((request, response) => {
    received.push(request.headers);
    request.resume();
    request.on("end", () => response.end("ok"));
  });
  let url = "";
  let secretsDir = "";
  let server: TestServer;
  before(async () => {
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    secretsDir = await mkdtemp(join(tmpdir(), "ballast-secrets-dir-"));
    await writeFile(join(secretsDir, "hook-token"), "Bearer allowed\n");
    server = await startTestServer({
      ballast: {
        secretAccess: { dir: secretsDir, env: ["BALLAST_SECRET_*"] },
        remoteAccess: parseAllowList("127.0.0.1"),
      },
    });
  });
  after(async () => {
    await server.close();
    await rm(secretsDir, { recursive: true, force: true });
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
  });

  const apply = (yaml: string) =>
    server.app.inject({ method: "POST", url: "/api/v1/apply", payload: { resources: manifests(yaml) } });
  const hook = (name: string, headersFrom: string) => `apiVersion: ballast/v1
kind: Notifier
metadata: {name: ${name}}
spec: {kind: webhook, url: "${url}/in", headersFrom: {Authorization: ${headersFrom}}}
`;
  const fieldOf = (body: string): unknown =>
    (JSON.parse(body) as { details?: { field?: string } }).details?.field;

  test("{env: BALLAST_TOKEN} is refused at apply, naming the field", async () => {
    const res = await apply(hook("exfil", "{env: BALLAST_TOKEN}"));
    assert.equal(res.statusCode, 400, res.body);
    assert.match(
      res.body,
      /spec\.headersFrom\.Authorization\.env: environment variable BALLAST_TOKEN is one the server itself uses/,
    );
    assert.equal(fieldOf(res.body), "spec.headersFrom.Authorization.env");
    const other = await apply(hook("exfil", "{env: HOME}"));
    assert.equal(other.statusCode, 400, other.body);
    assert.match(other.body, /HOME is not allowed; this server allows BALLAST_SECRET_\* \(--secret-env\)/);
  });

  test("{file: /etc/passwd} and '..' are refused at apply, naming the field", async () => {
    for (const file of ["/etc/passwd", "../../etc/passwd"]) {
      const res = await apply(hook("exfil", `{file: "${file}"}`));
      assert.equal(res.statusCode, 400, res.body);
      assert.match(
        res.body,
        /spec\.headersFrom\.Authorization\.file: .* is outside the secrets directory .* \(--secrets-dir\)/,
      );
      assert.equal(fieldOf(res.body), "spec.headersFrom.Authorization.file");
    }
    const listed = (await server.app.inject({ url: "/api/v1/resources/notifier" })).body;
    assert.ok(!listed.includes("exfil"), listed);
  });

  test("a Monitor's inline notifier is refused at apply the same way", async () => {
    const res = await apply(`apiVersion: ballast/v1
kind: Monitor
metadata: {name: leaky}
spec:
  deployment: fraud
  window: {kind: tumbling, by: count, size: 500}
  notifiers: [{kind: email, name: m, host: smtp.example.com, port: 587, from: a@b, to: [c@d], auth: {user: u, passFrom: {env: BALLAST_STORE}}}]
`);
    assert.equal(res.statusCode, 400, res.body);
    assert.equal(fieldOf(res.body), "spec.notifiers[0].auth.passFrom.env");
  });

  test("a rollout strategy's inline notifiers are checked at apply, --allow-remote too", async () => {
    const deployment = (notifier: string) => `apiVersion: ballast/v1
kind: Deployment
metadata: {name: fraud}
spec:
  variants: [{model: fraud, version: 1}]
  strategy:
    canary:
      steps: [{setWeight: 20}]
      notifiers: [${notifier}]
`;
    const remote = await apply(deployment(`{kind: webhook, name: w, url: "http://attacker.example.com/x"}`));
    assert.equal(remote.statusCode, 400, remote.body);
    assert.equal(fieldOf(remote.body), "spec.strategy.canary.notifiers[0].url");
    assert.match(remote.body, /attacker\.example\.com is not an allowed remote host/);
    const secret = await apply(
      deployment(`{kind: webhook, name: w, url: "${url}/in", headersFrom: {X-Key: {file: /etc/shadow}}}`),
    );
    assert.equal(secret.statusCode, 400, secret.body);
    assert.equal(fieldOf(secret.body), "spec.strategy.canary.notifiers[0].headersFrom.X-Key.file");
    const put = await server.app.inject({
      method: "PUT",
      url: "/api/v1/deployments/fraud",
      payload: {
        model: "fraud",
        version: 1,
        strategy: {
          canary: {
            steps: [{ setWeight: 20 }],
            notifiers: [{ kind: "slack", name: "s", urlFrom: { env: "BALLAST_TOKEN" } }],
          },
        },
      },
    });
    assert.equal(put.statusCode, 400, put.body);
    assert.equal(fieldOf(put.body), "strategy.canary.notifiers[0].urlFrom.env");
  });

  test("a file inside the secrets directory is applied and delivered", async () => {
    const res = await apply(hook("ok", "{file: hook-token}"));
    assert.equal(res.statusCode, 200, res.body);
    const stored = (await server.app.inject({ url: "/api/v1/resources/notifier/ok" })).json() as {
      manifest: { spec: NotifierConfig };
    };
    // Sent through the server's own rollout alerts, which carry the policy given to openBallast.
    const state = {
      id: "r1",
      deployment: "fraud",
      canary: { model: "fraud", version: 2 },
      message: "rolled back",
      updatedAt: Date.UTC(2026, 0, 5),
    } as unknown as RolloutState;
    server.ballast.rolloutAlerts.notify(
      state,
      [{ reason: "RolledBack", message: "rolled back" }],
      [stored.manifest.spec],
    );
    await server.ballast.alerts.idle();
    assert.equal(received.at(-1)?.authorization, "Bearer allowed");
  });
});
