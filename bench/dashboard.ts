/**
 * `npm run bench:dashboard` (issue 12's benchmark): the overview page's server time with 100
 * deployments, 20 monitors and 100,000 events in the store; the page's weight (HTML plus the
 * CSS and JS it loads, uncompressed); and inference throughput with and without a client
 * polling the overview once a second while an SSE stream is open, as a ratio in the same run.
 *
 * Server and load run in one process here (unlike bench:serve's child processes), so the
 * throughput ratio compares like with like but both runs share autocannon's cost.
 *
 * Environment: BENCH_DASHBOARD_EVENTS (100000), BENCH_DASHBOARD_SECONDS (10 per load run).
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { get, type IncomingMessage } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { openBallast } from "../src/ballast.js";
import { buildApp } from "../src/server/app.js";
import { parseAnyMonitorSpec } from "../src/monitoring/monitor-spec.js";
import { runLoad } from "./load.js";
import { figuresOf, fixed, FRAUD_BENCH_MODEL, passFail, percentile, positiveInt, table } from "./report.js";

const DEPLOYMENTS = 100;
const MONITORS = 20;
const EVENTS = positiveInt("BENCH_DASHBOARD_EVENTS", 100_000);
const SECONDS = positiveInt("BENCH_DASHBOARD_SECONDS", 10);
const RENDERS = 30;
const TARGET = { overviewMs: 300, pageKb: 300, minThroughputRatio: 0.9 };
const HTML = { accept: "text/html,application/xhtml+xml" };
const INFER_BODY = JSON.stringify({
  inputs: [{ name: "input", datatype: "FP32", shape: [1, 3], data: [120, 3, 1] }],
});

async function main(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), "ballast-bench-dashboard-"));
  const ballast = await openBallast({ dataDir, defaultMetrics: false, rolloutTicker: false });
  const app = await buildApp(ballast);
  try {
    const path = join(dataDir, "fraud.json");
    await writeFile(path, JSON.stringify(FRAUD_BENCH_MODEL));
    const { version } = await ballast.registry.registerVersion({ model: "fraud", artifactPath: path });
    for (let i = 0; i < DEPLOYMENTS; i++)
      await ballast.deployments.put({
        name: `d${i}`,
        variants: [{ name: "stable", model: "fraud", ref: { version: version.version }, weight: 100 }],
      });
    await ballast.endpoints.sync();
    for (let i = 0; i < MONITORS; i++)
      await ballast.monitorChanges.put(
        parseAnyMonitorSpec(
          {
            deployment: `d${i}`,
            features: ["amount", "hour"],
            test: "psi",
            window: { kind: "tumbling", by: "count", size: 200 },
            minSamples: 100,
          },
          `m${i}`,
        ),
      );
    const seeding = performance.now();
    for (let i = 0; i < EVENTS; i += 500)
      await Promise.all(
        Array.from({ length: Math.min(500, EVENTS - i) }, (_, j) =>
          ballast.events.record({
            kind: "Deployment",
            name: `d${(i + j) % DEPLOYMENTS}`,
            reason: "Bench",
            message: `event ${i + j}`,
          }),
        ),
      );
    console.log(`seeded ${EVENTS} events in ${fixed((performance.now() - seeding) / 1000, 1)} s`);

    // Server time of the overview: inject goes through every hook and the renderer, no socket.
    const times: number[] = [];
    let body = "";
    for (let i = 0; i < RENDERS; i++) {
      const t = performance.now();
      const r = await app.inject({ url: "/", headers: HTML });
      times.push(performance.now() - t);
      if (r.statusCode !== 200) throw new Error(`overview answered ${r.statusCode}`);
      body = r.body;
    }
    const sorted = Float64Array.from(times).sort();
    const p50 = percentile(sorted, 0.5);
    const p95 = percentile(sorted, 0.95);

    // Page weight: the HTML and every script and stylesheet it loads, as served.
    const assets = [...body.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1] as string);
    let weight = Buffer.byteLength(body);
    for (const url of assets) weight += (await app.inject({ url })).rawPayload.length;

    // Throughput alone, then with a client polling the overview every second and an SSE stream open.
    const address = await app.listen({ port: 0, host: "127.0.0.1" });
    const load = { url: `${address}/v2/models/d0/infer`, body: INFER_BODY, connections: 8, seconds: SECONDS };
    await runLoad({ ...load, seconds: 2 }); // warm-up
    const check = await app.inject({
      method: "POST",
      url: "/v2/models/d0/infer",
      payload: INFER_BODY,
      headers: { "content-type": "application/json" },
    });
    if (check.statusCode !== 200) throw new Error(`inference answered ${check.statusCode}: ${check.body}`);
    const alone = figuresOf([await runLoad(load)]);
    let polls = 0;
    const poller = setInterval(() => {
      void app.inject({ url: "/", headers: HTML }).then(() => polls++);
    }, 1000);
    const stream = await new Promise<IncomingMessage>((resolve, reject) =>
      get(`${address}/events/stream`, { headers: { accept: "text/event-stream" } }, resolve).on(
        "error",
        reject,
      ),
    );
    stream.resume();
    const watched = figuresOf([await runLoad(load)]);
    clearInterval(poller);
    stream.destroy();
    const ratio = watched.requestsPerSecond / alone.requestsPerSecond;

    console.log(
      `${DEPLOYMENTS} deployments, ${MONITORS} monitors, ${EVENTS} events; overview rendered ${RENDERS} times; ` +
        `load: ${load.connections} connections, ${SECONDS} s per run; ${polls} overview polls during the watched run`,
    );
    console.log(
      table([
        ["target", "measured", "limit", "result"],
        [
          "overview server time (p95)",
          `${fixed(p95, 1)} ms (p50 ${fixed(p50, 1)})`,
          `≤ ${TARGET.overviewMs} ms`,
          passFail(p95 <= TARGET.overviewMs),
        ],
        [
          `page weight (HTML + ${assets.length} assets)`,
          `${fixed(weight / 1024, 1)} KB`,
          `≤ ${TARGET.pageKb} KB`,
          passFail(weight / 1024 <= TARGET.pageKb),
        ],
        [
          "inference with dashboard / alone",
          `${fixed(ratio, 3)} (${fixed(watched.requestsPerSecond, 0)} / ${fixed(alone.requestsPerSecond, 0)} req/s)`,
          `≥ ${TARGET.minThroughputRatio}`,
          passFail(ratio >= TARGET.minThroughputRatio),
        ],
      ]),
    );
  } finally {
    await app.close();
    await ballast.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

await main();
