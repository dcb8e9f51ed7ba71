/**
 * `npm run bench:hardening`: health-check latency while maximal legal request bodies arrive,
 * against the same server idle. The server is `ballast serve` in a child process (its own event
 * loop and core); this process sends the bodies and polls GET /v2/health/live.
 *
 * Scenarios, each BENCH_SECONDS long (default 10), with BENCH_SENDERS (2) concurrent senders
 * and bodies just under BENCH_BODY_LIMIT (default: the server's default --body-limit):
 * - idle: health alone;
 * - parse: bodies just under the default --body-limit of small nested arrays (the costliest
 *   shape per byte for a JSON parser) to an unknown deployment: parsed whole, then a 404;
 * - infer: bodies just under the limit as a valid [N, 3] FP32 tensor: parsed, checked, run and
 *   logged by the real request path.
 * For reference it prints how long one JSON.parse of each body takes here, which is how long
 * a one-piece parse would hold every other request.
 */
import type { ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { DEFAULT_BODY_LIMIT } from "../src/server/limits.js";
import { FRAUD_MODEL } from "../test/helpers/app.js";
import { startServer } from "../test/helpers/cli.js";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const SENDERS = Number(process.env.BENCH_SENDERS ?? 2);
/** The server's --body-limit; the bodies are just under it. */
const BODY_LIMIT = Number(process.env.BENCH_BODY_LIMIT ?? DEFAULT_BODY_LIMIT);

/** A JSON body as close to `limit` bytes as the shape allows. */
function bodyOf(
  limit: number,
  row: (i: number) => string,
  wrap: (items: string, n: number) => string,
): string {
  const parts: string[] = [];
  let size = wrap("", 0).length;
  for (let i = 0; ; i++) {
    const next = row(i);
    if (size + next.length + 1 >= limit) break;
    parts.push(next);
    size += next.length + 1;
  }
  return wrap(parts.join(","), parts.length);
}

async function startBallast(dir: string): Promise<{ child: ChildProcess; url: string }> {
  const modelPath = join(dir, "fraud.json");
  await writeFile(modelPath, JSON.stringify(FRAUD_MODEL));
  return startServer(["--data-dir", join(dir, "data"), "--model", `fraud=${modelPath}`]);
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

async function run(url: string, name: string, body?: { path: string; text: string }): Promise<void> {
  const until = performance.now() + SECONDS * 1000;
  const latencies: number[] = [];
  const statuses = new Map<number, number>();
  let sent = 0;
  const senders =
    body === undefined
      ? []
      : Array.from({ length: SENDERS }, async () => {
          while (performance.now() < until) {
            const res = await fetch(`${url}${body.path}`, {
              method: "POST",
              headers: { "content-type": "application/json" },
              body: body.text,
            });
            await res.arrayBuffer();
            statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
            sent++;
          }
        });
  const poller = (async () => {
    while (performance.now() < until) {
      const t0 = performance.now();
      const res = await fetch(`${url}/v2/health/live`);
      await res.arrayBuffer();
      latencies.push(performance.now() - t0);
      await sleep(5);
    }
  })();
  await Promise.all([poller, ...senders]);
  latencies.sort((a, b) => a - b);
  const shown = [...statuses].map(([s, n]) => `${n}×${s}`).join(" ");
  console.log(
    `${name.padEnd(8)} health p50 ${quantile(latencies, 0.5).toFixed(1)} ms  p99 ${quantile(latencies, 0.99).toFixed(1)} ms  ` +
      `max ${(latencies.at(-1) ?? NaN).toFixed(1)} ms  (${latencies.length} checks${body === undefined ? "" : `; ${sent} bodies: ${shown}`})`,
  );
}

function parseTime(text: string): number {
  const t0 = performance.now();
  JSON.parse(text);
  return performance.now() - t0;
}

const dir = await mkdtemp(join(tmpdir(), "ballast-bench-hardening-"));
const server = await startBallast(dir);
try {
  const limit = BODY_LIMIT - 1024;
  const nested = bodyOf(
    limit,
    (i) => `[[${i % 10}],[${(i * 7) % 10}]]`,
    (items) => `{"inputs":[{"name":"input","datatype":"FP64","shape":[1],"data":[${items}]}]}`,
  );
  const tensor = bodyOf(
    limit,
    (i) => `[${(i % 1000) / 10},${i % 24},${i % 2}]`,
    (items, n) => `{"inputs":[{"name":"input","datatype":"FP32","shape":[${n},3],"data":[${items}]}]}`,
  );
  console.log(
    `bodies: ${(nested.length / 2 ** 20).toFixed(2)} MiB nested arrays, ${(tensor.length / 2 ** 20).toFixed(2)} MiB [N,3] tensor ` +
      `(--body-limit ${BODY_LIMIT}); one-piece JSON.parse here: ${parseTime(nested).toFixed(0)} ms and ${parseTime(tensor).toFixed(0)} ms`,
  );
  await run(server.url, "idle");
  await run(server.url, "parse", { path: "/v2/models/none/infer", text: nested });
  await run(server.url, "infer", { path: "/v2/models/fraud/infer", text: tensor });
} finally {
  server.child.kill("SIGTERM");
  await new Promise((resolve) => server.child.once("exit", resolve));
  await rm(dir, { recursive: true, force: true });
}
