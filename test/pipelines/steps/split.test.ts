import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { DatasetWriter } from "../../../src/pipelines/datasets.js";
import { splitStep } from "../../../src/pipelines/steps/split.js";
import { asInput, contextFor, rowsOf, seeded, type Input } from "./context.js";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";

const T0 = Date.parse("2026-11-01T00:00:00Z");

async function dataset(rows: Record<string, number | string>[]): Promise<Input> {
  const dir = await mkdtemp(join(tmpdir(), "ballast-split-"));
  const writer = new DatasetWriter(join(dir, "data.jsonl"), { timeColumn: "ts" });
  await writer.write(rows);
  const meta = await writer.close();
  return asInput({
    file: join(dir, "data.jsonl"),
    kind: "dataset",
    meta: { rows: meta.rows, columns: meta.columns },
  });
}

describe("split step", () => {
  test("random: seeded by row index, the same split every time, near the asked share", async () => {
    const random = seeded(1);
    const data = await dataset(Array.from({ length: 5000 }, (_, i) => ({ i, x: random() })));
    const first = await contextFor(splitStep, { input: "data", holdout: 0.2, seed: 7 }, { inputs: { data } });
    const a = await splitStep.run(first.ctx);
    const again = await contextFor(splitStep, { input: "data", holdout: 0.2, seed: 7 }, { inputs: { data } });
    const b = await splitStep.run(again.ctx);
    const held = (await rowsOf(a.outputs.holdout?.file as string)).map((r) => r.i);
    assert.deepEqual(
      (await rowsOf(b.outputs.holdout?.file as string)).map((r) => r.i),
      held,
    );
    // Binomial(5000, 0.2): sd 28; 4 sd either side.
    assert.ok(Math.abs(held.length - 1000) < 115, `${held.length} held out`);
    assert.equal(a.outputs.train?.meta?.rows, 5000 - held.length);
    const other = await contextFor(splitStep, { input: "data", holdout: 0.2, seed: 8 }, { inputs: { data } });
    const c = await splitStep.run(other.ctx);
    assert.notDeepEqual(
      (await rowsOf(c.outputs.holdout?.file as string)).map((r) => r.i),
      held,
    );
  });

  test("time: never trains on the future — every train row is before every holdout row, whatever the file order", async () => {
    const random = seeded(2);
    // Shuffled times: the split must not rely on the file being sorted.
    const rows = Array.from({ length: 2000 }, (_, i) => ({
      i,
      ts: T0 + Math.floor(random() * 30 * 86_400_000),
    }));
    const data = await dataset(rows);
    const { ctx } = await contextFor(
      splitStep,
      { input: "data", holdout: 0.25, by: "time", timeColumn: "ts" },
      { inputs: { data } },
    );
    const result = await splitStep.run(ctx);
    const train = await rowsOf(result.outputs.train?.file as string);
    const holdout = await rowsOf(result.outputs.holdout?.file as string);
    const latestTrain = Math.max(...train.map((r) => r.ts as number));
    const earliestHoldout = Math.min(...holdout.map((r) => r.ts as number));
    assert.ok(
      latestTrain < earliestHoldout,
      `train reaches ${latestTrain}, holdout starts ${earliestHoldout}`,
    );
    assert.equal(train.length + holdout.length, 2000);
    assert.ok(Math.abs(holdout.length - 500) < 60, `${holdout.length} held out`);
    assert.equal(typeof result.summary?.cut, "string");
  });

  test("time with an explicit ISO cut; ISO times in the column", async () => {
    const rows = Array.from({ length: 10 }, (_, i) => ({
      i,
      ts: new Date(T0 + i * 86_400_000).toISOString(),
    }));
    const data = await dataset(rows);
    const cut = new Date(T0 + 7 * 86_400_000).toISOString();
    const { ctx } = await contextFor(
      splitStep,
      { input: "data", by: "time", timeColumn: "ts", cut },
      { inputs: { data } },
    );
    const result = await splitStep.run(ctx);
    assert.deepEqual(
      (await rowsOf(result.outputs.holdout?.file as string)).map((r) => r.i),
      [7, 8, 9],
    );
  });

  test("bad specs and data name what is wrong", async () => {
    assert.throws(
      () => splitStep.parse({ input: "data", by: "time" }, "steps[1].split"),
      /steps\[1\]\.split\.timeColumn/,
    );
    assert.throws(
      () => splitStep.parse({ input: "data", holdout: 1.5 }, "steps[1].split"),
      /steps\[1\]\.split\.holdout/,
    );
    const data = await dataset([{ i: 1, ts: T0 }, { i: 2 } as Record<string, number>]);
    const { ctx } = await contextFor(
      splitStep,
      { input: "data", by: "time", timeColumn: "ts" },
      { inputs: { data } },
    );
    await assert.rejects(splitStep.run(ctx), /row 2 has no time in 'ts'/);
    const empty = join(ctx.workDir, "empty.jsonl");
    await writeFile(empty, "");
    const none = await contextFor(
      splitStep,
      { input: "data" },
      { inputs: { data: await asInput({ file: empty, kind: "dataset" }) } },
    );
    await assert.rejects(splitStep.run(none.ctx), /no rows left to train on/);
  });
});
