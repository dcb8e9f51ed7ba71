import assert from "node:assert/strict";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { DatasetWriter, readDataset } from "../../src/pipelines/datasets.js";

describe("datasets (JSON Lines, streamed)", () => {
  test("the writer counts rows, columns in first-seen order and the time range; the reader gives batches", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ballast-ds-"));
    const path = join(dir, "d.jsonl");
    const writer = new DatasetWriter(path, { timeColumn: "ts" });
    for (let b = 0; b < 5; b++)
      await writer.write(
        Array.from({ length: 1000 }, (_, i) => ({
          x: b * 1000 + i,
          ...(i === 7 ? { extra: true } : {}),
          ts: 5000 - (b * 1000 + i),
        })),
      );
    const meta = await writer.close();
    assert.deepEqual(meta, {
      rows: 5000,
      columns: ["x", "ts", "extra"],
      timeRange: { column: "ts", min: 1, max: 5000 },
    });
    const sizes: number[] = [];
    let next = 0;
    for await (const batch of readDataset(path, { batchSize: 1500 })) {
      sizes.push(batch.length);
      for (const row of batch) assert.equal(row.x, next++);
    }
    assert.deepEqual(sizes, [1500, 1500, 1500, 500]);
  });

  test("a line that is not a JSON object is an error naming the line", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ballast-ds-"));
    const path = join(dir, "bad.jsonl");
    await writeFile(path, '{"a":1}\n[1,2]\n');
    await assert.rejects(async () => {
      for await (const _ of readDataset(path)) void _;
    }, /bad\.jsonl:2: a dataset row must be a JSON object/);
  });
});
