/**
 * The recommender story: right after a holiday sale, a new recommender version goes out as a
 * canary gated on click-through. Run it both ways:
 *
 *   npx tsx examples/recsys/demo.ts good    # v2 knows gifts sell after the holiday: promoted
 *   npx tsx examples/recsys/demo.ts bad     # v2 ranks against taste: rolled back on its own
 *
 * It starts a Ballast server on a temporary data dir (or uses --server URL), registers v1 and
 * v2, applies examples/recsys/deploy/recsys.yaml (v1), then the same file with version 2,
 * which starts the canary. Simulated users send requests (sticky by x-user-id), see the top-
 * scored item and click it with the probability the world gives them; the clicks go back as
 * feedback. The rollout status is printed as it moves, until it is promoted or rolled back.
 *
 * Options: --server URL, --rps N (requests per second, default 400), --seed S.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ServerClient } from "../../src/cli/client.js";
import { openBallast } from "../../src/ballast.js";
import { buildApp } from "../../src/server/app.js";
import { readManifests } from "../../src/resources/manifest.js";
import { createRandom } from "../../src/sim/random.js";
import { createWorld, recsysModel, shownIndex } from "../../src/sim/recsys.js";
import type { RolloutView } from "../../src/rollout/rollouts.js";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    server: { type: "string" },
    rps: { type: "string", default: "400" },
    seed: { type: "string", default: "7" },
  },
});
const candidate = positionals[0] ?? "good";
if (candidate !== "good" && candidate !== "bad") {
  console.error("usage: npx tsx examples/recsys/demo.ts good|bad [--server URL] [--rps N]");
  process.exit(2);
}
const rps = Number(values.rps);
const seed = Number(values.seed);

async function startLocal(): Promise<{ url: string; stop: () => Promise<void> }> {
  const dataDir = await mkdtemp(join(tmpdir(), "ballast-recsys-"));
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

async function register(client: ServerClient, kind: "stable" | "holiday" | "broken"): Promise<number> {
  const bytes = new TextEncoder().encode(JSON.stringify(recsysModel(kind)));
  const { artifact } = await client.request<{ artifact: string }>("POST", "/api/v1/artifacts", bytes);
  const v = await client.request<{ version: { version: number } }>("POST", "/api/v1/models/recsys/versions", {
    artifact,
    flavor: "builtin",
    description: `${kind} ranker`,
    allowDuplicate: true,
  });
  return v.version.version;
}

async function apply(client: ServerClient, version: number): Promise<void> {
  const file = "examples/recsys/deploy/recsys.yaml";
  const text = (await readFile(file, "utf8")).replace(/version: \d+/, `version: ${version}`);
  const resources = readManifests(text, file).map((m) => ({ manifest: m.manifest, origin: m.origin }));
  const result = await client.request<{ changes: Array<{ kind: string; name: string; action: string }> }>(
    "POST",
    "/api/v1/apply",
    { resources, source: { via: "cli", file } },
  );
  for (const c of result.changes) console.log(`  ${c.kind.toLowerCase()}/${c.name} ${c.action}`);
}

/** Users keep arriving until `stop` is set; returns what each version earned. */
function simulate(
  client: ServerClient,
  stop: { done: boolean },
): Promise<Map<string, { shown: number; clicks: number }>> {
  const world = createWorld(seed);
  const rng = createRandom(seed + 1);
  const earned = new Map<string, { shown: number; clicks: number }>();
  const one = async (): Promise<void> => {
    const { user, candidates } = world.impression(rng, true); // the holiday has just happened
    const res = await client.request<{
      predictions: Array<Record<string, number> | number>;
      model_version: string;
      request_id: string;
    }>(
      "POST",
      "/v1/models/recsys:predict",
      { instances: candidates.map((c) => c.features) },
      { "x-user-id": user.id },
    );
    const scores = res.predictions.map((p) => (typeof p === "number" ? p : (p.probability ?? p.score ?? 0)));
    const shown = shownIndex(scores);
    const item = candidates[shown]?.item;
    const tally = earned.get(res.model_version) ?? { shown: 0, clicks: 0 };
    tally.shown++;
    earned.set(res.model_version, tally);
    if (item !== undefined && rng.bernoulli(world.clickProbability(user, item, true)) === 1) {
      tally.clicks++;
      await client.request("POST", "/v1/feedback", {
        request_id: res.request_id,
        row: shown,
        event: "click",
      });
    }
  };
  return (async () => {
    const perTick = Math.max(1, Math.round(rps / 20));
    while (!stop.done) {
      const started = Date.now();
      await Promise.all(Array.from({ length: perTick }, one));
      await new Promise((r) => setTimeout(r, Math.max(0, 50 - (Date.now() - started))));
    }
    return earned;
  })();
}

function line(view: RolloutView): string {
  const r = view.rollout;
  if (r === null) return "no rollout";
  const bar = "█".repeat(Math.round(r.weight / 5)).padEnd(20, "░");
  const gates = view.gates.map((g) => `${g.gate}: ${g.decision}`).join(", ");
  return `${r.phase.padEnd(11)} canary ${bar} ${String(r.weight).padStart(3)}%  step ${Math.min(r.step + 1, view.steps)}/${view.steps}  ${gates}`;
}

const local = values.server === undefined ? await startLocal() : undefined;
const client = new ServerClient(values.server ?? local?.url);
try {
  console.log(
    `recsys: rolling out the ${candidate === "good" ? "holiday-aware" : "broken"} ranker as a canary`,
  );
  const v1 = await register(client, "stable");
  const v2 = await register(client, candidate === "good" ? "holiday" : "broken");
  console.log(`registered recsys v${v1} (stable) and v${v2} (candidate)`);
  await apply(client, v1);
  const stop = { done: false };
  const traffic = simulate(client, stop);
  console.log(`applied the deployment with version ${v2}: the canary starts`);
  await apply(client, v2);
  let view = await client.request<RolloutView>("GET", "/api/v1/deployments/recsys/rollout");
  const started = Date.now();
  while (view.rollout !== null && (view.rollout.phase === "Progressing" || view.rollout.phase === "Paused")) {
    console.log(`${String(Math.round((Date.now() - started) / 1000)).padStart(4)} s  ${line(view)}`);
    if (Date.now() - started > 10 * 60_000) throw new Error("the rollout did not finish in 10 minutes");
    await new Promise((r) => setTimeout(r, 2000));
    view = await client.request<RolloutView>("GET", "/api/v1/deployments/recsys/rollout");
  }
  stop.done = true;
  const earned = await traffic;
  console.log(`${String(Math.round((Date.now() - started) / 1000)).padStart(4)} s  ${line(view)}`);
  console.log(
    `\n${view.rollout?.phase === "Succeeded" ? "PROMOTED" : "ROLLED BACK"}: ${view.rollout?.message ?? ""}`,
  );
  for (const g of view.gates) console.log(`  ${g.gate}: ${g.decision} — ${g.detail}`);
  for (const [version, t] of [...earned].sort()) {
    console.log(
      `  v${version}: ${t.shown} impressions, click-through ${((100 * t.clicks) / Math.max(1, t.shown)).toFixed(2)}%`,
    );
  }
  const { events } = await client.request<{ events: Array<{ at: number; reason: string; message: string }> }>(
    "GET",
    "/api/v1/events?kind=Deployment&name=recsys&limit=50",
  );
  console.log("\nevents:");
  for (const e of events)
    console.log(`  ${new Date(e.at).toISOString()}  ${e.reason.padEnd(18)} ${e.message}`);
} finally {
  await local?.stop();
}
