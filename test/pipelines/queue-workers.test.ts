/**
 * Steps through a queue to `ballast worker` processes, on each backend (BullMQ on Redis, and on
 * its PostgreSQL backend): a server serves the artifacts, an in-process QueueExecutor stands in
 * for the orchestrator, two real workers (child processes) take jobs. The worker holding the
 * step is killed with SIGKILL mid-step; the other takes the job once its lock expires, and the
 * executor gets exactly one result, the survivor's. Also: the artifact routes check hashes and
 * roles.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes, createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { Queue } from "bullmq";
import { QueueExecutor, backendFor, obliterateQueue } from "../../src/pipelines/queue/bullmq.js";
import { httpArtifactClient } from "../../src/pipelines/queue/artifact-client.js";
import { parseQueueUrl } from "../../src/pipelines/queue/queue-url.js";
import { accessFor } from "../../src/server/access.js";
import { plainToken } from "../../src/server/tokens.js";
import type { StepTask } from "../../src/pipelines/step.js";
import { startTestServer, type TestServer } from "../helpers/app.js";
import { POSTGRES_URL_VARIABLE } from "../helpers/stores.js";
import { waitFor } from "../helpers/replicas.js";

const TOKEN = "worker-test-token";

async function redisReachable(): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(6379, "127.0.0.1");
    socket.once("connect", () => {
      socket.end();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

interface Worker {
  readonly child: ChildProcess;
  readonly pid: number;
  output: string;
}

function startWorker(server: string, queue: string): Promise<Worker> {
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      "--import",
      "./test/pipelines/fixtures/blocking-step.ts",
      "src/cli/main.ts",
      "worker",
      "--server",
      server,
      "--token",
      TOKEN,
      "--queue",
      queue,
      // Short locks so a dead worker's job is taken back within seconds (default 30s).
      "--lock-duration",
      "2s",
      "--stalled-interval",
      "1s",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  const worker: Worker = { child, pid: child.pid as number, output: "" };
  child.stderr?.setEncoding("utf8");
  return new Promise((resolve, reject) => {
    child.stderr?.on("data", (chunk: string) => {
      worker.output += chunk;
      if (worker.output.includes("taking steps")) resolve(worker);
    });
    child.once("exit", (code) => reject(new Error(`worker exited ${code}: ${worker.output}`)));
  });
}

async function stopWorker(w: Worker): Promise<void> {
  if (w.child.exitCode !== null || w.child.signalCode !== null) return;
  const exited = new Promise((resolve) => w.child.once("exit", resolve));
  w.child.kill("SIGTERM");
  await exited;
}

const backends: Array<{
  name: string;
  skip: () => Promise<string | undefined>;
  url: (queue: string, schema: string) => string;
}> = [
  {
    name: "redis",
    skip: async () => ((await redisReachable()) ? undefined : "no Redis on 127.0.0.1:6379"),
    url: (queue) => `redis://127.0.0.1:6379?queue=${queue}`,
  },
  {
    name: "postgres",
    skip: async () => (process.env[POSTGRES_URL_VARIABLE] ? undefined : `${POSTGRES_URL_VARIABLE} is unset`),
    url: (queue, schema) => {
      const u = new URL(process.env[POSTGRES_URL_VARIABLE] as string);
      u.searchParams.set("queue", queue);
      u.searchParams.set("schema", schema);
      return u.toString();
    },
  },
];

for (const backend of backends) {
  describe(`queue workers on ${backend.name}`, () => {
    let server: TestServer;
    let url: string;
    let dir: string;
    let queueUrl: string;
    let schema: string;
    const workers: Worker[] = [];
    let skip: string | undefined;

    before(async () => {
      skip = await backend.skip();
      if (skip !== undefined) return;
      dir = await mkdtemp(join(tmpdir(), "ballast-queue-"));
      server = await startTestServer({ app: { apiToken: TOKEN }, deploy: false });
      url = await server.app.listen({ port: 0, host: "127.0.0.1" });
      const suffix = randomBytes(4).toString("hex");
      schema = `bq_test_${suffix}`;
      queueUrl = backend.url(`steps-${suffix}`, schema);
    });

    after(async () => {
      if (skip !== undefined) return;
      for (const w of workers) await stopWorker(w);
      await obliterateQueue(queueUrl).catch(() => undefined);
      await server.close();
      await rm(dir, { recursive: true, force: true });
      if (backend.name === "postgres") {
        const client = new pg.Client({ connectionString: process.env[POSTGRES_URL_VARIABLE] });
        await client.connect();
        await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await client.end();
      }
    });

    test("a worker killed mid-step: the other takes the job, and the orchestrator gets one result", async (t) => {
      if (skip !== undefined) return t.skip(skip);
      const input = await server.ballast.artifacts.putBytes(Buffer.from("rows 1-3\n"));
      workers.push(await startWorker(url, queueUrl), await startWorker(url, queueUrl));
      const executor = new QueueExecutor(queueUrl);
      const task: StepTask = {
        runId: "run-1",
        pipeline: "p",
        step: "train",
        kind: "test-block",
        attempt: 1,
        spec: { dir },
        params: {},
        inputs: { data: { sha256: input.sha256, kind: "dataset", bytes: input.size, meta: { rows: 3 } } },
        timeoutMs: 120_000,
        fingerprint: "f",
      };
      const results: unknown[] = [];
      const execution = executor.execute(task, new AbortController().signal).then((r) => {
        results.push(r);
        return r;
      });
      const started = async () => (await readdir(dir)).filter((f) => f.startsWith("started-"));
      const first = (
        await waitFor("a worker to start the step", async () => (await started())[0], { timeoutMs: 30_000 })
      ).value;
      const holder = workers.find((w) => `started-${w.pid}` === first) as Worker;
      const survivor = workers.find((w) => w !== holder) as Worker;
      const killed = new Promise((resolve) => holder.child.once("exit", resolve));
      holder.child.kill("SIGKILL");
      await killed;
      await writeFile(join(dir, "go"), "");
      const result = await execution;
      assert.deepEqual((await started()).sort(), [`started-${holder.pid}`, `started-${survivor.pid}`].sort());
      const out = result.outputs.out;
      assert.ok(out !== undefined);
      const expected = `rows 1-3\nprocessed by ${survivor.pid}\n`;
      assert.equal(out.sha256, createHash("sha256").update(expected).digest("hex"));
      assert.equal(out.bytes, Buffer.byteLength(expected));
      assert.deepEqual(out.meta, { by: survivor.pid });
      // The output is in the server's store, uploaded by the survivor.
      assert.equal(await readFile(await server.ballast.artifacts.ensureLocal(out.sha256), "utf8"), expected);
      // One job, completed once; the dead worker's attempt left no second result.
      const q = parseQueueUrl(queueUrl);
      const { connection, factory } = backendFor(q);
      const queue = new Queue(q.queue, { connection }, factory);
      queue.on("error", () => undefined);
      const counts = await queue.getJobCounts("completed", "failed", "active", "wait");
      await queue.close();
      assert.deepEqual(counts, { completed: 1, failed: 0, active: 0, wait: 0 });
      assert.equal(results.length, 1);
      // The same attempt enqueued again (a restarted orchestrator) is the same job: its result, no new run.
      const again = await executor.execute(task, new AbortController().signal);
      assert.deepEqual(again, result);
      assert.equal((await started()).length, 2);
      await executor.close();
    });
  });
}

describe("artifact routes for workers", () => {
  let server: TestServer;
  let url: string;
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "ballast-artifacts-"));
    server = await startTestServer({
      app: {
        tokens: [plainToken("ops", "operator", "op-token"), plainToken("view", "viewer", "view-token")],
      },
      deploy: false,
    });
    url = await server.app.listen({ port: 0, host: "127.0.0.1" });
  });
  after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  test("operators move artifacts by hash; a wrong hash stores nothing; viewers may not", async () => {
    assert.equal(accessFor("PUT", "/api/v1/artifacts"), "operate");
    assert.equal(accessFor("GET", "/api/v1/artifacts/:sha256"), "operate");
    const client = httpArtifactClient(url, "op-token");
    const file = join(dir, "data.jsonl");
    await writeFile(file, '{"a":1}\n{"a":2}\n');
    const up = await client.upload(file);
    assert.equal(up.sha256, createHash("sha256").update('{"a":1}\n{"a":2}\n').digest("hex"));
    await client.download(up.sha256, join(dir, "back.jsonl"));
    assert.equal(await readFile(join(dir, "back.jsonl"), "utf8"), '{"a":1}\n{"a":2}\n');
    const wrong = "0".repeat(64);
    const refused = await fetch(`${url}/api/v1/artifacts`, {
      method: "PUT",
      headers: {
        authorization: "Bearer op-token",
        "content-type": "application/octet-stream",
        "x-content-sha256": wrong,
      },
      body: "other bytes",
    });
    assert.equal(refused.status, 400);
    assert.match(await refused.text(), /nothing was stored/);
    assert.equal(
      await server.ballast.artifacts.exists(createHash("sha256").update("other bytes").digest("hex")),
      false,
    );
    const missing = await fetch(`${url}/api/v1/artifacts/${wrong}`, {
      headers: { authorization: "Bearer op-token" },
    });
    assert.equal(missing.status, 404);
    const viewer = await fetch(`${url}/api/v1/artifacts/${up.sha256}`, {
      headers: { authorization: "Bearer view-token" },
    });
    assert.equal(viewer.status, 403);
  });
});
