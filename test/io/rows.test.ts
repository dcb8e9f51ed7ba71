import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { countRows, readRowBatches, rowFormatFor, type Row, type RowBatch } from "../../src/io/rows.js";
import { BallastError } from "../../src/domain/errors.js";
import { scratchDir } from "../helpers/scratch.js";

const scratch = scratchDir("ballast-rows-");
const file = scratch.file;

async function collect(path: string, batchSize = 100, format?: "csv" | "jsonl"): Promise<RowBatch[]> {
  const batches: RowBatch[] = [];
  for await (const batch of readRowBatches(path, { batchSize, ...(format ? { format } : {}) }))
    batches.push(batch);
  return batches;
}

async function rowsOf(path: string, format?: "csv" | "jsonl"): Promise<Row[]> {
  return (await collect(path, 100, format)).flatMap((b) => b.rows);
}

async function failure(path: string, format?: "csv" | "jsonl"): Promise<BallastError> {
  try {
    await rowsOf(path, format);
  } catch (error) {
    assert.ok(error instanceof BallastError, `expected a BallastError, got ${String(error)}`);
    return error;
  }
  assert.fail("expected the read to fail");
}

describe("rowFormatFor", () => {
  test("picks the format from the extension, case-insensitively", () => {
    assert.equal(rowFormatFor("a/week-1.csv"), "csv");
    assert.equal(rowFormatFor("a/rows.JSONL"), "jsonl");
    assert.equal(rowFormatFor("rows.ndjson"), "jsonl");
  });

  test("an explicit format wins over the extension", () => {
    assert.equal(rowFormatFor("rows.txt", "jsonl"), "jsonl");
    assert.equal(rowFormatFor("rows.jsonl", "csv"), "csv");
  });

  test("an unknown extension asks for --format", () => {
    assert.throws(() => rowFormatFor("rows.txt"), /rows\.txt.*--format csv/);
    assert.throws(() => rowFormatFor("rows.csv", "parquet"), /unknown format "parquet"/);
  });
});

describe("CSV rows", () => {
  test("numbers in numeric columns, strings elsewhere, empty cells as null", async () => {
    const path = await file(
      "typed.csv",
      "amount,category,hour,note\n12.5,fuel,3,\n-0.5,grocery,,x y\n1e3,online,23,7\n",
    );
    assert.deepEqual(await rowsOf(path), [
      { amount: 12.5, category: "fuel", hour: 3, note: null },
      { amount: -0.5, category: "grocery", hour: null, note: "x y" },
      { amount: 1000, category: "online", hour: 23, note: "7" },
    ]);
  });

  test("quoted cells keep commas, quotes and newlines", async () => {
    const path = await file("quoted.csv", 'a,b,c\n"x, y","say ""hi""",1\n"two\nlines",2,"3"\n');
    assert.deepEqual(await rowsOf(path), [
      // b's first cell is text, so the column is text and its later "2" stays a string.
      { a: "x, y", b: 'say "hi"', c: 1 },
      { a: "two\nlines", b: "2", c: 3 },
    ]);
  });

  test("batches hold batchSize rows and report the file line of their first row", async () => {
    const lines = ["x"];
    for (let i = 0; i < 7; i++) lines.push(String(i));
    const path = await file("batches.csv", `${lines.join("\n")}\n`);
    const batches = await collect(path, 3);
    assert.deepEqual(
      batches.map((b) => b.rows.map((r) => (r as Record<string, unknown>).x)),
      [[0, 1, 2], [3, 4, 5], [6]],
    );
    // The header is line 1, so row 0 is on line 2.
    assert.deepEqual(
      batches.map((b) => b.lineStart),
      [2, 5, 8],
    );
    assert.deepEqual(batches[1]?.lines, [5, 6, 7]);
  });

  test("blank lines are skipped but still counted in line numbers", async () => {
    const path = await file("blank.csv", "x\n1\n\n2\n");
    const [batch] = await collect(path);
    assert.deepEqual(batch?.rows, [{ x: 1 }, { x: 2 }]);
    assert.deepEqual(batch?.lines, [2, 4]);
  });

  test("a UTF-8 byte-order mark does not end up in the first column's name", async () => {
    const path = await file("bom.csv", "\uFEFFamount,hour\n1,2\n");
    assert.deepEqual(await rowsOf(path), [{ amount: 1, hour: 2 }]);
  });

  test("a row with the wrong number of cells names the file, line and counts", async () => {
    const path = await file("week-1.csv", "a,b,c\n1,2,3\n4,5,6\n7,8\n");
    const error = await failure(path);
    assert.equal(error.code, "invalid_argument");
    assert.equal(error.message, "week-1.csv line 4: expected 3 columns, got 2");
  });

  test("text in a numeric column is an error naming the line and column", async () => {
    const path = await file("mixed.csv", "amount\n1\n2\nabc\n");
    const error = await failure(path);
    assert.match(error.message, /^mixed\.csv line 4: column "amount" is numeric but holds "abc"$/);
  });

  test("an unterminated quote is an error naming the file", async () => {
    const path = await file("open-quote.csv", 'a,b\n1,"oops\n');
    const error = await failure(path);
    assert.equal(error.code, "invalid_argument");
    assert.match(error.message, /^open-quote\.csv line \d+: /);
  });

  test("a duplicated or empty header name is rejected", async () => {
    assert.match(
      (await failure(await file("dup.csv", "a,b,a\n1,2,3\n"))).message,
      /dup\.csv line 1: .*"a" twice/,
    );
    assert.match(
      (await failure(await file("nameless.csv", "a,,c\n1,2,3\n"))).message,
      /column 2 has no name/,
    );
  });

  test("a missing file is not_found", async () => {
    const error = await failure(join(scratch.dir, "nope.csv"));
    assert.equal(error.code, "not_found");
    assert.match(error.message, /nope\.csv: no such file/);
  });

  test("a directory is rejected", async () => {
    await mkdir(join(scratch.dir, "folder.csv"));
    const error = await failure(join(scratch.dir, "folder.csv"));
    assert.match(error.message, /is a directory/);
  });
});

describe("JSONL rows", () => {
  test("objects and arrays pass through as parsed; blank lines are skipped", async () => {
    const path = await file(
      "rows.jsonl",
      '{"amount": 12.5, "hour": 3}\n\n[1, 2, 3]\r\n{"nested": {"a": [true, null]}}',
    );
    const [batch] = await collect(path);
    assert.deepEqual(batch?.rows, [{ amount: 12.5, hour: 3 }, [1, 2, 3], { nested: { a: [true, null] } }]);
    assert.deepEqual(batch?.lines, [1, 3, 4]);
    assert.equal(batch?.lineStart, 1);
  });

  test("invalid JSON names the file and line", async () => {
    const path = await file("bad.jsonl", '{"a": 1}\n{"a": 2}\n{"a": \n');
    const error = await failure(path);
    assert.equal(error.code, "invalid_argument");
    assert.match(error.message, /^bad\.jsonl line 3: not valid JSON/);
  });

  test("a line that is not an object or array is rejected", async () => {
    assert.equal(
      (await failure(await file("num.jsonl", '{"a":1}\n42\n'))).message,
      "num.jsonl line 2: expected an object or an array, got number",
    );
    assert.equal(
      (await failure(await file("null.jsonl", "null\n"))).message,
      "null.jsonl line 1: expected an object or an array, got null",
    );
  });

  test("rows survive being split across read chunks, multi-byte characters included", async () => {
    // 64 KiB is the read chunk size; 20 000 rows of ~40 bytes spans a dozen chunks.
    const expected = Array.from({ length: 20000 }, (_, i) => ({ i, name: `café-${i}-€` }));
    const path = await file("big.jsonl", expected.map((r) => JSON.stringify(r)).join("\n"));
    const batches = await collect(path, 256);
    assert.deepEqual(
      batches.flatMap((b) => b.rows),
      expected,
    );
    assert.equal(batches.length, Math.ceil(20000 / 256));
    assert.equal(batches[1]?.lineStart, 257);
  });

  test("--format jsonl reads a file whatever its extension", async () => {
    const path = await file("rows.txt", '{"a": 1}\n');
    assert.deepEqual(await rowsOf(path, "jsonl"), [{ a: 1 }]);
  });
});

describe("countRows", () => {
  test("counts data rows: lines less the CSV header, with or without a final newline", async () => {
    assert.equal(await countRows(await file("c1.csv", "a,b\n1,2\n3,4\n")), 2);
    assert.equal(await countRows(await file("c2.csv", "a,b\n1,2\n3,4")), 2);
    assert.equal(await countRows(await file("c3.csv", "a,b\n")), 0);
    assert.equal(await countRows(await file("c4.csv", "")), 0);
    assert.equal(await countRows(await file("j1.jsonl", "{}\n{}\n{}")), 3);
  });

  test("agrees with the reader on a large file", async () => {
    const lines = ["x"];
    for (let i = 0; i < 50000; i++) lines.push(String(i));
    const path = await file("count.csv", `${lines.join("\n")}\n`);
    const read = (await collect(path, 1000)).reduce((n, b) => n + b.rows.length, 0);
    assert.equal(read, 50000);
    assert.equal(await countRows(path), 50000);
  });
});
