/**
 * Ids that sort by time, for requests and events.
 *
 * Request ids in ULID form (26 Crockford base-32 characters, the first 10 the time in ms):
 * sortable by time, so the prediction log's primary key grows at its end instead of taking
 * inserts at random places. The last 16 characters are a random per-process prefix and a
 * counter, so ids stay unique and increasing without drawing randomness on every request.
 */
import { randomBytes } from "node:crypto";

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

function base32(value: number, length: number): string {
  let out = "";
  for (let i = 0; i < length; i++) {
    out = ALPHABET[value % 32] + out;
    value = Math.floor(value / 32);
  }
  return out;
}

export function requestIdGenerator(now: () => number = Date.now): () => string {
  const prefix = Array.from(randomBytes(8), (b) => ALPHABET[b % 32]).join("");
  let lastTime = -1;
  let counter = 0;
  // The time and the prefix change at most once a millisecond: written once, not per id.
  let head = base32(lastTime, 10) + prefix;
  return () => {
    const time = now();
    if (time > lastTime) {
      lastTime = time;
      counter = 0;
      head = base32(lastTime, 10) + prefix;
    } else {
      counter++; // same millisecond (or a clock step back): the counter keeps ids increasing
    }
    // 8 characters of counter: 2^40 ids per millisecond before it would wrap.
    return head + base32(counter, 8);
  };
}
