/**
 * Routing cost per request through the serving path (in process, no HTTP): a deployment with
 * one version, against one with a 3-variant split by a sticky key and a header rule plus a
 * shadow mirroring every request. Same process, same model (builtin logistic, a few µs).
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { openBallast } from "../../src/ballast.js";
import { fixed, FRAUD_BENCH_MODEL as MODEL, passFail, table } from "../report.js";

export async function measureRouting(): Promise<boolean> {
  const dataDir = await mkdtemp(join(tmpdir(), "ballast-bench-routing-"));
  const ballast = await openBallast({ dataDir, defaultMetrics: false, rolloutTicker: false });
  try {
    const versions: number[] = [];
    for (const intercept of [-3, -2, -1, 0]) {
      const path = join(dataDir, `m${intercept}.json`);
      await writeFile(path, JSON.stringify({ ...MODEL, intercept }));
      versions.push(
        (await ballast.registry.registerVersion({ model: "m", artifactPath: path })).version.version,
      );
    }
    const ref = (i: number) => ({ version: versions[i] as number });
    await ballast.deployments.put({
      name: "single",
      variants: [{ name: "stable", model: "m", ref: ref(0), weight: 100 }],
    });
    await ballast.deployments.put({
      name: "split",
      variants: [
        { name: "stable", model: "m", ref: ref(0), weight: 80 },
        { name: "canary", model: "m", ref: ref(1), weight: 15 },
        { name: "challenger", model: "m", ref: ref(2), weight: 5 },
        { name: "shadow", model: "m", ref: ref(3), weight: 100, shadow: true },
      ],
      routing: {
        sticky: { header: "x-user-id" },
        rules: [{ header: "x-cohort", value: "beta", variant: "canary" }],
      },
    });
    await ballast.deployments.put({
      name: "split-only",
      variants: [
        { name: "stable", model: "m", ref: ref(0), weight: 80 },
        { name: "canary", model: "m", ref: ref(1), weight: 15 },
        { name: "challenger", model: "m", ref: ref(2), weight: 5 },
      ],
      routing: {
        sticky: { header: "x-user-id" },
        rules: [{ header: "x-cohort", value: "beta", variant: "canary" }],
      },
    });
    await ballast.endpoints.sync();
    const body = { instances: [{ amount: 1.5, hour: 3, night: 1 }] };
    const headers = Array.from({ length: 1024 }, (_, i) => ({ "x-user-id": `user-${i}` }));
    const n = 30_000;
    const run = async (deployment: string): Promise<number> => {
      for (let i = 0; i < n / 10; i++)
        await ballast.inference.predict(deployment, body, `w${i}`, headers[i & 1023]);
      await ballast.inference.shadows.idle();
      const started = performance.now();
      for (let i = 0; i < n; i++) {
        await ballast.inference.predict(deployment, body, `r${deployment}${i}`, headers[i & 1023]);
        // One turn of the event loop per request (both deployments alike), so mirrors keep up
        // as they would between requests arriving over the network.
        await new Promise((resolve) => setImmediate(resolve));
      }
      // The mirrors run after each answer; waiting for them counts their cost to the process.
      await ballast.inference.shadows.idle();
      return ((performance.now() - started) * 1000) / n;
    };
    // Alternate, so drift in the machine's load hits all alike.
    const single: number[] = [];
    const splitOnly: number[] = [];
    const split: number[] = [];
    for (let round = 0; round < 3; round++) {
      single.push(await run("single"));
      splitOnly.push(await run("split-only"));
      split.push(await run("split"));
    }
    const best = (xs: number[]) => Math.min(...xs);
    const routing = best(splitOnly) - best(single);
    const mirrored = ballast.shadows.reports("split")[0]?.comparison;
    console.log(
      `\n(3) Serving path per request, in process (${n} requests × 3 alternating rounds, best round)`,
    );
    const ok = routing <= 2;
    console.log(
      table([
        ["deployment", "µs per request", "against one version"],
        ["one version", fixed(best(single), 1), ""],
        [
          "3-variant sticky split + header rule",
          fixed(best(splitOnly), 1),
          `+${fixed(routing, 1)} µs (routing ≤ 2 µs: ${passFail(ok)})`,
        ],
        [
          "… + a shadow mirroring every request",
          fixed(best(split), 1),
          `+${fixed(best(split) - best(single), 1)} µs (a second model call, its comparison and log row)`,
        ],
        [
          "mirrors compared / skipped (bound of 64 in flight)",
          `${mirrored?.compared ?? 0} / ${mirrored?.skipped ?? 0}`,
          "",
        ],
      ]),
    );
    return ok;
  } finally {
    await ballast.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}
