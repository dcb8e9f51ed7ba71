/**
 * The Alertmanager notifier against Debian's real prometheus-alertmanager, started by the test
 * on a free loopback port with clustering off and a receiver that sends nowhere.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { once } from "node:events";
import { alertIdentity } from "../../src/alerts/alert-book.js";
import type { AlertNotification } from "../../src/alerts/notifier.js";
import { createNotifier } from "../../src/alerts/notifiers/index.js";

const binary = "/usr/bin/prometheus-alertmanager";
const skip = existsSync(binary)
  ? false
  : "prometheus-alertmanager is not installed (apt-get install prometheus-alertmanager); .ci/run installs it";

interface GettableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL?: string;
  status: { state: string };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("alertmanager notifier against prometheus-alertmanager", { skip }, () => {
  let dir = "";
  let base = "";
  let child: ChildProcess | undefined;
  let output = "";

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "ballast-alertmanager-"));
    writeFileSync(
      join(dir, "alertmanager.yml"),
      ["route:", '  receiver: "null"', "receivers:", '  - name: "null"', ""].join("\n"),
    );
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    child = spawn(
      binary,
      [
        `--config.file=${join(dir, "alertmanager.yml")}`,
        `--storage.path=${join(dir, "data")}`,
        `--web.listen-address=127.0.0.1:${port}`,
        "--cluster.listen-address=",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    // Polling a real process's readiness, bounded: at most 150 tries, 100 ms apart.
    for (let attempt = 0; attempt < 150; attempt += 1) {
      if (child.exitCode !== null) break;
      const ready = await fetch(`${base}/-/ready`).then(
        (response) => response.ok,
        () => false,
      );
      if (ready) return;
      await delay(100);
    }
    throw new Error(`prometheus-alertmanager did not become ready on ${base}:\n${output.slice(-2000)}`);
  });

  after(async () => {
    // Alertmanager writes its state on the way out: remove its dir once it has exited.
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      const stop = new AbortController();
      const late = delay(10_000, undefined, { signal: stop.signal }).then(
        () => child?.kill("SIGKILL"),
        () => undefined,
      );
      await Promise.race([exited, late]);
      await exited;
      stop.abort();
    }
    if (dir) rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  });

  async function alerts(): Promise<GettableAlert[]> {
    const response = await fetch(`${base}/api/v2/alerts`);
    assert.equal(response.status, 200);
    return (await response.json()) as GettableAlert[];
  }

  test("a firing alert shows as active; its resolve ends it", async () => {
    const notifier = createNotifier({ kind: "alertmanager", name: "am", url: `${base}/` });
    const labels = {
      alertname: "FeatureDrift",
      deployment: "fraud",
      feature: "amount",
      severity: "warning",
      test: "psi",
    };
    // Alertmanager judges activity against its own clock, so the times are real ones.
    const startsAt = Date.now() - 60_000;
    const firing: AlertNotification = {
      status: "firing",
      identity: alertIdentity(labels),
      labels,
      annotations: { summary: "amount drifted", score: "0.31", threshold: "0.2" },
      startsAt,
      generatorUrl: "http://127.0.0.1:8080/api/v1/monitors/fraud-drift",
    };
    await notifier.send(firing, new AbortController().signal);

    const active = (await alerts()).filter((alert) => alert.labels.feature === "amount");
    assert.equal(active.length, 1);
    const [alert] = active;
    assert.ok(alert);
    assert.deepEqual(alert.labels, labels);
    assert.deepEqual(alert.annotations, firing.annotations);
    assert.equal(Date.parse(alert.startsAt), startsAt);
    assert.equal(alert.generatorURL, firing.generatorUrl);
    assert.ok(Date.parse(alert.endsAt) > Date.now(), "still active: its end lies in the future");
    assert.notEqual(alert.status.state, "resolved");

    const endsAt = Date.now() - 1000;
    await notifier.send({ ...firing, status: "resolved", endsAt }, new AbortController().signal);
    const later = (await alerts()).filter((entry) => entry.labels.feature === "amount");
    // Alertmanager 0.25 leaves resolved alerts out of the list; any still listed must carry our end.
    assert.deepEqual(
      later.filter((entry) => Date.parse(entry.endsAt) !== endsAt),
      [],
      "no alert for the feature is still active after the resolve",
    );
  });

  test("an invalid alert is rejected as not retryable", async () => {
    const notifier = createNotifier({ kind: "alertmanager", name: "am", url: base });
    await assert.rejects(
      notifier.send(
        {
          status: "firing",
          identity: "bad",
          labels: { "bad label": "x" },
          annotations: {},
          startsAt: Date.now(),
        },
        new AbortController().signal,
      ),
      (error: unknown) =>
        error instanceof Error &&
        "details" in error &&
        (error as { details?: { retryable?: boolean; status?: number } }).details?.retryable === false &&
        (error as { details?: { status?: number } }).details?.status === 400,
    );
  });
});
