/**
 * `ballast serve`: opens the store, registers and deploys any `--model name=path` in one step
 * (TorchServe's `--models name=file` is the precedent; what it may change is in model-flag.ts),
 * and serves until SIGINT/SIGTERM.
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Command } from "commander";
import { invalid, unavailable } from "../../domain/errors.js";
import {
  DEFAULT_BODY_LIMIT,
  DEFAULT_FEEDBACK_RATE,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_TIMEOUTS,
} from "../../server/limits.js";
import { DEFAULT_PREDICTION_LOG } from "../../serving/prediction-log.js";
import { parseDuration } from "../../domain/duration.js";
import { parsePort, parsePositiveInt, collect } from "../options.js";
import { parseTokenFile, plainToken, type ApiToken } from "../../server/tokens.js";
import { parseAllowList } from "../../domain/remote-access.js";
import { parseQueueUrl } from "../../pipelines/queue/queue-url.js";
import { DEFAULT_SECRETS_DIR, DEFAULT_SECRET_ENV, secretAccessOf } from "../../domain/secret-access.js";

export interface ServeOptions {
  port: string;
  host: string;
  dataDir: string;
  store?: string;
  model: string[];
  bodyLimit: string;
  requestTimeout: string;
  maxConnections: string;
  feedbackRate: string;
  retention?: string;
  logBuffer: string;
  logBufferBytes: string;
  quiet?: boolean;
  token?: string;
  tokenFile?: string;
  inferenceToken?: string;
  watch?: string;
  git?: string;
  branch: string;
  gitPath?: string;
  syncInterval: string;
  checkpointInterval: string;
  publicUrl?: string;
  allowRemote?: string;
  secretsDir?: string;
  secretEnv?: string;
  queue?: string;
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
      "--request-timeout <duration>",
      "a request (headers and body, uploads too) must arrive within this; 0 = no limit",
      `${DEFAULT_TIMEOUTS.requestMs / 1000}s`,
    )
    .option(
      "--max-connections <n>",
      "connections open at once; more are closed on arrival (and counted)",
      String(DEFAULT_MAX_CONNECTIONS),
    )
    .option(
      "--feedback-rate <items>",
      "feedback items a second per client (token or address) on /v1/feedback; 0 = no limit",
      String(DEFAULT_FEEDBACK_RATE),
    )
    .option(
      "--retention <duration>",
      "delete prediction-log rows and feedback older than this (e.g. 30d, 12h); default keeps all",
    )
    .option(
      "--log-buffer <rows>",
      "prediction-log rows held in memory before new ones are dropped (and counted)",
      "50000",
    )
    .option(
      "--log-buffer-bytes <bytes>",
      "estimated bytes of prediction-log rows held in memory before new ones are dropped (and counted)",
      String(DEFAULT_PREDICTION_LOG.capacityBytes),
    )
    .option("-q, --quiet", "do not log each request")
    .option(
      "--token <token>",
      "an admin API token (Authorization: Bearer); with any token set, every /api/v1 route needs one",
      process.env.BALLAST_TOKEN,
    )
    .option(
      "--token-file <file>",
      "YAML list of {name, role: viewer|operator|admin|inference, sha256} (`ballast token hash` prints the sha256)",
      process.env.BALLAST_TOKEN_FILE,
    )
    .option(
      "--inference-token <token>",
      "close inference (/v2/models, /v1/models) to clients without this token or an operator/admin one",
      process.env.BALLAST_INFERENCE_TOKEN,
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
    .option(
      "--allow-remote <hosts>",
      "host[:port],… that remote models and webhook/Slack/Alertmanager notifiers may point at (default: any)",
    )
    .option(
      "--secrets-dir <dir>",
      `the only directory notifiers' {file: …} secret references may read (relative paths are inside it; default: ${DEFAULT_SECRETS_DIR})`,
      process.env.BALLAST_SECRETS_DIR,
    )
    .option(
      "--secret-env <names>",
      `NAME,PREFIX*,… environment variables notifiers' {env: …} secret references may read ('' for none; default: ${DEFAULT_SECRET_ENV.join(",")}); other BALLAST_* (the server's own: BALLAST_TOKEN, …) and PG* never`,
      process.env.BALLAST_SECRET_ENV,
    )
    .option(
      "--queue <url>",
      "hand pipeline steps to `ballast worker`s through BullMQ: redis://host:port or postgres://… (?queue=NAME); default: run them here",
      process.env.BALLAST_QUEUE,
    )
    .action(async (options: ServeOptions) => {
      await serve(options);
    });
}

export async function serve(options: ServeOptions): Promise<void> {
  // Loaded here, not at the top: every other command starts without the server's modules.
  const [{ openBallast }, { buildApp }, { applyModelFlag }, { folderSource, gitSource }] = await Promise.all([
    import("../../ballast.js"),
    import("../../server/app.js"),
    import("../model-flag.js"),
    import("../../resources/source-sync.js"),
  ]);
  const port = parsePort(options.port);
  const bodyLimit = Number(options.bodyLimit);
  if (!Number.isSafeInteger(bodyLimit) || bodyLimit < 1024)
    throw invalid("--body-limit must be a number of bytes ≥ 1024");
  const requestMs =
    options.requestTimeout === "0" ? 0 : parseDuration(options.requestTimeout, "--request-timeout");
  if (requestMs !== 0 && requestMs < 1000) throw invalid("--request-timeout must be at least 1s (or 0)");
  const maxConnections = parsePositiveInt(options.maxConnections, "--max-connections");
  const feedbackRate = Number(options.feedbackRate);
  if (!/^[0-9]+$/.test(options.feedbackRate) || !Number.isSafeInteger(feedbackRate))
    throw invalid(
      `--feedback-rate must be a whole number of items a second (0 = no limit), got '${options.feedbackRate}'`,
    );
  const capacity = Number(options.logBuffer);
  if (!Number.isSafeInteger(capacity) || capacity < 1)
    throw invalid("--log-buffer must be a positive integer");
  const capacityBytes = Number(options.logBufferBytes);
  if (!Number.isSafeInteger(capacityBytes) || capacityBytes < 1024 * 1024)
    throw invalid("--log-buffer-bytes must be a number of bytes ≥ 1048576");
  const quickModels = options.model.map(parseModelOption);
  const tokens = tokensOf(options);
  if (options.watch !== undefined && options.git !== undefined)
    throw invalid("give --watch or --git, not both");
  const intervalMs = parseDuration(options.syncInterval, "--sync-interval");
  const checkpointMs = parseDuration(options.checkpointInterval, "--checkpoint-interval");
  if (checkpointMs < 1000) throw invalid("--checkpoint-interval must be at least 1s");
  if (intervalMs < 1000) throw invalid("--sync-interval must be at least 1s");
  const remoteAccess = options.allowRemote === undefined ? undefined : parseAllowList(options.allowRemote);
  const secretAccess = secretAccessOf({ dir: options.secretsDir, env: options.secretEnv });
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

  // Checked before anything opens, so a mistyped URL is one line naming --queue.
  const queue = options.queue === undefined || options.queue === "" ? undefined : options.queue;
  if (queue !== undefined) parseQueueUrl(queue);
  const ballast = await openBallast({
    dataDir: options.dataDir,
    storeUrl: options.store,
    retentionMs:
      options.retention === undefined ? undefined : parseDuration(options.retention, "--retention"),
    predictionLog: { capacity, capacityBytes },
    ...(watch === undefined ? {} : { source: watch }),
    checkpointMs: checkpointMs,
    ...(options.publicUrl === undefined ? {} : { publicUrl: options.publicUrl }),
    ...(remoteAccess === undefined ? {} : { remoteAccess }),
    secretAccess,
    ...(queue === undefined ? {} : { queue }),
  });
  try {
    for (const m of quickModels) {
      const leftAlone = await applyModelFlag(ballast, m.name, m.path);
      if (leftAlone !== null) process.stderr.write(`ballast: ${leftAlone}\n`);
    }
    // The watched source after the --model versions exist, since its manifests may name them.
    if (ballast.sourceSync !== undefined) {
      await ballast.sourceSync.sync();
      const { lastError, location, skipped } = ballast.sourceSync.status();
      if (lastError !== null)
        process.stderr.write(`ballast: nothing applied from ${location}: ${lastError}\n`);
      for (const s of skipped)
        process.stderr.write(`ballast: not read from ${location}: ${s.file}: ${s.reason}\n`);
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
    timeouts: {
      requestMs,
      // Headers come first, so they cannot be given longer than the whole request.
      headersMs:
        requestMs === 0 ? DEFAULT_TIMEOUTS.headersMs : Math.min(DEFAULT_TIMEOUTS.headersMs, requestMs),
    },
    maxConnections,
    feedbackRate,
    logger: options.quiet !== true,
    ...(options.token === undefined ? {} : { apiToken: options.token }),
    tokens,
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
    const log = ballast.predictionLog.stats();
    if (log.unflushed > 0) {
      process.stderr.write(
        `ballast: ${log.unflushed} prediction-log rows could not be written before shutdown` +
          ` (last error: ${log.lastError ?? "none"})\n`,
      );
    }
    process.exit(0);
  };
  process.once("SIGINT", () => void stop("SIGINT"));
  process.once("SIGTERM", () => void stop("SIGTERM"));
}

/** The role tokens of --token-file and --inference-token (--token is passed on as the admin token). */
function tokensOf(options: ServeOptions): ApiToken[] {
  const tokens: ApiToken[] = [];
  if (options.tokenFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(options.tokenFile, "utf8");
    } catch (error) {
      throw invalid(
        `--token-file ${options.tokenFile}: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    tokens.push(...parseTokenFile(text, options.tokenFile));
  }
  if (options.inferenceToken !== undefined && options.inferenceToken !== "")
    tokens.push(plainToken("--inference-token", "inference", options.inferenceToken));
  return tokens;
}

function parseModelOption(raw: string): { name: string; path: string } {
  const cut = raw.indexOf("=");
  if (cut <= 0 || cut === raw.length - 1) {
    throw invalid(`--model expects name=path (e.g. --model fraud=model.onnx), got '${raw}'`);
  }
  return { name: raw.slice(0, cut), path: resolve(raw.slice(cut + 1)) };
}
