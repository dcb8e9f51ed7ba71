/** Routing cost per request: a 3-variant split with a sticky key and a header rule, against one variant. */
import { performance } from "node:perf_hooks";
import { route, type RoutingSpec, type WeightedVariant } from "../../src/serving/routing.js";
import { fixed, passFail, table } from "../report.js";

export async function measureRouting(): Promise<boolean> {
  const one: WeightedVariant[] = [{ name: "stable", weight: 100, stable: true }];
  const three: WeightedVariant[] = [
    { name: "stable", weight: 80, stable: true },
    { name: "canary", weight: 15, stable: false },
    { name: "challenger", weight: 5, stable: false },
  ];
  const spec: RoutingSpec = {
    sticky: { header: "x-user-id" },
    rules: [{ header: "x-cohort", value: "beta", variant: "canary" }],
  };
  const headers = Array.from({ length: 4096 }, (_, i) => ({ "x-user-id": `user-${i}` }));
  const n = 2_000_000;
  const time = (fn: (i: number) => string): number => {
    for (let i = 0; i < n / 10; i++) fn(i); // warm-up
    const start = performance.now();
    let sink = 0;
    for (let i = 0; i < n; i++) sink += fn(i).length;
    if (sink < 0) console.log(sink);
    return ((performance.now() - start) * 1e6) / n;
  };
  const single = time(() => route(one, undefined, { headers: {} }, Math.random()).variant);
  const split = time((i) => route(three, spec, { headers: headers[i & 4095] ?? {} }, Math.random()).variant);
  console.log(`\n(3) Routing decision per request (${n} requests each, same process)`);
  const overhead = split - single;
  const ok = overhead < 1000;
  console.log(
    table([
      ["routing", "ns per request"],
      ["single version", fixed(single, 0)],
      ["3-variant split, sticky key, header rule", fixed(split, 0)],
      ["overhead", `${fixed(overhead, 0)} (≤ 1 µs: ${passFail(ok)})`],
    ]),
  );
  return ok;
}
