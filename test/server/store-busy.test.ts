// A store lock held past the busy timeout is a moment's contention, not a server fault: the API
// answers 503 in the protocol's error shape with Retry-After, and the same request then succeeds.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import BetterSqlite3 from "better-sqlite3";
import { sql } from "kysely";
import { startTestServer, type TestServer } from "../helpers/app.js";
import { isStoreBusy } from "../../src/store/busy.js";
import { exitCodeFor } from "../../src/cli/errors.js";

let s: TestServer;
before(async () => {
  s = await startTestServer({ deploy: false });
  // No waiting for the lock, so the held lock below fails the request at once.
  await sql`pragma busy_timeout = 0`.execute(s.ballast.store.db);
});
after(async () => s.close());

const post = () =>
  s.app.inject({
    method: "POST",
    url: "/api/v1/instruments/dax/bars",
    payload: { bars: [{ time: 1, close: 100 }] },
  });

test("bars POSTed while another connection holds the write lock: 503 with Retry-After, then accepted", async () => {
  const other = new BetterSqlite3(s.ballast.store.sqliteFile as string);
  other.exec("BEGIN IMMEDIATE");
  let busy;
  try {
    busy = await post();
  } finally {
    other.exec("ROLLBACK");
    other.close();
  }
  assert.equal(busy.statusCode, 503, busy.body);
  assert.equal(busy.headers["retry-after"], "1");
  const body = busy.json();
  assert.equal(body.code, "unavailable");
  assert.match(body.error, /store is busy.*try again/);
  assert.deepEqual(body.details, { retryAfterSeconds: 1 });

  const retried = await post();
  assert.equal(retried.statusCode, 200, retried.body);
  assert.equal(retried.json().accepted, 1);
});

test("busy: SQLite's lock codes and PostgreSQL's lock, deadlock and serialization failures; nothing else", () => {
  const coded = (code: string) => Object.assign(new Error("x"), { code });
  for (const code of ["SQLITE_BUSY", "SQLITE_BUSY_SNAPSHOT", "SQLITE_LOCKED", "55P03", "40001", "40P01"])
    assert.equal(isStoreBusy(coded(code)), true, code);
  for (const code of ["SQLITE_CONSTRAINT_UNIQUE", "SQLITE_FULL", "23505", "ECONNREFUSED"])
    assert.equal(isStoreBusy(coded(code)), false, code);
  assert.equal(isStoreBusy(new Error("database is locked")), false);
  // A CLI command on the store exits as for any unavailable server, not as for a bug.
  assert.equal(exitCodeFor(coded("SQLITE_BUSY")), 5);
});
