import assert from "node:assert/strict";
import { mkdir, mkdtemp, symlink, writeFile, copyFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import BetterSqlite3 from "better-sqlite3";
import pg from "pg";
import { sourceStep } from "../../../src/pipelines/steps/source.js";
import type { PipelineServer } from "../../../src/pipelines/step.js";
import type { TestServer } from "../../helpers/app.js";
import { contextFor, rowsOf } from "./context.js";
import { fraudServer, serverFor } from "./server.js";

const FIXTURE = new URL("../../fixtures/pipelines/transactions.parquet", import.meta.url).pathname;

/** Only what a files or SQL source uses of the server. */
function filesOnly(root: string): PipelineServer {
  const unused = () => {
    throw new Error("not used by this source");
  };
  return {
    log: { rows: unused, extent: unused },
    registry: { champion: unused, register: unused, attachReference: unused },
    handOff: { handOff: unused },
    events: { record: unused },
    fileRoots: [root],
  };
}

describe("source step: files", () => {
  let root = "";
  let outside = "";
  before(async () => {
    root = await mkdtemp(join(tmpdir(), "ballast-root-"));
    outside = await mkdtemp(join(tmpdir(), "ballast-outside-"));
    await mkdir(join(root, "data"));
    await writeFile(join(root, "data", "a.csv"), "amount,hour,is_fraud\n10,3,0\n20,4,1\n");
    await writeFile(join(root, "data", "b.csv"), "amount,hour,is_fraud\n30,5,0\n");
    await writeFile(join(root, "data", "c.jsonl"), '{"amount":40,"hour":6,"is_fraud":1}\n');
    await writeFile(join(root, "data", "empty.csv"), "amount,hour,is_fraud\n");
    await writeFile(join(outside, "secret.csv"), "password\nhunter2\n");
    await symlink(join(outside, "secret.csv"), join(root, "data", "link.csv"));
    await copyFile(FIXTURE, join(root, "data", "transactions.parquet"));
  });

  const run = async (files: Record<string, unknown>) => {
    const { ctx, lines } = await contextFor(sourceStep, { files }, { server: filesOnly(root) });
    return { result: await sourceStep.run(ctx), lines, ctx };
  };

  test("a glob reads every matching CSV in name order, as one dataset", async () => {
    const { result } = await run({ path: "data/[ab].csv" });
    const rows = await rowsOf(result.outputs.data?.file as string);
    assert.deepEqual(rows, [
      { amount: 10, hour: 3, is_fraud: 0 },
      { amount: 20, hour: 4, is_fraud: 1 },
      { amount: 30, hour: 5, is_fraud: 0 },
    ]);
    assert.equal(result.outputs.data?.meta?.rows, 3);
    assert.deepEqual(result.outputs.data?.meta?.columns, ["amount", "hour", "is_fraud"]);
  });

  test("JSONL by path", async () => {
    const { result } = await run({ path: "data/c.jsonl" });
    assert.deepEqual(await rowsOf(result.outputs.data?.file as string), [
      { amount: 40, hour: 6, is_fraud: 1 },
    ]);
  });

  test("Parquet (hyparquet) streams every row group; values as the fixture's generator made them", async () => {
    const { result } = await run({ path: "data/transactions.parquet" });
    const rows = await rowsOf(result.outputs.data?.file as string);
    assert.equal(rows.length, 25_000);
    for (const i of [0, 1, 9_999, 10_000, 24_999])
      assert.deepEqual(rows[i], {
        amount: i * 0.5,
        hour: i % 24,
        merchant: ["grocery", "travel", "online"][i % 3],
        is_fraud: i % 7 === 0 ? 1 : 0,
      });
  });

  test("paths that leave the root are refused: .., encoded .., absolute elsewhere, a symlink out", async () => {
    await assert.rejects(run({ path: "../etc/passwd" }), /'\.\.' segment/);
    await assert.rejects(run({ path: "data/%2e%2e/%2e%2e/etc/passwd" }), /'\.\.' segment/);
    await assert.rejects(run({ path: join(outside, "secret.csv") }), /outside the allowed roots/);
    await assert.rejects(run({ path: "data/link.csv" }), /leads outside the allowed root .* \(a symlink\)/);
  });

  test("missing and empty sources fail with the reason", async () => {
    await assert.rejects(run({ path: "data/nothing-*.csv" }), /no file matches data\/nothing-\*\.csv/);
    await assert.rejects(
      run({ path: "data/empty.csv" }),
      /source source: no rows \(files data\/empty\.csv\)/,
    );
  });

  test("volatility: names, sizes and mtimes of the matched files", async () => {
    const { ctx } = await contextFor(
      sourceStep,
      { files: { path: "data/[ab].csv" } },
      { server: filesOnly(root) },
    );
    const v = (await sourceStep.volatility?.(ctx)) as unknown[][];
    assert.deepEqual(
      v.map((f) => f.slice(0, 2)),
      [
        ["data/a.csv", 35],
        ["data/b.csv", 28],
      ],
    );
  });

  test("SQLite, read-only, streamed; a write is refused", async () => {
    const file = join(root, "data", "tx.sqlite");
    const db = new BetterSqlite3(file);
    db.exec("create table tx (amount real, hour integer, is_fraud integer)");
    const insert = db.prepare("insert into tx values (?, ?, ?)");
    for (let i = 0; i < 4500; i++) insert.run(i, i % 24, i % 5 === 0 ? 1 : 0);
    db.close();
    const { ctx } = await contextFor(
      sourceStep,
      {
        sql: {
          url: "sqlite:data/tx.sqlite",
          query: "select amount, hour, is_fraud from tx where hour < 12 order by amount",
        },
      },
      { server: filesOnly(root) },
    );
    const result = await sourceStep.run(ctx);
    const rows = await rowsOf(result.outputs.data?.file as string);
    assert.equal(rows.length, 2256); // 4500 rows, hours 0-11: 187 full days × 12 + 12
    assert.deepEqual(rows[1], { amount: 1, hour: 1, is_fraud: 0 });
    const write = await contextFor(
      sourceStep,
      { sql: { url: "sqlite:data/tx.sqlite", query: "delete from tx" } },
      { server: filesOnly(root) },
    );
    await assert.rejects(sourceStep.run(write.ctx), /(not a SELECT|readonly)/i);
  });

  test("spec errors name the field", () => {
    assert.throws(
      () => sourceStep.parse({ files: { path: "x" }, log: {} }, "steps[0].source"),
      /steps\[0\]\.source\.files: unknown field|steps\[0\]\.source: expected exactly one/,
    );
    assert.throws(
      () => sourceStep.parse({ sql: { query: "select 1" } }, "steps[0].source"),
      /steps\[0\]\.source\.sql: expected exactly one of url, urlFrom/,
    );
    assert.throws(
      () => sourceStep.parse({ sql: { url: "mysql://x", query: "select 1" } }, "steps[0].source"),
      /steps\[0\]\.source\.sql\.url/,
    );
    assert.throws(
      () => sourceStep.parse({ log: { deployment: "fraud", window: "soon" } }, "steps[0].source"),
      /steps\[0\]\.source\.log\.window/,
    );
  });
});

const POSTGRES = process.env.BALLAST_TEST_POSTGRES_URL;

describe(
  "source step: PostgreSQL",
  { skip: POSTGRES === undefined || POSTGRES === "" ? "BALLAST_TEST_POSTGRES_URL is unset" : false },
  () => {
    const table = `pipeline_source_${process.pid}`;
    before(async () => {
      const client = new pg.Client({ connectionString: POSTGRES });
      await client.connect();
      await client.query(
        `create table ${table} (id bigint, amount double precision, merchant text, at timestamptz)`,
      );
      await client.query(
        `insert into ${table} select i, i * 1.5, case when i % 2 = 0 then 'travel' else 'grocery' end, timestamptz '2026-11-01T00:00:00Z' + i * interval '1 minute' from generate_series(1, 4321) i`,
      );
      await client.end();
    });
    after(async () => {
      const client = new pg.Client({ connectionString: POSTGRES });
      await client.connect();
      await client.query(`drop table if exists ${table}`);
      await client.end();
    });

    test("a query streams through a cursor in a read-only transaction; bigints and times become numbers", async () => {
      const { ctx } = await contextFor(
        sourceStep,
        {
          sql: {
            url: POSTGRES,
            query: `select id, amount, merchant, at from ${table} where merchant = 'travel' order by id`,
            timeColumn: "at",
          },
        },
        { server: filesOnly(tmpdir()) },
      );
      const result = await sourceStep.run(ctx);
      const rows = await rowsOf(result.outputs.data?.file as string);
      assert.equal(rows.length, 2160);
      assert.deepEqual(rows[0], {
        id: 2,
        amount: 3,
        merchant: "travel",
        at: Date.parse("2026-11-01T00:02:00Z"),
      });
      assert.deepEqual(result.outputs.data?.meta?.timeRange, {
        column: "at",
        min: Date.parse("2026-11-01T00:02:00Z"),
        max: Date.parse("2026-11-01T00:00:00Z") + 4320 * 60_000,
      });
    });

    test("a query that writes is refused by the read-only transaction; maxRows bounds the result", async () => {
      for (const query of [
        `delete from ${table} returning id`,
        `with d as (delete from ${table} returning id) select * from d`,
      ]) {
        const write = await contextFor(
          sourceStep,
          { sql: { url: POSTGRES, query } },
          { server: filesOnly(tmpdir()) },
        );
        await assert.rejects(sourceStep.run(write.ctx), /source\.source\.sql\.query: /);
      }
      const client = new pg.Client({ connectionString: POSTGRES });
      await client.connect();
      assert.equal(Number((await client.query(`select count(*) as n from ${table}`)).rows[0].n), 4321);
      await client.end();
      const big = await contextFor(
        sourceStep,
        { sql: { url: POSTGRES, query: `select id from ${table}`, maxRows: 3000 } },
        { server: filesOnly(tmpdir()) },
      );
      await assert.rejects(sourceStep.run(big.ctx), /more than maxRows \(3000\)/);
    });
  },
);

describe("source step: the production log", () => {
  let t: TestServer;
  const T = Date.parse("2026-11-25T12:00:00Z");
  before(async () => {
    t = await fraudServer();
    const rows = [];
    for (let i = 0; i < 300; i++) {
      rows.push({
        requestId: `r${String(i).padStart(4, "0")}`,
        deployment: "fraud",
        model: "fraud",
        modelVersion: 1,
        variant: "stable",
        inputs: {
          instances: [
            { amount: i, hour: i % 24, night: i % 2, merchant_category: i % 3 === 0 ? "travel" : "grocery" },
          ],
        },
        outputs: [{ name: "probability", datatype: "FP32", shape: [1], data: [0.1] }],
        latencyMs: 1,
        // One row a minute, the newest a minute before now; a day-old one outside the window.
        createdAt: i === 0 ? T - 86_400_000 * 8 : T - (300 - i) * 60_000,
      });
    }
    await t.ballast.predictions.write(rows);
    // Labels for every other request.
    await t.ballast.predictions.upsertFeedback(
      rows
        .filter((_, i) => i % 2 === 0)
        .map((r, k) => ({
          requestId: r.requestId,
          row: 0,
          kind: "label",
          label: k % 5 === 0 ? 1 : 0,
          createdAt: T,
        })),
      T,
    );
  });
  after(async () => t.close());

  test("labelled rows of the window, features by name, label and time columns; a segment filter", async () => {
    const server = serverFor(t);
    const { ctx } = await contextFor(
      sourceStep,
      { log: { deployment: "fraud", window: "7d", label: "required" } },
      { server, clock: t.clock },
    );
    const result = await sourceStep.run(ctx);
    const rows = await rowsOf(result.outputs.data?.file as string);
    // Requests 2, 4, …, 298 are labelled and inside the window (request 0 is 8 days old).
    assert.equal(rows.length, 149);
    assert.deepEqual(rows[0], {
      amount: 2,
      hour: 2,
      night: 0,
      merchant_category: "grocery",
      label: 0,
      ts: T - 298 * 60_000,
    });
    const segment = await contextFor(
      sourceStep,
      {
        log: {
          deployment: "fraud",
          window: "7d",
          label: "required",
          segment: { merchant_category: "travel" },
        },
      },
      { server, clock: t.clock },
    );
    const travel = await rowsOf((await sourceStep.run(segment.ctx)).outputs.data?.file as string);
    assert.equal(travel.length, 49); // labelled (even) multiples of 3 in the window: 6, 12, …, 294
    assert.ok(travel.every((r) => r.merchant_category === "travel"));
    const any = await contextFor(
      sourceStep,
      { log: { deployment: "fraud", window: "7d", label: "any" } },
      { server, clock: t.clock },
    );
    assert.equal((await rowsOf((await sourceStep.run(any.ctx)).outputs.data?.file as string)).length, 299);
  });

  test("volatility: the same log gives the same value as time passes; a new label changes it", async () => {
    const server = serverFor(t);
    const at = async () =>
      (
        await contextFor(
          sourceStep,
          { log: { deployment: "fraud", window: "7d" } },
          { server, clock: t.clock },
        )
      ).ctx;
    const first = await sourceStep.volatility?.(await at());
    t.clock.advance(1000);
    assert.deepEqual(await sourceStep.volatility?.(await at()), first);
    await t.ballast.predictions.upsertFeedback(
      [{ requestId: "r0001", row: 0, kind: "label", label: 1, createdAt: t.clock.now() }],
      t.clock.now(),
    );
    assert.notDeepEqual(await sourceStep.volatility?.(await at()), first);
  });

  test("an empty window fails with the reason", async () => {
    const { ctx } = await contextFor(
      sourceStep,
      { log: { deployment: "fraud", window: "7d" } },
      { server: serverFor(t), clock: { now: () => T - 30 * 86_400_000 } },
    );
    await assert.rejects(
      sourceStep.run(ctx),
      /no rows \(deployment fraud over the last 604800s, labelled rows only\)/,
    );
  });
});

describe("source step: the log read in pages", () => {
  test("rows sharing one millisecond across page boundaries are each read once, oldest first", async () => {
    const t = await fraudServer();
    try {
      const T = t.clock.now();
      const at = (i: number) => (i < 1500 ? T - 3_600_000 + i : i < 6000 ? T - 1_800_000 : T - 60_000 + i);
      const rows = Array.from({ length: 6500 }, (_, i) => ({
        requestId: `q${String(i).padStart(5, "0")}`,
        deployment: "fraud",
        model: "fraud",
        modelVersion: 1,
        variant: "stable",
        inputs: { instances: [{ amount: i, hour: 1, night: 0 }] },
        outputs: [],
        latencyMs: 1,
        createdAt: at(i),
      }));
      for (let i = 0; i < rows.length; i += 1000) await t.ballast.predictions.write(rows.slice(i, i + 1000));
      const { ctx } = await contextFor(
        sourceStep,
        { log: { deployment: "fraud", window: "1d", label: "any" } },
        { server: serverFor(t), clock: t.clock },
      );
      const read = await rowsOf((await sourceStep.run(ctx)).outputs.data?.file as string);
      assert.equal(read.length, 6500);
      assert.equal(new Set(read.map((r) => r.amount)).size, 6500);
      assert.ok(read.every((r, i) => i === 0 || (read[i - 1]?.ts as number) <= (r.ts as number)));
    } finally {
      await t.close();
    }
  });
});
