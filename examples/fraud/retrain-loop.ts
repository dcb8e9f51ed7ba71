/**
 * The fraud loop closed against a running server: the concept drifts, the AUC monitor's alert
 * retrains on labelled production data, the candidate is validated against the champion,
 * registered with lineage and canaried, and the deployment ends on it. Then two candidates that
 * must not win: one retrained in a stable week (stopped at validation) and one with a mistake
 * the holdout cannot see (passes validation, rolled back by the canary's accuracy gate).
 *
 *   npm start                                     # in one terminal: serves fraud v1
 *   npx tsx examples/fraud/retrain-loop.ts        # in another (about 4 minutes)
 *
 * Time is compressed: a simulated week is sent within one minute (the monitor's bucket), so the
 * script waits for the minute to turn between the stable weeks and week 5.
 * Options: --server URL (default $BALLAST_SERVER or http://127.0.0.1:8080), --rows N per week
 * (default 4000), --seed S, --screenshots DIR (the dashboard's pages at the end, through chromium:
 * examples/dashboard-shots.ts).
 */
import { parseArgs } from "node:util";
import { DEFAULT_SERVER, ServerClient } from "../../src/cli/client.js";
import { FRAUD_FEATURES, generateFraudWeek, type FraudTransaction } from "../../src/sim/fraud.js";
import { storyScreenshots } from "../dashboard-shots.js";
import { applyFile, followRollout, followRun, nextRun, runIds, sleep } from "../loop-follow.js";

const { values } = parseArgs({
  options: {
    server: { type: "string", default: DEFAULT_SERVER },
    rows: { type: "string", default: "4000" },
    seed: { type: "string", default: "42" },
    screenshots: { type: "string" },
  },
});
const ROWS = Number(values.rows);
const SEED = Number(values.seed);
const client = new ServerClient(values.server);
const say = (line: string) => process.stdout.write(`${line}\n`);
let sent = 0;

function request(t: FraudTransaction): Record<string, unknown> {
  const row: Record<string, unknown> = { merchant_category: t.merchant_category };
  for (const f of FRAUD_FEATURES) row[f] = t[f];
  return row;
}

/** Transactions through the API, then their fraud labels as feedback. */
async function send(txns: FraudTransaction[]): Promise<void> {
  for (let i = 0; i < txns.length; i += 100) {
    const batch = txns.slice(i, i + 100);
    const id = `loop-${process.pid}-${++sent}`;
    await client.request(
      "POST",
      "/v1/models/fraud:predict",
      { instances: batch.map(request) },
      { "x-request-id": id },
    );
    await client.request("POST", "/v1/feedback", {
      feedback: batch.map((t, row) => ({ request_id: id, row, label: t.is_fraud })),
    });
  }
}

async function week(n: number): Promise<void> {
  await send(generateFraudWeek({ seed: SEED, week: n, rows: ROWS }));
  say(`week ${n}: ${ROWS} transactions scored and labelled`);
}

async function nextMinute(): Promise<void> {
  const wait = 60_000 - (Date.now() % 60_000) + 500;
  say(`   (waiting ${Math.round(wait / 1000)} s for the monitor's next 1-minute bucket)`);
  await sleep(wait);
}

let canaryRound = 0;
const canaryTraffic = async () => {
  canaryRound++;
  await send(generateFraudWeek({ seed: SEED + 1000 + canaryRound, week: 6, rows: 300 }));
  await sleep(1000);
};

say(`applying examples/fraud/retrain.yaml and misfit.yaml to ${values.server}`);
await applyFile(client, "examples/fraud/retrain.yaml");
await applyFile(client, "examples/fraud/misfit.yaml");
await nextMinute();

say("\n1. Stable weeks: the champion holds; a retrain now must not replace it");
await week(1);
await week(2);
const seen = await runIds(client, "fraud-retrain");
const manual = await client.request<{ run: { id: string } }>("POST", "/api/v1/pipelines/fraud-retrain/runs", {
  reason: "retrain in a stable week (example)",
});
say(`manual run ${manual.run.id}: retrain on the last minute of labelled traffic (weeks 1-2)`);
await followRun(client, "fraud-retrain", manual.run.id);
seen.add(manual.run.id);
await week(3);
await week(4);

say("\n2. Week 5: fraud moves to card testing at fuel pumps (concept drift)");
await nextMinute();
await week(5);
const triggered = await nextRun(client, "fraud-retrain", seen, 60_000);
if (triggered === null) throw new Error("no run was triggered within a minute of week 5");
say(`trigger ${triggered.trigger.kind}: ${triggered.trigger.reason}`);
const run = await followRun(client, "fraud-retrain", triggered.id);
if (run.state === "Succeeded") {
  say(`registered ${JSON.stringify(run.registered)}; the canary starts, judged on week-6 traffic`);
  const phase = await followRollout(client, "fraud", canaryTraffic);
  const d = await client.request<{ variants: Array<{ model: string; version?: number; ref?: unknown }> }>(
    "GET",
    "/api/v1/deployments/fraud",
  );
  say(`deployment fraud after the canary (${phase}): ${JSON.stringify(d.variants)}`);
}

say("\n3. A candidate that passes validation but not its canary (positive: 0, a label mistake)");
const misfit = await client.request<{ run: { id: string } }>(
  "POST",
  "/api/v1/pipelines/fraud-retrain-misfit/runs",
  { reason: "the misfit example" },
);
const mrun = await followRun(client, "fraud-retrain-misfit", misfit.run.id);
if (mrun.state === "Succeeded") await followRollout(client, "fraud", canaryTraffic);

if (values.screenshots !== undefined)
  await storyScreenshots(values.server, values.screenshots, "fraud", process.env.BALLAST_TOKEN);
