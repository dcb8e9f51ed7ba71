/**
 * What the two retraining-loop examples share: following a pipeline run step by step and a
 * canary rollout phase by phase over the HTTP API, printing each change as it happens.
 */
import { readFile } from "node:fs/promises";
import type { ServerClient } from "../src/cli/client.js";
import { readManifests } from "../src/resources/manifest.js";

export interface RunView {
  id: string;
  state: string;
  reason?: string;
  trigger: { kind: string; reason: string };
  registered?: { model: string; version: number } | null;
  steps: Array<{
    name: string;
    state: string;
    cached: boolean;
    error?: string;
    summary?: Record<string, unknown>;
  }>;
}

interface RolloutView {
  rollout: {
    phase: string;
    weight: number;
    step: number;
    message: string;
    canary: { version: number };
  } | null;
  gates: Array<{ gate: string; decision: string; detail: string }>;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const say = (line: string) => process.stdout.write(`${line}\n`);

export async function applyFile(client: ServerClient, file: string): Promise<void> {
  const text = await readFile(file, "utf8");
  const resources = readManifests(text, file).map((m) => ({ manifest: m.manifest, origin: m.origin }));
  const result = await client.request<{ changes: Array<{ kind: string; name: string; action: string }> }>(
    "POST",
    "/api/v1/apply",
    { resources, source: { via: "cli", file } },
  );
  for (const c of result.changes) say(`  ${c.kind.toLowerCase()}/${c.name} ${c.action}`);
}

/** Waits for a run of `pipeline` other than those in `seen` (a trigger's), up to `ms`. */
export async function nextRun(
  client: ServerClient,
  pipeline: string,
  seen: ReadonlySet<string>,
  ms: number,
): Promise<RunView | null> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const { runs } = await client.request<{ runs: RunView[] }>("GET", `/api/v1/pipelines/${pipeline}/runs`);
    const fresh = runs.find((r) => !seen.has(r.id));
    if (fresh !== undefined) return fresh;
    await sleep(1000);
  }
  return null;
}

export async function runIds(client: ServerClient, pipeline: string): Promise<Set<string>> {
  const { runs } = await client.request<{ runs: RunView[] }>("GET", `/api/v1/pipelines/${pipeline}/runs`);
  return new Set(runs.map((r) => r.id));
}

/** Prints each step's state change until the run ends; returns the finished run. */
export async function followRun(client: ServerClient, pipeline: string, id: string): Promise<RunView> {
  const shown = new Map<string, string>();
  for (;;) {
    const run = await client.request<RunView>("GET", `/api/v1/pipelines/${pipeline}/runs/${id}`);
    for (const s of run.steps) {
      const state = s.cached ? `${s.state} (cached)` : s.state;
      if (shown.get(s.name) === state || s.state === "Pending") continue;
      shown.set(s.name, state);
      const detail =
        s.error !== undefined
          ? `: ${s.error}`
          : s.state === "Succeeded" && s.summary !== undefined
            ? `  ${JSON.stringify(s.summary).slice(0, 160)}`
            : "";
      say(`   step ${s.name.padEnd(9)} ${state}${detail}`);
    }
    if (!["Pending", "Running"].includes(run.state)) {
      say(`   run ${run.state}${run.reason === undefined ? "" : `: ${run.reason}`}`);
      return run;
    }
    await sleep(500);
  }
}

/** Prints the canary's steps and gates while `traffic` keeps sending; returns the last phase. */
export async function followRollout(
  client: ServerClient,
  deployment: string,
  traffic: () => Promise<void>,
  maxMs = 180_000,
): Promise<string> {
  let last = "";
  const until = Date.now() + maxMs;
  while (Date.now() < until) {
    await traffic();
    const view = await client.request<RolloutView>("GET", `/api/v1/deployments/${deployment}/rollout`);
    const r = view.rollout;
    if (r === null) return "none";
    const line = `${r.phase} v${r.canary.version} at ${r.weight}% (step ${r.step + 1})`;
    if (line !== last) {
      const gates = view.gates.map((g) => `${g.gate}: ${g.decision}`).join(", ");
      say(`   canary ${line}  ${gates}`);
      last = line;
    }
    if (r.phase === "Succeeded" || r.phase === "Aborted") {
      say(`   ${r.phase === "Succeeded" ? "promoted" : "rolled back"}: ${r.message}`);
      for (const g of view.gates) say(`     gate ${g.gate}: ${g.decision} — ${g.detail}`);
      return r.phase;
    }
  }
  return "timeout";
}
