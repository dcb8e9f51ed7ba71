/**
 * The recsys loop closed against a running server: after the holiday the click-through KPI
 * drops, the `kpi` trigger retrains on labelled impressions, the candidate beats the champion
 * on the holdout and in the canary (click-through gate), and is promoted.
 *
 *   npx tsx examples/recsys/retrain-loop.ts       # starts its own server on a temp dir
 *   npx tsx examples/recsys/retrain-loop.ts --server http://127.0.0.1:8080
 *
 * A simulated day is sent within one minute (the monitor's bucket); about 3 minutes in all.
 * --screenshots DIR saves the dashboard's pages at the end (examples/dashboard-shots.ts).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { openBallast } from "../../src/ballast.js";
import { ServerClient } from "../../src/cli/client.js";
import { buildApp } from "../../src/server/app.js";
import { createRandom } from "../../src/sim/random.js";
import { createWorld, recsysModel, shownIndex } from "../../src/sim/recsys.js";
import { storyScreenshots } from "../dashboard-shots.js";
import { applyFile, followRollout, followRun, nextRun, runIds, sleep } from "../loop-follow.js";

const { values } = parseArgs({
  options: {
    server: { type: "string" },
    impressions: { type: "string", default: "2000" },
    seed: { type: "string", default: "7" },
    screenshots: { type: "string" },
  },
});
const N = Number(values.impressions);
const seed = Number(values.seed);
const say = (line: string) => process.stdout.write(`${line}\n`);

async function startLocal(): Promise<{ url: string; stop: () => Promise<void> }> {
  const dataDir = await mkdtemp(join(tmpdir(), "ballast-recsys-loop-"));
  const ballast = await openBallast({ dataDir, defaultMetrics: false });
  const app = await buildApp(ballast);
  const url = await app.listen({ port: 0, host: "127.0.0.1" });
  return {
    url,
    stop: async () => {
      await app.close();
      await ballast.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

const local = values.server === undefined ? await startLocal() : undefined;
const client = new ServerClient(values.server ?? local?.url);
const world = createWorld(seed, 2000, 500, { holidayFatigue: 0.6 });
const rng = createRandom(seed + 1);
let sent = 0;

/**
 * Impressions: the top-scored of five candidates is shown; clicked or not is its label, sent at
 * once (the monitor and the canary count clicks as they arrive).
 */
async function impressions(n: number, holiday: boolean): Promise<number> {
  let clicks = 0;
  for (let i = 0; i < n; i++) {
    const { user, candidates } = world.impression(rng, holiday);
    const id = `rec-${process.pid}-${++sent}`;
    const res = await client.request<{ predictions: Array<Record<string, number>> }>(
      "POST",
      "/v1/models/recsys:predict",
      { instances: candidates.map((c) => c.features) },
      { "x-request-id": id, "x-user-id": user.id },
    );
    const shown = shownIndex(res.predictions.map((p) => p.probability ?? 0));
    const clicked = rng.bernoulli(world.clickProbability(user, candidates[shown]!.item, holiday));
    clicks += clicked;
    const feedback: Array<Record<string, unknown>> = [{ request_id: id, row: shown, label: clicked }];
    if (clicked === 1) feedback.push({ request_id: id, row: shown, event: "click" });
    await client.request("POST", "/v1/feedback", { feedback });
  }
  return clicks / n;
}

async function nextMinute(): Promise<void> {
  const wait = 60_000 - (Date.now() % 60_000) + 500;
  say(`   (waiting ${Math.round(wait / 1000)} s for the monitor's next 1-minute bucket)`);
  await sleep(wait);
}

try {
  const bytes = new TextEncoder().encode(JSON.stringify(recsysModel("stable")));
  const { artifact } = await client.request<{ artifact: string }>("POST", "/api/v1/artifacts", bytes);
  await client.request("POST", "/api/v1/models/recsys/versions", {
    artifact,
    flavor: "builtin",
    description: "taste-only ranker",
    allowDuplicate: true,
  });
  say("registered recsys v1 (ranks by usual taste and popularity); applying examples/recsys/retrain.yaml");
  await applyFile(client, "examples/recsys/retrain.yaml");
  await nextMinute();
  say(`before the holiday: click-through per impression ${(await impressions(N, false)).toFixed(3)}`);
  const seen = await runIds(client, "recsys-retrain");
  await nextMinute();
  say(`after the holiday: click-through per impression ${(await impressions(N, true)).toFixed(3)}`);
  const run = await nextRun(client, "recsys-retrain", seen, 60_000);
  if (run === null) throw new Error("no run was triggered within a minute of the drop");
  say(`trigger ${run.trigger.kind}: ${run.trigger.reason}`);
  const done = await followRun(client, "recsys-retrain", run.id);
  if (done.state === "Succeeded") {
    say(`registered ${JSON.stringify(done.registered)}; the canary is judged on click-through`);
    await followRollout(client, "recsys", async () => {
      await impressions(150, true);
      await sleep(500);
    });
  }
  if (values.screenshots !== undefined)
    await storyScreenshots(
      values.server ?? local?.url ?? "",
      values.screenshots,
      "recsys",
      process.env.BALLAST_TOKEN,
    );
} finally {
  await local?.stop();
}
