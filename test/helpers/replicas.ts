/**
 * Several real `ballast serve` processes on one PostgreSQL database, as replicas behind a load
 * balancer: each its own child process, port and `--data-dir` (so artifacts have to be shared
 * through the store, not the file system), and a small round-robin HTTP proxy in front.
 *
 * Children run from source through tsx, as in `cli.ts`, so the test exercises the code as it is
 * now, never a stale `dist/`. They are killed with SIGKILL in `close()`, and also when this
 * process exits or is interrupted (SIGINT/SIGTERM); a test process killed with SIGKILL itself
 * cannot clean up (its replicas then exit when their database is dropped by the next run… or not:
 * look for stray `ballast serve` processes after an interrupted debugging session).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import http from "node:http";
import { type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { scratchDatabase } from "./stores.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const MAIN = ["--import", "tsx", join(ROOT, "src/cli/main.ts")];

/** How long a replica may take to start (tsx compiles on a loaded machine: generous). */
const START_TIMEOUT_MS = 90_000;
/** Each request the harness itself sends to a replica (health, status, leases). */
const PROBE_TIMEOUT_MS = 5_000;
/** What the proxy waits on a silent replica before answering 504. */
const PROXY_TIMEOUT_MS = 15_000;
/** Bytes of each replica's stderr kept for diagnostics. */
const LOG_TAIL = 16_384;

// ---------------------------------------------------------------------------------------------
// waitFor

export interface Waited<T> {
  readonly value: T;
  /**
   * Milliseconds from `since` (default: the call) to the end of the probe that first succeeded:
   * an upper bound on when the condition became true, as seen from here.
   */
  readonly elapsedMs: number;
  /** When (Date.now()) the successful probe started and ended. */
  readonly probeStartedAt: number;
  readonly probeEndedAt: number;
}

/**
 * Calls `probe` every `intervalMs` (default 75) until it returns something other than
 * undefined, null or false, and says how long that took. A probe that throws counts as "not
 * yet" (a replica being killed refuses connections); the last error and value are in the
 * timeout's message. Never waits past `timeoutMs`.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  options: { timeoutMs: number; intervalMs?: number; since?: number },
): Promise<Waited<T>> {
  const interval = options.intervalMs ?? 75;
  const since = options.since ?? Date.now();
  const deadline = Date.now() + options.timeoutMs;
  let last: unknown;
  for (;;) {
    const probeStartedAt = Date.now();
    try {
      const value = await withTimeout(Promise.resolve(probe()), Math.max(1, deadline - probeStartedAt));
      if (value !== undefined && value !== null && value !== false) {
        const probeEndedAt = Date.now();
        return { value, elapsedMs: probeEndedAt - since, probeStartedAt, probeEndedAt };
      }
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() + interval > deadline) {
      const shown = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${what} (last: ${shown})`);
    }
    await sleep(interval);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`probe still running after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// ---------------------------------------------------------------------------------------------
// Served splits

export interface ServedVariant {
  readonly variant: string;
  readonly model: string;
  readonly version: number;
  readonly weight: number;
}

export interface ServedSplit {
  /** Sorted by variant name. */
  readonly variants: readonly ServedVariant[];
  /** `stable=fraud@2:80 canary=fraud@3:20`-like, sorted by variant name: compare these. */
  readonly key: string;
  /**
   * Where the weights came from: the replica's own `status.serving[].weight` (what it routes
   * with), or, while the server does not report that, the declared `variants[].weight` joined by
   * variant name, which is only this replica's split when it is caught up (readiness).
   */
  readonly weightsFrom: "serving" | "declared";
  /** GET /v2/health/ready answered 200 (asked only when the weights come from the declaration). */
  readonly ready: boolean | undefined;
}

/** The key of an expected split, e.g. splitKey({stable: ["fraud", 2, 80], canary: ["fraud", 3, 20]}). */
export function splitKey(
  variants: Record<string, readonly [model: string, version: number, weight: number]>,
): string {
  return keyOf(
    Object.entries(variants).map(([variant, [model, version, weight]]) => ({
      variant,
      model,
      version,
      weight,
    })),
  );
}

function keyOf(variants: readonly ServedVariant[]): string {
  return [...variants]
    .sort((a, b) => a.variant.localeCompare(b.variant))
    .map((v) => `${v.variant}=${v.model}@${v.version}:${v.weight}`)
    .join(" ");
}

interface DeploymentAnswer {
  variants?: Array<{ name: string; weight: number }>;
  status?: {
    serving?: Array<{ variant: string; model: string; version: number; weight?: number }>;
  };
}

// ---------------------------------------------------------------------------------------------
// Replicas

export interface ReplicaInfo {
  readonly index: number;
  /** Base URL while running, else undefined. */
  readonly url: string | undefined;
  readonly dataDir: string;
  readonly running: boolean;
  /** Times this replica was started (1 after the first start). */
  readonly starts: number;
}

export interface ReplicaLeases {
  readonly id: string;
  readonly leases: readonly string[];
}

export interface Replicas {
  /** The database all replicas share (dropped by close()). */
  readonly databaseUrl: string;
  /** The round-robin proxy in front of the running replicas. */
  readonly proxyUrl: string;
  readonly size: number;
  info(i: number): ReplicaInfo;
  /** Base URL of a running replica (throws when it is not running). */
  url(i: number): string;
  /** Indexes of running replicas. */
  running(): number[];
  /** SIGKILL; resolves once the process is gone. The proxy stops choosing it first. */
  kill(i: number): Promise<void>;
  /** Starts a stopped replica again (same data dir, a new port); resolves once it is live. */
  restart(i: number): Promise<void>;
  /** What replica `i` itself says it serves for `deployment`; null when it serves nothing for it. */
  servedSplit(i: number, deployment: string): Promise<ServedSplit | null>;
  /** Whether replica `i` serves exactly the split with this key (see ServedSplit.weightsFrom). */
  serves(i: number, deployment: string, key: string): Promise<boolean>;
  /**
   * The replica holding `lease` (default "rollouts") according to `GET /api/v1/replicas` on a
   * running replica: its id and, when it is one of ours and running, its index. Undefined when
   * nobody holds it. Throws when the server has no such endpoint (yet).
   */
  leaseHolder(lease?: string): Promise<{ id: string; index: number | undefined } | undefined>;
  /** Replica i's own id as it reports it (`self` of GET /api/v1/replicas). */
  replicaId(i: number): Promise<string>;
  /** Requests the proxy sent to each replica since the start (index -> count). */
  proxied(): readonly number[];
  /** The tail of every replica's stderr, for a failure message. */
  logs(): string;
  /** Kills every child, stops the proxy, drops the database, removes the data dirs. */
  close(): Promise<void>;
}

interface Slot {
  index: number;
  dataDir: string;
  child: ChildProcess | undefined;
  url: string | undefined;
  log: string;
  starts: number;
}

/** Every child any Replicas started and not yet reaped, killed on the way out whatever happens. */
const children = new Set<ChildProcess>();
let exitHooked = false;

function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  const killAll = () => {
    for (const child of children) child.kill("SIGKILL");
  };
  process.once("exit", killAll);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      killAll();
      process.exit(signal === "SIGINT" ? 130 : 143);
    });
  }
}

/**
 * Creates a fresh database on the server `adminUrl` points at (e.g.
 * postgres://postgres@127.0.0.1:5432/test), starts `count` replicas on it (the first alone, so
 * it runs the migrations; the others together) and the proxy.
 */
export async function startReplicas(
  count: number,
  options: { adminUrl: string; args?: readonly string[] },
): Promise<Replicas> {
  hookExit();
  const database = await scratchDatabase(options.adminUrl, "ballast_replicas");
  const databaseUrl = database.url;

  const slots: Slot[] = [];
  const proxyCounts: number[] = [];
  let proxy: Proxy | undefined;
  let closed = false;

  const start = async (slot: Slot): Promise<void> => {
    const child = spawn(
      process.execPath,
      [
        ...MAIN,
        "serve",
        "--port",
        "0",
        "--quiet",
        "--store",
        databaseUrl,
        "--data-dir",
        slot.dataDir,
        ...(options.args ?? []),
      ],
      { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"] },
    );
    children.add(child);
    slot.child = child;
    slot.url = undefined;
    slot.starts++;
    const mark = `--- replica ${slot.index} start ${slot.starts} (pid ${child.pid}) ---\n`;
    slot.log = (slot.log + mark).slice(-LOG_TAIL);
    child.stderr?.setEncoding("utf8");
    let sinceStart = "";
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new Error(`replica ${slot.index} did not start within ${START_TIMEOUT_MS} ms: ${sinceStart}`));
      }, START_TIMEOUT_MS);
      child.stderr?.on("data", (chunk: string) => {
        slot.log = (slot.log + chunk).slice(-LOG_TAIL);
        sinceStart += chunk;
        const m = /at (http:\/\/[^ ]+) /.exec(sinceStart);
        if (m) {
          clearTimeout(timer);
          resolve(m[1] as string);
        }
      });
      child.once("exit", (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`replica ${slot.index} exited (${signal ?? code}) while starting: ${sinceStart}`));
      });
    });
    child.once("exit", (code, signal) => {
      children.delete(child);
      if (slot.child === child) {
        slot.child = undefined;
        slot.url = undefined;
      }
      slot.log = (slot.log + `--- replica ${slot.index} exited (${signal ?? code}) ---\n`).slice(-LOG_TAIL);
    });
    await waitFor(
      `replica ${slot.index} to answer /v2/health/live`,
      async () => (await get(`${url}/v2/health/live`)).status === 200,
      { timeoutMs: START_TIMEOUT_MS },
    );
    slot.url = url;
  };

  const ids = new Map<string, number>();

  const replicas: Replicas = {
    databaseUrl,
    get proxyUrl() {
      if (proxy === undefined) throw new Error("the proxy is not running");
      return proxy.url;
    },
    size: count,
    info(i) {
      const s = slotOf(i);
      return { index: i, url: s.url, dataDir: s.dataDir, running: s.url !== undefined, starts: s.starts };
    },
    url(i) {
      const s = slotOf(i);
      if (s.url === undefined) throw new Error(`replica ${i} is not running`);
      return s.url;
    },
    running() {
      return slots.filter((s) => s.url !== undefined).map((s) => s.index);
    },
    async kill(i) {
      const s = slotOf(i);
      const child = s.child;
      if (child === undefined) return;
      s.url = undefined; // the proxy stops choosing it before the signal lands
      if (child.exitCode === null && child.signalCode === null) {
        const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
        child.kill("SIGKILL");
        await gone;
      }
    },
    async restart(i) {
      const s = slotOf(i);
      if (s.child !== undefined) throw new Error(`replica ${i} is still running; kill it first`);
      await start(s);
    },
    async servedSplit(i, deployment) {
      const base = replicas.url(i);
      const res = await get(`${base}/api/v1/deployments/${encodeURIComponent(deployment)}`);
      if (res.status === 404) return null;
      if (res.status !== 200)
        throw new Error(`replica ${i}: GET deployment ${deployment}: ${res.status} ${res.text}`);
      const body = JSON.parse(res.text) as DeploymentAnswer;
      const serving = body.status?.serving ?? [];
      if (serving.length === 0) return null;
      const declared = new Map((body.variants ?? []).map((v) => [v.name, v.weight]));
      const fromServing = serving.every((v) => typeof v.weight === "number");
      const variants = serving.map((v) => ({
        variant: v.variant,
        model: v.model,
        version: v.version,
        weight: fromServing ? (v.weight as number) : (declared.get(v.variant) ?? Number.NaN),
      }));
      const ready = fromServing ? undefined : (await get(`${base}/v2/health/ready`)).status === 200;
      return { variants, key: keyOf(variants), weightsFrom: fromServing ? "serving" : "declared", ready };
    },
    async serves(i, deployment, key) {
      const split = await replicas.servedSplit(i, deployment);
      return split !== null && split.key === key && (split.weightsFrom === "serving" || split.ready === true);
    },
    async replicaId(i) {
      const answer = await replicasAnswer(replicas.url(i), i);
      ids.set(answer.self, i);
      return answer.self;
    },
    async leaseHolder(lease = "rollouts") {
      const live = replicas.running();
      if (live.length === 0) throw new Error("no replica is running");
      // Learn every running replica's own id (ids may change on restart), then read the table once.
      await Promise.all(live.map((i) => replicas.replicaId(i)));
      const answer = await replicasAnswer(replicas.url(live[0] as number), live[0] as number);
      const holders = answer.replicas.filter((r) => r.leases.includes(lease));
      if (holders.length > 1)
        throw new Error(
          `lease ${lease} held by ${holders.length} replicas at once: ${JSON.stringify(answer)}`,
        );
      const holder = holders[0];
      if (holder === undefined) return undefined;
      const index = ids.get(holder.id);
      return { id: holder.id, index: index !== undefined && live.includes(index) ? index : undefined };
    },
    proxied() {
      return [...proxyCounts];
    },
    logs() {
      return slots.map((s) => `replica ${s.index} (${s.url ?? "not running"}):\n${s.log}`).join("\n");
    },
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all(slots.map((s) => replicas.kill(s.index)));
      await proxy?.close();
      await database.drop().catch(() => {});
      await Promise.all(slots.map((s) => rm(s.dataDir, { recursive: true, force: true })));
    },
  };

  function slotOf(i: number): Slot {
    const s = slots[i];
    if (s === undefined) throw new Error(`no replica ${i} (there are ${slots.length})`);
    return s;
  }

  try {
    for (let i = 0; i < count; i++) {
      slots.push({
        index: i,
        dataDir: await mkdtemp(join(tmpdir(), `ballast-replica${i}-`)),
        child: undefined,
        url: undefined,
        log: "",
        starts: 0,
      });
      proxyCounts.push(0);
    }
    // The first alone (it creates the schema), the others side by side.
    await start(slots[0] as Slot);
    await Promise.all(slots.slice(1).map((s) => start(s)));
    proxy = await startRoundRobinProxy(
      () => slots.map((s) => (s.url === undefined ? undefined : s.url)),
      (i) => (proxyCounts[i] = (proxyCounts[i] ?? 0) + 1),
    );
  } catch (error) {
    const logs = replicas.logs();
    await replicas.close();
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n${logs}`, { cause: error });
  }
  return replicas;
}

async function replicasAnswer(base: string, i: number): Promise<{ self: string; replicas: ReplicaLeases[] }> {
  const res = await get(`${base}/api/v1/replicas`);
  if (res.status === 404)
    throw new Error(
      `replica ${i} has no GET /api/v1/replicas (expected {replicas: [{id, leases: ["rollouts", …]}], self: id}; issue 9 wiring)`,
    );
  if (res.status !== 200) throw new Error(`replica ${i}: GET /api/v1/replicas: ${res.status} ${res.text}`);
  const body = JSON.parse(res.text) as { self?: unknown; replicas?: unknown };
  if (typeof body.self !== "string" || !Array.isArray(body.replicas))
    throw new Error(
      `replica ${i}: GET /api/v1/replicas: expected {replicas: [...], self: id}, got ${res.text}`,
    );
  return {
    self: body.self,
    replicas: (body.replicas as Array<{ id?: unknown; leases?: unknown }>).map((r) => ({
      id: String(r.id),
      leases: Array.isArray(r.leases) ? r.leases.map(String) : [],
    })),
  };
}

/** A GET with a bounded time; the body as text. */
export async function get(url: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
  return { status: res.status, text: await res.text() };
}

// ---------------------------------------------------------------------------------------------
// The proxy

export interface Proxy {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * A round-robin HTTP proxy: each request goes to the next running target (skipping those that
 * are undefined), request and response bodies streamed through. Every answer carries
 * `x-ballast-replica: <index>`. A target that cannot be reached or does not answer within
 * PROXY_TIMEOUT_MS gives 502/504 with a JSON error (no retry: a request may have had effects).
 */
export async function startRoundRobinProxy(
  targets: () => ReadonlyArray<string | undefined>,
  counted: (index: number) => void = () => {},
): Promise<Proxy> {
  let next = 0;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const fail = (res: http.ServerResponse, status: number, error: string) => {
    if (res.headersSent) return void res.destroy();
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify({ error, code: "proxy" }));
  };
  const server = http.createServer((req, res) => {
    const all = targets();
    let index = -1;
    for (let k = 0; k < all.length; k++) {
      const i = (next + k) % all.length;
      if (all[i] !== undefined) {
        index = i;
        break;
      }
    }
    if (index < 0) {
      req.resume();
      return fail(res, 503, "no replica is running");
    }
    next = index + 1;
    counted(index);
    const target = new URL(all[index] as string);
    const upstream = http.request(
      {
        agent,
        hostname: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: target.host },
        timeout: PROXY_TIMEOUT_MS,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, { ...answer.headers, "x-ballast-replica": String(index) });
        answer.pipe(res);
        answer.on("error", () => res.destroy());
      },
    );
    upstream.on("timeout", () => upstream.destroy(new Error(`timeout`)));
    upstream.on("error", (error) =>
      fail(
        res,
        error.message === "timeout" ? 504 : 502,
        `replica ${index}: ${error.message === "timeout" ? `no answer within ${PROXY_TIMEOUT_MS} ms` : error.message}`,
      ),
    );
    req.on("error", () => upstream.destroy());
    res.on("close", () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  });
  server.requestTimeout = PROXY_TIMEOUT_MS + 5_000;
  server.headersTimeout = 10_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        agent.destroy();
        server.close(() => resolve());
      }),
  };
}

// ---------------------------------------------------------------------------------------------
// Traffic

export interface TrafficStats {
  /** Answers by HTTP status ("502", "200", …; "error" when no answer came). */
  readonly statuses: Record<string, number>;
  /** Successful answers by `model_version`. */
  readonly versions: Record<string, number>;
  /** Answers by the replica the proxy chose (x-ballast-replica). */
  readonly replicas: Record<string, number>;
  readonly sent: number;
}

/**
 * Sends OIP inference requests to `${base}/v2/models/${deployment}/infer` from `workers`
 * loops, each pausing `pauseMs` between requests, until stopped; stop() resolves with what came
 * back. Every request is bounded (5 s).
 */
export function startTraffic(
  base: string,
  deployment: string,
  body: unknown,
  options: { workers?: number; pauseMs?: number } = {},
): { snapshot(): TrafficStats; stop(): Promise<TrafficStats> } {
  const statuses: Record<string, number> = {};
  const versions: Record<string, number> = {};
  const replicas: Record<string, number> = {};
  let sent = 0;
  let stopped = false;
  const bump = (m: Record<string, number>, k: string) => (m[k] = (m[k] ?? 0) + 1);
  const loop = async () => {
    while (!stopped) {
      sent++;
      try {
        const res = await fetch(`${base}/v2/models/${encodeURIComponent(deployment)}/infer`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(5_000),
        });
        const text = await res.text();
        bump(statuses, String(res.status));
        bump(replicas, res.headers.get("x-ballast-replica") ?? "direct");
        if (res.status === 200) {
          const version = (JSON.parse(text) as { model_version?: string }).model_version;
          bump(versions, version ?? "unknown");
        }
      } catch {
        bump(statuses, "error");
      }
      await sleep(options.pauseMs ?? 25);
    }
  };
  const loops = Array.from({ length: options.workers ?? 2 }, () => loop());
  const snapshot = (): TrafficStats => ({
    statuses: { ...statuses },
    versions: { ...versions },
    replicas: { ...replicas },
    sent,
  });
  return {
    snapshot,
    async stop() {
      stopped = true;
      await Promise.all(loops);
      return snapshot();
    },
  };
}
