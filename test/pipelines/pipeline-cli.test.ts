/**
 * `ballast pipeline …` as a user runs it, against a real server listening on a port (started
 * in this process, so the test's step kinds are in it; its pipelines tick on their timer).
 * `run --wait` exits 0 when the run succeeds and 1 when it fails, saying which step and why.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { injectStepKinds } from "../../src/pipelines/steps/index.js";
import { systemClock } from "../../src/domain/clock.js";
import { startTestServer, type TestServer } from "../helpers/app.js";
import { ballastAsync } from "../helpers/cli.js";
import { testKinds } from "./test-kinds.js";

describe("ballast pipeline", () => {
  let server: TestServer;
  let url: string;
  let restore: () => void;
  const t = testKinds();
  const cli = (...args: string[]) => ballastAsync([...args, "--server", url]);

  before(async () => {
    restore = injectStepKinds(t.kinds);
    // Wall-clock time: the CLI and the server's ticker run on their own.
    server = await startTestServer({ ballast: { clock: systemClock }, deploy: false });
    url = await server.app.listen({ port: 0, host: "127.0.0.1" });
    const put = async (name: string, spec: object) => {
      const r = await server.app.inject({ method: "PUT", url: `/api/v1/pipelines/${name}`, payload: spec });
      assert.equal(r.statusCode, 201, r.body);
    };
    await put("good", {
      params: { word: "ab" },
      steps: [
        { name: "data", emit: { value: "${params.word}" } },
        { name: "twice", double: { input: "data" } },
      ],
    });
    await put("bad", {
      steps: [
        { name: "data", emit: { value: "x", failTimes: 99 } },
        { name: "twice", double: { input: "data" } },
      ],
    });
  });
  after(async () => {
    await server.close();
    restore();
  });

  test("run --wait: exit 0 with the steps shown; a re-run shows them cached", async () => {
    const r = await cli("pipeline", "run", "good", "--param", "word=hi", "--wait", "--interval", "50ms");
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^run [0-9a-z]+ Succeeded in [0-9.]+ s\n$/);
    assert.match(r.stderr, /\+ data\s+Succeeded/);
    assert.match(r.stderr, /\+ twice\s+Succeeded/);
    const again = await cli("pipeline", "run", "good", "--param", "word=hi", "--wait", "--interval", "50ms");
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stderr, /\+ data\s+Cached\s+[0-9.]+ s\s+cached/);
    const id = /^run ([0-9a-z]+)/.exec(again.stdout)![1]!;

    const runs = await cli("pipeline", "runs", "good");
    assert.equal(runs.status, 0, runs.stderr);
    assert.match(runs.stdout, /^RUN\s+STATE\s+TRIGGER/);
    assert.equal(runs.stdout.trim().split("\n").length, 3);
    const show = await cli("pipeline", "show", id);
    assert.equal(show.status, 0, show.stderr);
    assert.match(show.stdout, /state:\s+Succeeded/);
    assert.match(show.stdout, /params:\s+word=hi/);
    assert.match(show.stdout, /out data: sha256:[0-9a-f]{16} dataset \(2 bytes\)/);
    const logs = await cli("pipeline", "logs", id, "data");
    assert.equal(logs.status, 0, logs.stderr);
    assert.match(logs.stdout, /#1 cached: the outputs of run/);
    const cancel = await cli("pipeline", "cancel", id);
    assert.equal(cancel.status, 4, "a finished run cannot be cancelled (conflict)");
    assert.match(cancel.stderr, /has already finished \(Succeeded\)/);
  });

  test("run --wait: exit 1 naming the failing step and its reason; nothing downstream ran", async () => {
    const r = await cli("pipeline", "run", "bad", "--wait", "--interval", "50ms");
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stdout, /Failed/);
    assert.match(r.stderr, /run [0-9a-z]+ failed: step data failed: emit failed on purpose \(call \d+\)/);
    assert.match(r.stderr, /ballast pipeline logs [0-9a-z]+ data/);
    assert.match(r.stderr, /- twice\s+Skipped/);
    const [run] = await server.ballast.pipelines.list("bad", 1);
    assert.deepEqual(
      run!.steps.map((s) => [s.step, s.state, s.attempt]),
      [
        ["data", "Failed", 1],
        ["twice", "Skipped", 0],
      ],
    );
  });

  test("bad input: an undeclared parameter (exit 2), an unknown pipeline (exit 3)", async () => {
    const param = await cli("pipeline", "run", "good", "--param", "wrod=x");
    assert.equal(param.status, 2);
    assert.match(param.stderr, /params\.wrod: not a parameter of this pipeline; it has word/);
    const missing = await cli("pipeline", "run", "nope");
    assert.equal(missing.status, 3);
    assert.match(missing.stderr, /Pipeline nope does not exist/);
  });

  test("get pipelines lists them like any resource; delete removes one, its runs stay readable", async () => {
    const get = await cli("get", "pipelines");
    assert.equal(get.status, 0, get.stderr);
    assert.match(get.stdout, /^Pipeline\s+bad\s+Synced/m);
    assert.match(get.stdout, /^Pipeline\s+good\s+Synced/m);
    const del = await cli("delete", "pipeline", "bad");
    assert.equal(del.status, 0, del.stderr);
    assert.doesNotMatch((await cli("get", "pipelines")).stdout, /bad/);
    const runs = await cli("pipeline", "runs", "bad");
    assert.equal(runs.status, 0, runs.stderr);
    assert.match(runs.stdout, /Failed/);
  });
});
