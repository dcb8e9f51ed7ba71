// `ballast fit garch|ewma|har-rv|last-value --save model.json` as a user runs it: the files are
// accepted by `serve --model` and `ballast models register`, and served through OIP v2 with the
// forecasts garch.ts gives for the same fit. Real processes.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ballastAsync, startServer } from "../helpers/cli.js";
import { DATA_DIR, series } from "../markets/data.js";
import { forecastVariance, parseGarchModel } from "../../src/markets/garch.js";

const run = async (...args: string[]) => ballastAsync(args);
const DEM = join(DATA_DIR, "dem2gbp.csv");

interface InferBody {
  outputs: Array<{ name: string; shape: number[]; data: number[] }>;
}

async function infer(
  url: string,
  name: string,
  rows: number[][],
): Promise<{ status: number; body: InferBody }> {
  const res = await fetch(`${url}/v2/models/${name}/infer`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      inputs: [
        { name: "returns", datatype: "FP64", shape: [rows.length, rows[0]?.length ?? 0], data: rows.flat() },
      ],
    }),
  });
  // The body is the server's JSON; its shape is what the assertions below check.
  return { status: res.status, body: (await res.json()) as InferBody };
}

describe("ballast fit --save writes servable builtin models", () => {
  let dir: string;
  let server: { child: ChildProcess; url: string } | undefined;
  const dem = series("dem2gbp.csv", "ret");
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "ballast-fit-save-"));
  });
  after(async () => {
    if (server !== undefined) {
      server.child.kill("SIGTERM");
      await once(server.child, "exit");
    }
    await rm(dir, { recursive: true, force: true });
  });

  test("fit, save, serve and register: GARCH's served forecast is garch.ts's for the saved fit", async () => {
    const garchPath = join(dir, "garch.json");
    const ewmaPath = join(dir, "ewma.json");
    const harPath = join(dir, "har.json");
    const lastPath = join(dir, "last.json");
    const fits = await Promise.all([
      run("fit", "garch", "-f", DEM, "--column", "ret", "--save", garchPath, "--horizon", "3", "-o", "json"),
      run("fit", "ewma", "-f", DEM, "--column", "ret", "--save", ewmaPath, "--window", "100", "-o", "json"),
      run("fit", "har-rv", "-f", DEM, "--column", "ret", "--save", harPath, "-o", "json"),
      run("fit", "last-value", "-f", DEM, "--column", "ret", "--save", lastPath, "--window", "5"),
    ]);
    for (const r of fits) assert.equal(r.status, 0, r.stderr);
    const saved = JSON.parse(await readFile(garchPath, "utf8"));
    assert.equal(saved.kind, "garch");
    assert.equal(saved.window, 250);
    assert.equal(saved.horizon, 3);
    assert.equal(JSON.parse(fits[0]?.stdout ?? "").n, 1974);
    const har = JSON.parse(fits[2]?.stdout ?? "");
    assert.ok(Math.abs(har.intercept - 0.07801882421284502) < 1e-9, "HAR-RV intercept as R's lm()");

    const started = await startServer([
      "--data-dir",
      join(dir, "data"),
      "--model",
      `garch=${garchPath}`,
      "--model",
      `ewma=${ewmaPath}`,
      "--model",
      `last=${lastPath}`,
    ]);
    server = started;
    const reg = await run("models", "register", "har", harPath, "--server", started.url);
    assert.equal(reg.status, 0, reg.stderr);
    const dep = await run("deploy", "har", "--server", started.url);
    assert.equal(dep.status, 0, dep.stderr);

    const expected = forecastVariance(parseGarchModel(saved.garch), 3);
    const g = await infer(started.url, "garch", [dem.slice(-250)]);
    assert.equal(g.status, 200, JSON.stringify(g.body));
    assert.deepEqual(g.body.outputs[0]?.shape, [1, 3]);
    for (let k = 0; k < 3; k++) {
      assert.ok(
        Math.abs((g.body.outputs[0]?.data[k] as number) - (expected[k] as number)) < 1e-12,
        `step ${k + 1}`,
      );
    }
    const e = await infer(started.url, "ewma", [dem.slice(-100)]);
    assert.equal(e.status, 200, JSON.stringify(e.body));
    const last = await infer(started.url, "last", [[1, 2, 3, 4, 5]]);
    assert.deepEqual(last.body.outputs[0]?.data, [11]);
    const h = await infer(started.url, "har", [dem.slice(-22)]);
    assert.equal(h.status, 200, JSON.stringify(h.body));
    assert.ok((h.body.outputs[0]?.data[0] as number) > 0);
  });

  test("a bad --window is refused by name", async () => {
    const r = await run(
      "fit",
      "har-rv",
      "-f",
      DEM,
      "--column",
      "ret",
      "--save",
      join(dir, "x.json"),
      "--window",
      "10",
    );
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /window must be an integer from 22/);
  });
});
