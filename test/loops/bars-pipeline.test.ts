/**
 * Bars from a pipeline: a source step reads a CSV of DAX closes, the bars step appends them to an
 * instrument through the bars API's path. The instrument's indicators are those of the bars
 * POSTed directly; a second run changes nothing (idempotent by time); a bad row fails the step,
 * naming the rows and the field, and stores nothing of its batch.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { TestServer } from "../helpers/app.js";
import { apply } from "../helpers/router-fixtures.js";
import { series } from "../markets/data.js";
import { driveRun, loopServer } from "./harness.js";

const closes = series("eustockmarkets.csv", "DAX").slice(0, 300);
const day = (i: number) => new Date(Date.UTC(1991, 6, 1) + i * 86_400_000).toISOString().slice(0, 10);

function pipeline(name: string, path: string, instrument: string) {
  return {
    apiVersion: "ballast/v1",
    kind: "Pipeline",
    metadata: { name },
    spec: {
      steps: [
        { name: "data", source: { files: { path, format: "csv" } } },
        {
          name: "load",
          bars: {
            instrument,
            input: "data",
            columns: { time: "date", close: "dax" },
            config: { windows: [5, 20] },
          },
        },
      ],
    },
  };
}

async function run(s: TestServer, name: string) {
  const started = await s.ballast.pipelines.start(name, {
    params: {},
    trigger: { kind: "manual", reason: "test" },
  });
  assert.ok(started.started, JSON.stringify(started));
  return driveRun(s, started.runId);
}

describe("the bars step appends a dataset to an instrument", () => {
  let s: TestServer;
  before(async () => {
    s = await loopServer();
    await writeFile(
      join(s.dataDir, "dax.csv"),
      ["date,dax", ...closes.map((c, i) => `${day(i)},${c}`)].join("\n") + "\n",
    );
  });
  after(async () => s.close());

  test("the instrument holds the bars with the indicators a direct POST gives; a second run adds nothing", async () => {
    const applied = await apply(s, pipeline("load-dax", "dax.csv", "dax"));
    assert.equal(applied.statusCode, 200, applied.body);
    const first = await run(s, "load-dax");
    assert.equal(first.state, "Succeeded", first.reason);
    const load = first.steps.find((x) => x.step === "load");
    assert.deepEqual(
      [load?.summary?.rows, load?.summary?.accepted, load?.summary?.duplicates],
      [closes.length, closes.length, 0],
    );

    // The same bars POSTed to another instrument: the same indicators, bar for bar.
    const direct = await s.app.inject({
      method: "POST",
      url: "/api/v1/instruments/dax-direct/bars",
      payload: { bars: closes.map((c, i) => ({ time: day(i), close: c })), config: { windows: [5, 20] } },
    });
    assert.equal(direct.statusCode, 200, direct.body);
    const indicators = async (id: string) =>
      (await s.app.inject({ url: `/api/v1/instruments/${id}/indicators?limit=1000` })).json().indicators;
    assert.deepEqual(await indicators("dax"), await indicators("dax-direct"));

    const second = await run(s, "load-dax");
    assert.equal(second.state, "Succeeded", second.reason);
    const again = second.steps.find((x) => x.step === "load");
    assert.deepEqual([again?.summary?.accepted, again?.summary?.duplicates], [0, closes.length]);
  });

  test("a bad row fails the step naming the rows and the field; nothing of its batch is stored", async () => {
    await writeFile(join(s.dataDir, "bad.csv"), `date,dax\n${day(0)},100\n${day(1)},-5\n`);
    const applied = await apply(s, pipeline("load-bad", "bad.csv", "dax-bad"));
    assert.equal(applied.statusCode, 200, applied.body);
    const failed = await run(s, "load-bad");
    assert.equal(failed.state, "Failed");
    assert.match(failed.reason ?? "", /load/);
    const step = failed.steps.find((x) => x.step === "load");
    assert.match(String(step?.error ?? failed.reason), /rows 1-2 refused for dax-bad: .*bars\[1\]\.close/);
    const stored = await s.app.inject({ url: "/api/v1/instruments/dax-bad/bars" });
    assert.ok(stored.statusCode === 404 || stored.json().bars.length === 0, stored.body);
  });
});
