/**
 * The markets story, end to end, on real data: each volatility specialist fitted on the past and
 * served by its own `ballast serve` process; a router process that reaches them through the http
 * flavor, weighs them by the regime of a Markov-switching classifier and learns per-regime
 * weights from the outcomes; then the market replayed bar by bar at speed, one bar posted and
 * one forecast asked per trading day, while the LSTM's process is killed with SIGKILL mid-stream.
 *
 *   npx tsx examples/markets/story.ts                  # S&P 500, 1985 to Aug 1991: October 1987
 *   npx tsx examples/markets/story.ts --market dax     # DAX, 1997-98: the Asian and Russian crises
 *   npx tsx examples/markets/story.ts --bars 300 --keep
 *   npx tsx examples/markets/story.ts --screenshots shots   # the dashboard at the end
 *
 * Every step prints the command a user would type for it and runs that command (`ballast` from
 * this checkout's source). See README.md, "The markets story".
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { parseArgs } from "node:util";
import { readSeriesFile } from "../../src/markets/series-file.js";
import { storyScreenshots } from "../dashboard-shots.js";

const ROOT = join(import.meta.dirname, "..", "..");
const HERE = relative(ROOT, import.meta.dirname);
// HAR-RV reads a month (22 returns); the shipped LSTM reads 20, and the router sends it the last
// 20 of each row (its signature says so). The fitted specialists take the whole window.
const WINDOW = 22;
const SCALE = 100; // specialists, classifier fit and router in percent returns
const SPECIALISTS = ["garch", "gjr", "ewma", "har-rv", "last-value", "lstm"] as const;

interface Market {
  readonly id: string;
  readonly file: string;
  /** Raw log returns, one per bar, and each bar's label (a date, exact or approximate). */
  readonly returns: number[];
  readonly labels: string[];
  /** Each bar's time in epoch milliseconds, as the bars API takes it (dated like the labels). */
  readonly times: number[];
  /** The file's data rows before the replay: the fits read only these (`--rows`). */
  readonly historyRows: number;
  /** Index into `returns` of the first replayed bar. */
  readonly start: number;
  /** `ballast fit` flags that read the history of this market. */
  readonly fitFlags: string[];
  readonly killAt: number;
  /** The replay's largest fall: its row is printed whatever the month. */
  readonly crash: number;
  readonly router: string;
}

async function sp500(): Promise<Market> {
  const file = join(HERE, "data", "sp500dge.csv");
  const { values } = await readSeriesFile(join(ROOT, file), { column: "ret" });
  // The file has no dates: it ends on 30 Aug 1991, and its largest fall is Black Monday,
  // 19 Oct 1987. Rows are dated back from the end at the pace between those two (calendar days
  // per trading day, holidays included), which holds from 1953 on; before that the exchange also
  // traded on Saturdays, and the labels drift, but the story shows none of those rows.
  const start = 15_376; // ≈ January 1985: six and a half years before the file ends
  const crash = worst(values, start);
  const end = Date.UTC(1991, 7, 30);
  const pace = (end - Date.UTC(1987, 9, 19)) / (values.length - 1 - crash);
  const times = values.map((_, i) => Math.round(end - pace * (values.length - 1 - i)));
  const labels = times.map((t) => `≈${new Date(t).toISOString().slice(0, 7)}`);
  labels[crash] = "1987-10-19";
  return {
    id: "sp500",
    file,
    returns: values,
    labels,
    times,
    historyRows: start,
    start,
    fitFlags: ["--column", "ret", "--scale", String(SCALE), "--rows", String(start)],
    killAt: crash + 100,
    crash,
    router: join(HERE, "story-sp500.yaml"),
  };
}

async function dax(): Promise<Market> {
  const file = join(HERE, "data", "eustockmarkets.csv");
  const all = await readSeriesFile(join(ROOT, file), {
    column: "DAX",
    returns: "log",
    skipRepeats: true,
    timeColumn: "t",
  });
  const years = (all.times ?? []).map(Number);
  const labels = years.map((t) => {
    const year = Math.floor(t);
    const month = Math.min(12, Math.floor((t - year) * 12) + 1);
    return `≈${year}-${String(month).padStart(2, "0")}`; // business time: weekends and holidays omitted
  });
  const start = years.findIndex((t) => t >= 1997);
  // The history is the file up to the first 1997 row: its line, less the header.
  const historyRows = (all.lines[start] as number) - 2;
  return {
    id: "dax",
    file,
    returns: all.values,
    labels,
    // The file's time is a fractional year (1991.496…): the same instant in epoch milliseconds.
    times: years.map((t) => {
      const year = Math.floor(t);
      const from = Date.UTC(year, 0, 1);
      return Math.round(from + (t - year) * (Date.UTC(year + 1, 0, 1) - from));
    }),
    historyRows,
    start,
    fitFlags: [
      "--column",
      "DAX",
      "--returns",
      "log",
      "--skip-repeats",
      "--scale",
      String(SCALE),
      "--rows",
      String(historyRows),
    ],
    killAt: years.findIndex((t) => t >= 1998.5),
    crash: worst(all.values, start),
    router: join(HERE, "story-dax.yaml"),
  };
}

function worst(returns: number[], from: number): number {
  let at = from;
  for (let i = from; i < returns.length; i++) if ((returns[i] as number) < (returns[at] as number)) at = i;
  return at;
}

// ---------------------------------------------------------------------------------------------
// Commands, as a user types them.

const children: ChildProcess[] = [];

function say(line = ""): void {
  process.stdout.write(`${line}\n`);
}

function shown(args: string[]): string {
  return `$ ballast ${args.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a}'`)).join(" ")}`;
}

/** `ballast <args>`; its stdout, or the run stops with its stderr. */
async function ballast(args: string[], options: { echo?: boolean } = {}): Promise<string> {
  say(shown(args));
  const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "src", "cli", "main.ts"), ...args], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.setEncoding("utf8").on("data", (c: string) => (out += c));
  child.stderr.setEncoding("utf8").on("data", (c: string) => (err += c));
  const status = await new Promise<number | null>((resolve) => child.once("close", resolve));
  if (status !== 0)
    throw new Error(`ballast ${args[0]} ${args[1] ?? ""} failed (exit ${status}): ${err.trim()}`);
  if (options.echo !== false && out.trim() !== "") say(out.trimEnd().replace(/^/gm, "  "));
  return out;
}

/** `ballast serve --port 0 …` in the background; its address once it listens. */
async function serve(args: string[], log: string): Promise<{ child: ChildProcess; url: string }> {
  say(`${shown(["serve", ...args])} &`);
  const child = spawn(
    process.execPath,
    ["--import", "tsx", join(ROOT, "src", "cli", "main.ts"), "serve", "--port", "0", "--quiet", ...args],
    { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"] },
  );
  children.push(child);
  let err = "";
  child.stderr?.setEncoding("utf8");
  // What it says (errors, warnings) goes on being written to its log, for when a step fails.
  const logged = createWriteStream(log);
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr?.on("data", (c: string) => {
      logged.write(c);
      err += c;
      const m = /at (http:\/\/[^ ]+) /.exec(err);
      if (m) resolve(m[1] as string);
    });
    child.once("exit", (code) => reject(new Error(`ballast serve exited ${code}: ${err.trim()}`)));
  });
  say(`  listening at ${url} (its log: ${log})`);
  return { child, url };
}

async function api<T>(url: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(url, {
    method: body === undefined ? "GET" : "POST",
    ...(body === undefined
      ? {}
      : { body: JSON.stringify(body), headers: { "content-type": "application/json" } }),
  });
  return { status: res.status, body: (await res.json()) as T };
}

// ---------------------------------------------------------------------------------------------
// The story.

interface Answer {
  outputs: Array<{ name: string; data: number[] }>;
  parameters: { regime: string[]; weights: Array<Record<string, number>>; dropped: Record<string, string> };
}

interface RouterEvent {
  id: string;
  at: number;
  reason: string;
  message: string;
  details: Record<string, unknown>;
}

interface Bar {
  readonly label: string;
  readonly close: number;
  readonly regime: string;
  readonly probability: number;
  readonly weights: Record<string, number>;
  readonly forecast: number;
}

async function main(): Promise<void> {
  const { values: flags } = parseArgs({
    options: {
      market: { type: "string", default: "sp500" },
      bars: { type: "string" },
      keep: { type: "boolean", default: false },
      dir: { type: "string" },
      screenshots: { type: "string" },
    },
  });
  if (flags.market !== "sp500" && flags.market !== "dax")
    throw new Error(`--market must be sp500 or dax, not '${flags.market}'`);
  const market = flags.market === "sp500" ? await sp500() : await dax();
  const end =
    flags.bars === undefined
      ? market.returns.length
      : Math.min(market.returns.length, market.start + Number(flags.bars));
  if (!(end > market.start)) throw new Error(`--bars must be a positive number, not '${flags.bars}'`);
  const dir = flags.dir ?? (await mkdtemp(join(tmpdir(), `ballast-markets-${market.id}-`)));
  await mkdir(dir, { recursive: true });
  // Servers started on an earlier run's data would restore its router state and models.
  if ((await readdir(dir)).length > 0)
    throw new Error(`--dir ${dir} is not empty: the story starts on fresh data; remove it or name another`);
  const started = Date.now();

  say(
    `# ${market.id}: fit on ${market.historyRows} rows of ${market.file} (to ${market.labels[market.start - 1]}),`,
  );
  say(
    `# replay ${end - market.start} trading days (${market.labels[market.start]} to ${market.labels[end - 1]}). Work in ${dir}`,
  );
  say();
  say("## 1. Fit the specialists and the regime classifier on the past only");
  const fit = (kind: string, save: string, ...extra: string[]) =>
    ballast([
      "fit",
      kind,
      "-f",
      market.file,
      ...market.fitFlags,
      "--save",
      join(dir, save),
      "--window",
      String(WINDOW),
      ...extra,
    ]);
  await fit("garch", "garch.json");
  await fit("garch", "gjr.json", "--model", "gjr");
  await fit("ewma", "ewma.json");
  await fit("har-rv", "har-rv.json");
  await fit("last-value", "last-value.json");
  await fit(
    "regimes",
    "regimes.json",
    "--switching-variance",
    "--method",
    "markov-switching",
    "--regimes",
    "2",
  );
  say(
    `  (the LSTM is ${HERE}/models/lstm.onnx, trained by train_lstm.py on S&P 500 returns to 1978; it reads 20 returns, and the router sends it the last 20 of each window of ${WINDOW})`,
  );
  say();

  say("## 2. Each specialist in its own process");
  const specialists = new Map<string, { child: ChildProcess; url: string }>();
  const files: Record<string, string> = {
    garch: join(dir, "garch.json"),
    gjr: join(dir, "gjr.json"),
    ewma: join(dir, "ewma.json"),
    "har-rv": join(dir, "har-rv.json"),
    "last-value": join(dir, "last-value.json"),
    lstm: join(HERE, "models", "lstm.onnx"),
  };
  for (const name of SPECIALISTS)
    specialists.set(
      name,
      await serve(
        ["--data-dir", join(dir, name), "--model", `${name}=${files[name]}`],
        join(dir, `${name}.log`),
      ),
    );
  say();

  say("## 3. The router's process reaches them through the http flavor");
  const remotes: string[] = [];
  for (const name of SPECIALISTS) {
    const file = join(dir, `${name}.http.json`);
    const url = (specialists.get(name) as { url: string }).url;
    await writeFile(file, `${JSON.stringify({ format: "ballast.http/v1", url, model: name })}\n`);
    say(`$ cat ${file}\n  ${await readFile(file, "utf8")}`.trimEnd());
    remotes.push("--model", `${name}=${file}`);
  }
  const router = await serve(["--data-dir", join(dir, "router"), ...remotes], join(dir, "router.log"));
  const server = ["--server", router.url];
  await ballast(["models", "register", "regimes", join(dir, "regimes.json"), ...server]);
  await ballast(["apply", "-f", market.router, ...server]);
  say();

  say(`## 4. Replay: a year of bars to warm up, then one bar and one forecast per trading day`);
  const history = market.start - 250;
  let close = 100;
  const warmup: Array<{ time: number; close: number }> = [{ time: market.times[history] as number, close }];
  for (let i = history + 1; i < market.start; i++)
    warmup.push({ time: market.times[i] as number, close: (close *= Math.exp(market.returns[i] as number)) });
  const bars = `${router.url}/api/v1/instruments/${market.id}/bars`;
  const posted = await api<{ accepted: number }>(bars, { bars: warmup, config: { windows: [20, 60] } });
  if (posted.status !== 200) throw new Error(`warm-up bars refused: ${JSON.stringify(posted.body)}`);
  say(
    `  POST /api/v1/instruments/${market.id}/bars: ${posted.body.accepted} bars (${market.labels[history]} to ${market.labels[market.start - 1]})`,
  );
  say(
    `  then per day: POST the bar, POST /v2/models/vol-router/infer with the last ${WINDOW} returns x${SCALE}`,
  );
  say();

  const seen = new Set<string>();
  let since = 0;
  const events = async (): Promise<RouterEvent[]> => {
    const res = await api<{ events: RouterEvent[] }>(
      `${router.url}/api/v1/events?kind=Router&name=vol-router&since=${since}&limit=1000`,
    );
    const fresh = res.body.events.filter((e) => !seen.has(e.id));
    for (const e of fresh) seen.add(e.id);
    since = Math.max(since, ...fresh.map((e) => e.at));
    return fresh;
  };
  await events(); // the warm-up's
  const timeline: Bar[] = [];
  const counts = { changes: 0, champions: 0, retried: 0, lstmDropped: 0 };
  let killed = false;
  let lastMonth = "";
  say("  date        index   regime      p    forecast  realized(20d)  weights");
  for (let i = market.start; i < end; i++) {
    if (i === market.killAt && !killed) {
      const lstm = specialists.get("lstm") as { child: ChildProcess };
      lstm.child.kill("SIGKILL");
      killed = true;
      say(
        `  ${market.labels[i]}  !! kill -9 the LSTM's process (pid ${lstm.child.pid}): the router must keep answering`,
      );
    }
    if (i === market.crash + 120 && flags.screenshots !== undefined)
      // The router's page shows its last 500 bars: this one has the crash in it.
      await storyScreenshots(router.url, flags.screenshots, market.id, undefined, [
        { name: "router-after-the-crash", path: "/markets/routers/vol-router" },
      ]);
    close *= Math.exp(market.returns[i] as number);
    for (let attempt = 0; ; attempt++) {
      const res = await api<{ error?: string }>(bars, { bars: [{ time: market.times[i] as number, close }] });
      if (res.status === 200) break;
      if (res.status < 500 || attempt === 2)
        throw new Error(
          `bar ${i} refused (${res.status}): ${res.body.error} (the router's log: ${join(dir, "router.log")})`,
        );
      counts.retried++;
    }
    const window = market.returns.slice(i - WINDOW + 1, i + 1).map((r) => r * SCALE);
    const res = await api<Answer>(`${router.url}/v2/models/vol-router/infer`, {
      inputs: [{ name: "returns", datatype: "FP64", shape: [1, WINDOW], data: window }],
    });
    if (res.status !== 200)
      throw new Error(
        `the router failed at ${market.labels[i]} (${res.status}): ${JSON.stringify(res.body)}`,
      );
    const { parameters, outputs } = res.body;
    const variance = outputs.find((o) => o.name === "variance")?.data[0] as number;
    const probability = outputs.find((o) => o.name === "regime_probability")?.data[0] as number;
    if (parameters.dropped.lstm !== undefined) {
      if (counts.lstmDropped === 0)
        say(
          `  ${market.labels[i]}  the router dropped lstm (${parameters.dropped.lstm}) and renormalised the others`,
        );
      counts.lstmDropped++;
    }
    const bar: Bar = {
      label: market.labels[i] as string,
      close,
      regime: parameters.regime[0] as string,
      probability,
      weights: parameters.weights[0] as Record<string, number>,
      forecast: variance,
    };
    timeline.push(bar);
    for (const e of await events()) {
      if (e.reason === "RegimeChanged") counts.changes++;
      if (e.reason === "RegimeChampionChanged") counts.champions++;
      say(`  ${bar.label}  ** ${e.reason}: ${e.message}`);
    }
    const month = bar.label.replace("≈", "").slice(0, 7);
    if (month !== lastMonth || i === market.crash) {
      lastMonth = month;
      say(`  ${row(bar, market.returns.slice(Math.max(0, i - 19), i + 1))}`);
    }
  }
  say();
  say(`## 5. What happened (${((Date.now() - started) / 1000).toFixed(0)} s so far)`);
  say(chart(timeline));
  say();
  say(
    `  ${timeline.length} answers; ${counts.changes} regime changes announced, ${counts.champions} champion changes; ` +
      `${counts.lstmDropped} answers without the killed LSTM, none failed` +
      (counts.retried > 0 ? `; ${counts.retried} bar posts retried after a 5xx` : ""),
  );
  say();
  await ballast(["routers", "performance", "vol-router", "--by", "regime", ...server]);
  await ballast(["routers", "show", "vol-router", ...server]);
  say();
  if (flags.screenshots !== undefined) await storyScreenshots(router.url, flags.screenshots, market.id);
  if (flags.keep === true) {
    say(`The router keeps running: open ${router.url}/markets/routers/vol-router (Ctrl-C stops everything).`);
    await new Promise<void>((resolve) => process.once("SIGINT", () => resolve()));
  }
}

function row(bar: Bar, recent: number[]): string {
  const realized = recent.reduce((a, r) => a + (r * SCALE) ** 2, 0) / recent.length;
  const weights = Object.entries(bar.weights)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 3)
    .map(([name, w]) => `${name} ${w.toFixed(2)}`)
    .join(", ");
  return `${bar.label.padEnd(10)} ${bar.close.toFixed(1).padStart(7)}   ${bar.regime.padEnd(10)} ${bar.probability.toFixed(2)}  ${bar.forecast.toFixed(2).padStart(8)}  ${realized.toFixed(2).padStart(13)}  ${weights}`;
}

/** The index as a line of blocks, the regime under it, the years under that: the shape at a glance. */
function chart(bars: Bar[]): string {
  const width = Math.min(100, bars.length);
  const columns = Array.from({ length: width }, (_, c) =>
    bars.slice(Math.floor((c * bars.length) / width), Math.floor(((c + 1) * bars.length) / width)),
  );
  const closes = columns.map((b) => (b.at(-1) as Bar).close);
  const low = Math.min(...closes);
  const high = Math.max(...closes);
  const levels = "▁▂▃▄▅▆▇█";
  const price = closes
    .map((p) => levels[Math.round(((p - low) / (high - low || 1)) * (levels.length - 1))])
    .join("");
  const regime = columns
    .map((b) => (b.filter((x) => x.regime !== "calm").length * 2 > b.length ? "█" : "·"))
    .join("");
  const forecast = columns.map((b) => Math.max(...b.map((x) => x.forecast)));
  const fHigh = Math.max(...forecast);
  const vol = forecast
    .map((f) => levels[Math.round((Math.sqrt(f) / Math.sqrt(fHigh)) * (levels.length - 1))])
    .join("");
  // A year's label where it begins, when there is room for it.
  const marks = Array.from({ length: width }, () => " ");
  let lastYear = "";
  columns.forEach((b, c) => {
    const year = (b[0] as Bar).label.replace("≈", "").slice(0, 4);
    if (year === lastYear) return;
    lastYear = year;
    if (c + 4 <= width && marks.slice(Math.max(0, c - 1), c + 4).every((m) => m === " "))
      marks.splice(c, 4, ...year);
  });
  return [
    `  index    ${price}  ${low.toFixed(0)}..${high.toFixed(0)}`,
    `  forecast ${vol}  router's variance forecast (sqrt scale), max ${fHigh.toFixed(1)}`,
    `  regime   ${regime}  █ turbulent  · calm`,
    `           ${marks.join("").slice(0, width)}`,
  ].join("\n");
}

async function stop(): Promise<void> {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
}

main().then(
  () => stop(),
  async (error: unknown) => {
    process.stderr.write(`story: ${error instanceof Error ? error.message : String(error)}\n`);
    await stop();
    process.exitCode = 1;
  },
);
