/**
 * Pipelines over HTTP (app.inject): declared as a resource (PUT and `apply`), runs started,
 * refused while one is going, followed step by step with their artifacts, logs, cancel; and who
 * may do what (viewer reads, operator runs and cancels, admin declares).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { injectStepKinds } from "../../src/pipelines/steps/index.js";
import { hashToken, parseTokenFile } from "../../src/server/tokens.js";
import { startTestServer, type TestServer } from "../helpers/app.js";
import { testKinds } from "./test-kinds.js";

const SPEC = {
  params: { word: "ab" },
  retries: { limit: 1, backoff: "1s" },
  steps: [
    { name: "data", emit: { value: "${params.word}" } },
    { name: "twice", double: { input: "data" } },
  ],
};

describe("pipelines API", () => {
  let server: TestServer;
  let restore: () => void;
  const t = testKinds();
  const as = (token: string) => ({ authorization: `Bearer ${token}` });

  before(async () => {
    restore = injectStepKinds(t.kinds);
    const tokens = parseTokenFile(
      [
        `- {name: grafana, role: viewer, sha256: ${hashToken("view-t")}}`,
        `- {name: ci, role: operator, sha256: ${hashToken("op-t")}}`,
        `- {name: root, role: admin, sha256: ${hashToken("admin-t")}}`,
      ].join("\n"),
      "tokens.yaml",
    );
    server = await startTestServer({ app: { tokens }, ballast: { pipelineTicker: false }, deploy: false });
  });
  after(async () => {
    await server.close();
    restore();
  });

  const inject = (method: "GET" | "PUT" | "POST" | "DELETE", url: string, token: string, payload?: object) =>
    server.app.inject({ method, url, headers: as(token), ...(payload === undefined ? {} : { payload }) });
  const finish = async (id: string) => {
    for (let i = 0; i < 10; i++) {
      await server.ballast.pipelines.tick();
      await server.ballast.pipelines.settled();
      const run = await server.ballast.pipelines.get(id);
      if (run?.state !== "Running" && run?.state !== "Pending") return;
    }
  };

  test("declaring: refused with the field when wrong, created when right, only by an admin", async () => {
    const cycle = await inject("PUT", "/api/v1/pipelines/p", "admin-t", {
      steps: [
        { name: "a", double: { input: "b" } },
        { name: "b", double: { input: "a" } },
      ],
    });
    assert.equal(cycle.statusCode, 400);
    assert.match(cycle.json().error, /cycle: a -> b -> a/);
    const unknown = await inject("PUT", "/api/v1/pipelines/p", "admin-t", { ...SPEC, schedule: "daily" });
    assert.equal(unknown.statusCode, 400);
    assert.match(unknown.json().error, /schedule: unknown field/);
    assert.equal((await inject("PUT", "/api/v1/pipelines/p", "op-t", SPEC)).statusCode, 403);
    const created = await inject("PUT", "/api/v1/pipelines/p", "admin-t", SPEC);
    assert.equal(created.statusCode, 201, created.body);
    assert.equal(created.json().action, "created");
    const again = await inject("PUT", "/api/v1/pipelines/p", "admin-t", SPEC);
    assert.equal(again.json().action, "unchanged");
    const listed = await inject("GET", "/api/v1/pipelines", "view-t");
    assert.deepEqual(
      listed.json().pipelines.map((p: { name: string; status: { sync: string } }) => [p.name, p.status.sync]),
      [["p", "Synced"]],
    );
    // The same resource through the generic routes `ballast get pipelines` uses.
    const generic = await inject("GET", "/api/v1/resources/pipelines", "view-t");
    assert.equal(generic.json().items[0].manifest.kind, "Pipeline");
  });

  test("a run: 201, a second one 409 with the reason, then the steps with their artifacts and logs", async () => {
    assert.equal((await inject("POST", "/api/v1/pipelines/p/runs", "view-t", {})).statusCode, 403);
    const badParam = await inject("POST", "/api/v1/pipelines/p/runs", "op-t", { params: { wrod: "x" } });
    assert.equal(badParam.statusCode, 400);
    assert.match(badParam.json().error, /params\.wrod: not a parameter/);
    assert.equal((await inject("POST", "/api/v1/pipelines/nope/runs", "op-t", {})).statusCode, 404);
    const started = await inject("POST", "/api/v1/pipelines/p/runs", "op-t", { params: { word: "hey" } });
    assert.equal(started.statusCode, 201, started.body);
    const run = started.json().run;
    assert.equal(run.state, "Pending");
    assert.deepEqual(run.params, { word: "hey" });
    assert.equal(run.trigger.kind, "manual");
    const second = await inject("POST", "/api/v1/pipelines/p/runs", "op-t", {});
    assert.equal(second.statusCode, 409);
    assert.equal(second.json().code, "conflict");
    assert.match(second.json().error, new RegExp(`already has 1 run going \\(${run.id}\\)`));

    await finish(run.id);
    const shown = (await inject("GET", `/api/v1/pipelines/p/runs/${run.id}`, "view-t")).json();
    assert.equal(shown.state, "Succeeded");
    const [data, twice] = shown.steps;
    assert.equal(data.name, "data");
    assert.equal(data.state, "Succeeded");
    assert.equal(data.cached, false);
    assert.equal(typeof data.durationMs, "number");
    assert.match(data.outputs.data.sha256, /^[0-9a-f]{64}$/);
    assert.equal(twice.inputs.data.sha256, data.outputs.data.sha256);
    assert.deepEqual(twice.summary, { length: 6 });
    // `-` finds the run whatever its pipeline (what `ballast pipeline show <run>` uses).
    assert.equal((await inject("GET", `/api/v1/pipelines/-/runs/${run.id}`, "view-t")).json().id, run.id);
    assert.equal((await inject("GET", `/api/v1/pipelines/other/runs/${run.id}`, "view-t")).statusCode, 404);
    const logs = (await inject("GET", `/api/v1/pipelines/p/runs/${run.id}/logs?step=data`, "view-t")).json();
    assert.ok(logs.lines.some((l: { line: string }) => l.line === "emitting hey"));
    assert.ok(logs.lines.every((l: { step: string }) => l.step === "data"));
    const listed = (await inject("GET", "/api/v1/pipelines/p/runs", "view-t")).json();
    assert.deepEqual(
      listed.runs.map((r: { id: string }) => r.id),
      [run.id],
    );

    // The same again: every step from the cache.
    const rerun = (
      await inject("POST", "/api/v1/pipelines/p/runs", "op-t", { params: { word: "hey" } })
    ).json().run;
    await finish(rerun.id);
    const cached = (await inject("GET", `/api/v1/pipelines/p/runs/${rerun.id}`, "view-t")).json();
    assert.deepEqual(
      cached.steps.map((s: { state: string; cached: boolean }) => [s.state, s.cached]),
      [
        ["Cached", true],
        ["Cached", true],
      ],
    );
  });

  test("cancel: by an operator, the run Cancelled; a finished run cannot be cancelled", async () => {
    const release = t.gate("data");
    const run = (
      await inject("POST", "/api/v1/pipelines/p/runs", "op-t", { params: { word: "slow" } })
    ).json().run;
    await server.ballast.pipelines.tick();
    assert.equal(
      (await inject("POST", `/api/v1/pipelines/p/runs/${run.id}/cancel`, "view-t")).statusCode,
      403,
    );
    const cancelled = await inject("POST", `/api/v1/pipelines/p/runs/${run.id}/cancel`, "op-t");
    assert.equal(cancelled.statusCode, 200, cancelled.body);
    assert.equal(cancelled.json().run.state, "Cancelled");
    assert.equal(cancelled.json().run.reason, "cancelled by a request to the API");
    release();
    await server.ballast.pipelines.settled();
    const again = await inject("POST", `/api/v1/pipelines/p/runs/${run.id}/cancel`, "op-t");
    assert.equal(again.statusCode, 409);
  });

  test("delete: the pipeline goes, its runs stay readable", async () => {
    assert.equal((await inject("DELETE", "/api/v1/pipelines/p", "op-t")).statusCode, 403);
    assert.equal((await inject("DELETE", "/api/v1/pipelines/p", "admin-t")).statusCode, 200);
    assert.equal((await inject("GET", "/api/v1/pipelines/p", "view-t")).statusCode, 404);
    assert.equal((await inject("GET", "/api/v1/pipelines/p/runs", "view-t")).json().runs.length, 3);
    assert.equal((await inject("POST", "/api/v1/pipelines/p/runs", "op-t", {})).statusCode, 404);
  });
});
