/**
 * The fraud story, end to end: replays six weeks of shifting card transactions through a running
 * Ballast server and shows drift being caught in the week it appears.
 *
 *   npm start                                   # in one terminal: serves the fraud model
 *   npx tsx examples/fraud/replay.ts            # in another
 *
 * What it does: starts a small webhook receiver that prints every alert it gets; profiles week 1
 * (the training data) and attaches the profile to the served version as its reference; declares
 * a monitor on the `fraud` deployment whose window is one week of traffic; then sends weeks 2–6
 * through the named-feature API and, after each week, prints which features drifted. Finally it
 * writes an HTML drift report of the last week against week 1.
 *
 * Options: --server URL (default $BALLAST_SERVER or http://127.0.0.1:8080), --rows N per week
 * (default 5000), --seed S, --report PATH (default examples/fraud/report.html), --screenshots DIR
 * (the dashboard's monitor page at the end, through chromium: examples/dashboard-shots.ts).
 */
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { once } from "node:events";
import { writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { ServerClient, DEFAULT_SERVER } from "../../src/cli/client.js";
import { FRAUD_FEATURES, generateFraudWeek, type FraudTransaction } from "../../src/sim/fraud.js";
import { ProfileBuilder } from "../../src/monitoring/profile/profile-builder.js";
import { WindowSketch } from "../../src/monitoring/sketches/feature-window.js";
import { evaluateDrift } from "../../src/monitoring/drift.js";
import { renderDriftReport } from "../../src/monitoring/report/html.js";
import { storyScreenshots } from "../dashboard-shots.js";

const { values } = parseArgs({
  options: {
    server: { type: "string", default: DEFAULT_SERVER },
    rows: { type: "string", default: "5000" },
    seed: { type: "string", default: "42" },
    report: { type: "string", default: "examples/fraud/report.html" },
    screenshots: { type: "string" },
  },
});
const rowsPerWeek = Number(values.rows);
const seed = Number(values.seed);
const client = new ServerClient(values.server);

/** The columns a client sends: the model's features plus the merchant category, kept for drift. */
function request(t: FraudTransaction): Record<string, unknown> {
  const row: Record<string, unknown> = { merchant_category: t.merchant_category };
  for (const f of FRAUD_FEATURES) row[f] = (t as unknown as Record<string, unknown>)[f];
  return row;
}

async function receiveAlerts(): Promise<{ url: string; close: () => void }> {
  const server = createServer((req: IncomingMessage, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk));
    req.on("end", () => {
      const alert = JSON.parse(body) as {
        status: string;
        labels: Record<string, string>;
        annotations: Record<string, string>;
      };
      const icon = alert.status === "firing" ? "🔴" : "🟢";
      process.stdout.write(
        `   ${icon} webhook got ${alert.status.toUpperCase()}: ${alert.annotations.summary ?? alert.labels.alertname}\n`,
      );
      res.end("ok");
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/alerts`,
    close: () => server.close(),
  };
}

async function main(): Promise<void> {
  const model = await client.request<{ versions: string[] }>("GET", "/v2/models/fraud");
  const version = model.versions[0];
  const receiver = await receiveAlerts();

  const week1 = generateFraudWeek({ seed, week: 1, rows: rowsPerWeek }).map(request);
  const builder = new ProfileBuilder();
  builder.add(week1);
  const reference = builder.finish();
  await client.request("PUT", `/api/v1/models/fraud/versions/${version}/reference`, reference);
  process.stdout.write(
    `reference: week 1 (${rowsPerWeek} transactions) attached to fraud version ${version}\n`,
  );

  await client.request("PUT", "/api/v1/monitors/fraud-weekly", {
    deployment: "fraud",
    window: { kind: "tumbling", by: "count", size: rowsPerWeek },
    minSamples: 500,
    severity: "warning",
    notifiers: [{ kind: "webhook", name: "example", url: receiver.url }],
  });
  process.stdout.write("monitor: fraud-weekly, one window per week of traffic, alerts to the webhook\n\n");

  let last: Record<string, unknown>[] = [];
  for (let week = 2; week <= 6; week++) {
    const rows = generateFraudWeek({ seed, week, rows: rowsPerWeek }).map(request);
    for (let i = 0; i < rows.length; i += 250) {
      await client.request("POST", "/v1/models/fraud:predict", { instances: rows.slice(i, i + 250) });
    }
    // Let the dispatcher deliver before reading the verdict.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const status = await client.request<{
      variants: Array<{
        latest: {
          drift: {
            features: Array<{ feature: string; drifted: boolean; test: string; score: number }>;
          } | null;
        } | null;
      }>;
    }>("GET", "/api/v1/monitors/fraud-weekly");
    const drift = status.variants[0]?.latest?.drift;
    const moved =
      drift?.features
        .filter((f) => f.drifted)
        .map((f) => `${f.feature} (${f.test} ${f.score.toPrecision(3)})`) ?? [];
    process.stdout.write(
      `week ${week}: ${moved.length === 0 ? "no drift" : `drifted: ${moved.join(", ")}`}\n`,
    );
    last = rows;
  }

  const window = new WindowSketch(reference, { role: "input" });
  for (const row of last) window.updateRow(row);
  const report = renderDriftReport(evaluateDrift(reference, window), {
    title: "Fraud: week 6 against week 1",
    reference: "week 1",
    current: "week 6",
    generatedAt: Date.now(),
  });
  await writeFile(values.report, report);
  process.stdout.write(`\nreport: ${values.report}\n`);
  receiver.close();
  if (values.screenshots !== undefined)
    await storyScreenshots(values.server, values.screenshots, "fraud-drift", process.env.BALLAST_TOKEN, [
      { name: "monitor", path: "/monitors/fraud-weekly" },
    ]);
}

main().catch((error: unknown) => {
  process.stderr.write(`replay: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
