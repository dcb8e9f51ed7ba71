/**
 * The CLI's client sends a rate-limited call again when the server's Retry-After says, so
 * `ballast feedback` on a large file finishes under `--feedback-rate` instead of failing.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { retryAfterMs, ServerClient } from "../../src/cli/client.js";

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test("a 429 is retried after Retry-After and the call's answer returned", async () => {
  const bodies: string[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      bodies.push(body);
      if (bodies.length <= 2) {
        res.writeHead(429, { "retry-after": "0", "content-type": "application/json" });
        res.end(JSON.stringify({ error: "over --feedback-rate" }));
        return;
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ accepted: 1 }));
    });
  });
  try {
    const client = new ServerClient(await listen(server), undefined);
    const answer = await client.request<{ accepted: number }>("POST", "/v1/feedback", {
      feedback: [{ request_id: "a" }],
    });
    assert.deepEqual(answer, { accepted: 1 });
    assert.equal(bodies.length, 3, "two refusals, then the same call again");
    assert.ok(
      bodies.every((b) => b === bodies[0]),
      "the retried call is the same call",
    );
  } finally {
    server.close();
  }
});

test("a server that keeps refusing is reported as rate-limited, not retried forever", async () => {
  let calls = 0;
  const server = createServer((_req, res) => {
    calls++;
    res.writeHead(429, { "retry-after": "0", "content-type": "application/json" });
    res.end(JSON.stringify({ error: "over --feedback-rate" }));
  });
  try {
    const client = new ServerClient(await listen(server), undefined);
    await assert.rejects(client.request("POST", "/v1/feedback", {}), (e: Error & { code?: string }) => {
      assert.equal(e.code, "rate_limited");
      assert.match(e.message, /feedback-rate/);
      return true;
    });
    assert.equal(calls, 31, "the first call and 30 retries");
  } finally {
    server.close();
  }
});

test("Retry-After: seconds, bounded; unreadable means one second", () => {
  assert.equal(retryAfterMs("2"), 2000);
  assert.equal(retryAfterMs("0"), 0);
  assert.equal(retryAfterMs(null), 1000);
  assert.equal(retryAfterMs("Wed, 21 Oct 2015 07:28:00 GMT"), 1000);
  assert.equal(retryAfterMs("86400"), 30_000);
});
