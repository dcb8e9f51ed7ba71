import { test } from "node:test";
import assert from "node:assert/strict";
import { requestIdGenerator } from "../../src/domain/ids.js";

test("request ids are ULID-shaped, unique and increasing, also within one millisecond and across a clock step back", () => {
  const times = [1000, 1000, 1000, 1001, 999, 5000];
  let i = 0;
  const next = requestIdGenerator(() => times[i++] as number);
  const ids = times.map(() => next());
  for (const id of ids) assert.match(id, /^[0-9A-HJKMNP-TV-Z]{26}$/);
  assert.deepEqual([...ids].sort(), ids);
  assert.equal(new Set(ids).size, ids.length);
  // The first 10 characters are the time, as in a ULID: 1000 ms = "000000000Z8".
  assert.equal(ids[0]?.slice(0, 10), "00000000Z8");
  assert.equal(ids[5]?.slice(0, 10), "00000004W8");
});
