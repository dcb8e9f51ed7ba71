/**
 * The CLI's client sends a call again when the server asks it to, after its Retry-After: a 429
 * (so `ballast feedback` on a large file finishes under `--feedback-rate` instead of failing) and
 * a 503 with Retry-After (shed, circuit open, store busy). A 503 without it is reported at once.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type OutgoingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { retryAfterMs, ServerClient } from "../../src/cli/client.js";

/**
 * A real local server that answers the first `refusals` calls with `status`, `headers` and
 * `{"error"}`, then 200; `bodies` are the calls' bodies as received.
 */
async function refusing(status: number, headers: OutgoingHttpHeaders, refusals: number) {
  const bodies: string[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      bodies.push(body);
      if (bodies.length <= refusals) {
        res.writeHead(status, { ...headers, "content-type": "application/json" });
        res.end(JSON.stringify({ error: `refused with ${status}` }));
        return;
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ accepted: 1 }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    client: new ServerClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, undefined),
    bodies,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

const ASKED_AGAIN: Array<[number, string]> = [
  [429, "rate_limited"], // over --feedback-rate
  [503, "unavailable"], // shed, circuit open, store busy
];

for (const [status] of ASKED_AGAIN) {
  test(`a ${status} with Retry-After is sent again after it, and the call's answer returned`, async () => {
    const server = await refusing(status, { "retry-after": "0" }, 2);
    try {
      const answer = await server.client.request<{ accepted: number }>("POST", "/v1/feedback", {
        feedback: [{ request_id: "a" }],
      });
      assert.deepEqual(answer, { accepted: 1 });
      assert.equal(server.bodies.length, 3, "two refusals, then the same call again");
      assert.ok(
        server.bodies.every((b) => b === server.bodies[0]),
        "the retried call is the same call",
      );
    } finally {
      await server.close();
    }
  });
}

for (const [status, code] of ASKED_AGAIN) {
  test(`a server that keeps answering ${status} with Retry-After is reported (${code}), not retried forever`, async () => {
    const server = await refusing(status, { "retry-after": "0" }, Infinity);
    try {
      await assert.rejects(
        server.client.request("POST", "/v1/feedback", {}),
        (e: Error & { code?: string }) => {
          assert.equal(e.code, code);
          assert.equal(e.message, `refused with ${status}`);
          return true;
        },
      );
      assert.equal(server.bodies.length, 31, "the first call and 30 retries");
    } finally {
      await server.close();
    }
  });
}

test("a 503 without Retry-After (a router whose specialists are all down) is reported at once, not sent again", async () => {
  const server = await refusing(503, {}, 1);
  try {
    await assert.rejects(
      server.client.request("POST", "/v2/models/vol/infer", {}),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, "unavailable");
        assert.equal(e.message, "refused with 503");
        return true;
      },
    );
    assert.equal(server.bodies.length, 1, "one call only, though the next would have succeeded");
  } finally {
    await server.close();
  }
});

test("other refusals are not sent again, Retry-After or not", async () => {
  for (const status of [500, 502, 504]) {
    const server = await refusing(status, { "retry-after": "0" }, 1);
    try {
      await assert.rejects(server.client.request("POST", "/v1/feedback", {}), /refused with/);
      assert.equal(server.bodies.length, 1, String(status));
    } finally {
      await server.close();
    }
  }
});

test("Retry-After: seconds, bounded; unreadable means one second", () => {
  assert.equal(retryAfterMs("2"), 2000);
  assert.equal(retryAfterMs("0"), 0);
  assert.equal(retryAfterMs(null), 1000);
  assert.equal(retryAfterMs("Wed, 21 Oct 2015 07:28:00 GMT"), 1000);
  assert.equal(retryAfterMs("86400"), 30_000);
});
