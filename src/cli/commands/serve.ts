/**
 * `ballast serve`: opens the store, registers and deploys any `--model name=path` in one step
 * (TorchServe's `--models name=file` is the precedent; what it may change is in model-flag.ts),
 * and serves until SIGINT/SIGTERM.
 */
import { join, resolve } from "node:path";
import type { Command } from "commander";
import { openBallast } from "../../ballast.js";
import { applyModelFlag } from "../model-flag.js";
import { invalid, unavailable } from "../../domain/errors.js";
import { buildApp, DEFAULT_BODY_LIMIT } from "../../server/app.js";
import { parseDuration } from "../../domain/duration.js";
import { parsePort, collect } from "../options.js";
import { folderSource, gitSource } from "../../resources/source-sync.js";

export interface ServeOptions {
  port: string;
  host: string;
  dataDir: string;
  store?: string;
  model: string[];
  bodyLimit: string;
  retention?: string;
  logBuffer: string;
  quiet?: boolean;
  token?: string;
  watch?: string;
  git?: string;
  branch: string;
  gitPath?: string;
  syncInterval: string;
  checkpointInterval: string;
  publicUrl?: string;
}

export function register(program: Command): void {
  program
    .command("serve")
    .description("Serve deployed models over the Open Inference Protocol v2 (and /v1 named features)")
    .option("-p, --port <port>", "port to listen on", "8080")
    .option("--host <host>", "address to bind", "127.0.0.1")
    .option(
      "--data-dir <dir>",
      "where the SQLite store and artifacts live",
      process.env.BALLAST_DATA_DIR ?? "./.ballast",
    )
    .option(
      "--store <url>",
      "postgres://user@host:5432/db to keep state in PostgreSQL (default: SQLite in --data-dir)",
      process.env.BALLAST_STORE,
    )
    .option(
      "-m, --model <name=path>",
      "register the file as a version of <name>; deploy it as <name> unless that deployment exists and was changed since (repeatable)",
      collect,
      [],
    )
    .option("--body-limit <bytes>", "largest request body accepted", String(DEFAULT_BODY_LIMIT))
    .option(
      "--retention <duration>",
      "delete prediction-log rows and feedback older than this (e.g. 30d, 12h); default keeps all",
    )
    .option(
      "--log-buffer <rows>",
      "prediction-log rows held in memory before new ones are dropped (and counted)",
      "50000",
    )
    .option("-q, --quiet", "do not log each request")
    .option(
      "--token <token>",
      "require this API token (Authorization: Bearer) for changes through /api/v1",
      process.env.BALLAST_TOKEN,
    )
    .option("--watch <dir>", "apply the manifests in this folder, and keep applying them as they change")
    .option("--git <repo>", "apply the manifests of this git repository (URL or path), pulled on an interval")
    .option("--branch <branch>", "the branch --git follows", "main")
    .option("--git-path <dir>", "the folder inside the repository that holds the manifests")
    .option("--sync-interval <duration>", "how often --watch / --git are read again", "30s")
    .option(
      "--checkpoint-interval <duration>",
      "how often open monitor windows and alert states are saved (what a crash can lose)",
      "30s",
    )
    .option("--public-url <url>", "this server's address as alert receivers reach it (links in alerts)")
    .action(async (options: ServeOptions) => {
      await serve(options);
    });
}

export async function serve(options: ServeOptions): Promise<void> {
  const port = parsePort(options.port);
  const bodyLimit = Number(options.bodyLimit);
  if (!Number.isSafeInteger(bodyLimit) || bodyLimit < 1024)
    throw invalid("--body-limit must be a number of bytes ≥ 1024");
  const capacity = Number(options.logBuffer);
  if (!Number.isSafeInteger(capacity) || capacity < 1)
    throw invalid("--log-buffer must be a positive integer");
  const quickModels = options.model.map(parseModelOption);
  if (options.watch !== undefined && options.git !== undefined)
    throw invalid("give --watch or --git, not both");
  const intervalMs = parseDuration(options.syncInterval, "--sync-interval");
  const checkpointMs = parseDuration(options.checkpointInterval, "--checkpoint-interval");
  if (checkpointMs < 1000) throw invalid("--checkpoint-interval must be at least 1s");
  if (intervalMs < 1000) throw invalid("--sync-interval must be at least 1s");
  const watch =
    options.watch !== undefined
      ? folderSource(options.watch)
      : options.git !== undefined
        ? gitSource({
            repo: options.git,
            branch: options.branch,
            workDir: join(resolve(options.dataDir), "git"),
            ...(options.gitPath === undefined ? {} : { path: options.gitPath }),
          })
        : undefined;

  const ballast = await openBallast({
    dataDir: options.dataDir,
    storeUrl: options.store,
    retentionMs:
      options.retention === undefined ? undefined : parseDuration(options.retention, "--retention"),
    predictionLog: { capacity },
    ...(watch === undefined ? {} : { source: watch }),
    checkpointMs: checkpointMs,
    ...(options.publicUrl === undefined ? {} : { publicUrl: options.publicUrl }),
  });
  try {
    for (const m of quickModels) {
      const leftAlone = await applyModelFlag(ballast, m.name, m.path);
      if (leftAlone !== null) process.stderr.write(`ballast: ${leftAlone}\n`);
    }
    // The watched source after the --model versions exist, since its manifests may name them.
    if (ballast.sourceSync !== undefined) {
      await ballast.sourceSync.sync();
      const { lastError, location } = ballast.sourceSync.status();
      if (lastError !== null)
        process.stderr.write(`ballast: nothing applied from ${location}: ${lastError}\n`);
      ballast.sourceSync.start(intervalMs);
    }
    const problems = await ballast.endpoints.sync();
    for (const p of problems)
      process.stderr.write(`ballast: deployment ${p.deployment} is not serving: ${p.error}\n`);
  } catch (error) {
    await ballast.close();
    throw error;
  }

  const app = await buildApp(ballast, {
    bodyLimit,
    logger: options.quiet !== true,
    ...(options.token === undefined ? {} : { apiToken: options.token }),
  });
  let where: string;
  try {
    where = await app.listen({ port, host: options.host });
  } catch (error) {
    await app.close();
    await ballast.close();
    const code = error instanceof Error && "code" in error ? error.code : undefined;
    if (code === "EADDRINUSE") {
      throw unavailable(
        `port ${port} on ${options.host} is already in use; stop what holds it or pass --port`,
      );
    }
    if (code === "EADDRNOTAVAIL" || code === "ENOTFOUND") {
      throw invalid(`--host ${options.host} is not an address of this machine`);
    }
    throw error;
  }
  const served = ballast.endpoints.list().map((d) => d.deployment.name);
  process.stderr.write(
    `ballast: serving ${served.length === 0 ? "no deployments yet" : served.join(", ")} at ${where} ` +
      `(store: ${ballast.store.dialect}, data: ${resolve(options.dataDir)})\n`,
  );

  const stop = async (signal: string) => {
    process.stderr.write(
      `ballast: ${signal}: finishing in-flight requests and flushing the prediction log\n`,
    );
    await app.close();
    await ballast.close();
    process.exit(0);
  };
  process.once("SIGINT", () => void stop("SIGINT"));
  process.once("SIGTERM", () => void stop("SIGTERM"));
}

function parseModelOption(raw: string): { name: string; path: string } {
  const cut = raw.indexOf("=");
  if (cut <= 0 || cut === raw.length - 1) {
    throw invalid(`--model expects name=path (e.g. --model fraud=model.onnx), got '${raw}'`);
  }
  return { name: raw.slice(0, cut), path: resolve(raw.slice(cut + 1)) };
}
