/** `ballast routers list|show NAME|performance NAME [--by regime]`: the regime routers' state. */
import type { Command } from "commander";
import { invalid } from "../../domain/errors.js";
import { clientFor, serverOptions, type ServerFlags } from "../client.js";
import { formatTable, printJson } from "../table.js";

interface Options extends ServerFlags {
  output?: string;
}

interface RouterList {
  routers: Array<{
    name: string;
    mode: string | null;
    instrument: string | null;
    regime: string | null;
    specialists: string[];
    answers: number;
  }>;
}

interface RouterView {
  name: string;
  spec: {
    mode: string;
    regimes: string[];
    instrument?: string;
    specialists: Array<{ name: string; deployment: string }>;
  };
  live: { regime: string; probabilities: Record<string, number>; lastBar: number } | null;
  weights: {
    declared: Record<string, Record<string, number>>;
    live: Record<string, Record<string, number>>;
  };
  champions: Record<string, string>;
  specialists: Array<{ name: string; deployment: string; failures: Record<string, number> }>;
}

interface Performance {
  name: string;
  regimes: Record<
    string,
    Array<{
      model: string;
      n: number;
      qlike: number | null;
      mse: number | null;
      dmVsRouter: number | null;
      dmVsChampion: number | null;
    }>
  >;
}

const num = (v: number | null | undefined, digits = 4): string =>
  v === null || v === undefined ? "-" : Number(v.toPrecision(digits)).toString();

export function register(program: Command): void {
  const routers = program
    .command("routers")
    .description("Regime routers: live regime, weights, per-regime evaluation");
  const client = (o: Options) => clientFor(o);

  serverOptions(
    routers
      .command("list")
      .description("Every router: mode, instrument, live regime")
      .option("-o, --output <format>", "table or json", "table"),
  ).action(async (options: Options) => {
    const list = await client(options).request<RouterList>("GET", "/api/v1/routers");
    if (options.output === "json") return printJson(list);
    process.stdout.write(
      formatTable(
        ["NAME", "MODE", "INSTRUMENT", "REGIME", "SPECIALISTS", "ANSWERS"],
        list.routers.map((r) => [
          r.name,
          r.mode ?? "-",
          r.instrument ?? "-",
          r.regime ?? "-",
          r.specialists.join(","),
          r.answers,
        ]),
      ),
    );
  });

  serverOptions(
    routers
      .command("show <name>")
      .description("One router: live regime, declared and live weights per regime, champions, failures")
      .option("-o, --output <format>", "table or json", "table"),
  ).action(async (name: string, options: Options) => {
    const view = await client(options).request<RouterView>(
      "GET",
      `/api/v1/routers/${encodeURIComponent(name)}`,
    );
    if (options.output === "json") return printJson(view);
    const live =
      view.live === null
        ? "no bars yet"
        : `${view.live.regime} (p = ${num(view.live.probabilities[view.live.regime] ?? null, 3)})`;
    process.stdout.write(`router ${view.name}: ${view.spec.mode}, regime ${live}\n`);
    const rows: Array<Array<string | number>> = [];
    for (const regime of view.spec.regimes)
      for (const s of view.spec.specialists)
        rows.push([
          regime,
          s.name,
          num(view.weights.declared[regime]?.[s.name]),
          num(view.weights.live[regime]?.[s.name]),
          view.champions[regime] === s.name ? "champion" : "",
        ]);
    process.stdout.write(formatTable(["REGIME", "SPECIALIST", "DECLARED", "LIVE", ""], rows));
    const failures = view.specialists.flatMap((s) =>
      Object.entries(s.failures).map(([reason, n]) => [s.name, reason, n]),
    );
    if (failures.length > 0)
      process.stdout.write(formatTable(["SPECIALIST", "DROPPED FOR", "TIMES"], failures));
  });

  serverOptions(
    routers
      .command("performance <name>")
      .description(
        "Per regime and model: outcomes, QLIKE, MSE, DM (HLN) p-values vs the router and the champion",
      )
      .option("--by <dimension>", "regime", "regime")
      .option("-o, --output <format>", "table or json", "table"),
  ).action(async (name: string, options: Options & { by: string }) => {
    if (options.by !== "regime") throw invalid(`--by: only 'regime' is offered, got '${options.by}'`);
    const perf = await client(options).request<Performance>(
      "GET",
      `/api/v1/routers/${encodeURIComponent(name)}/performance?by=regime`,
    );
    if (options.output === "json") return printJson(perf);
    const rows = Object.entries(perf.regimes).flatMap(([regime, models]) =>
      models.map((m) => [
        regime,
        m.model,
        m.n,
        num(m.qlike),
        num(m.mse),
        num(m.dmVsRouter, 3),
        num(m.dmVsChampion, 3),
      ]),
    );
    process.stdout.write(
      formatTable(["REGIME", "MODEL", "N", "QLIKE", "MSE", "P VS ROUTER", "P VS CHAMPION"], rows),
    );
  });
}
