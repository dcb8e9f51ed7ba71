/**
 * Prediction-log write throughput on its own: N rows shaped like the ones the server logs for
 * a one-row mlp request go through PredictionLog (batches of its default size) into a fresh
 * SQLite file, either through the writer thread Ballast uses or through Kysely on the serving
 * thread, and the rows are counted back afterwards.
 */
import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { openStore } from "../src/store/db.js";
import { PredictionStore } from "../src/serving/prediction-store.js";
import { SqlitePredictionWriter } from "../src/store/sqlite-prediction-writer.js";
import {
  DEFAULT_PREDICTION_LOG,
  PredictionLog,
  type PredictionLogStats,
} from "../src/serving/prediction-log.js";
import type { PredictionRecord, PredictionSink } from "../src/domain/prediction.js";
import { DEPLOYMENT, FEATURES, OUTPUT_NAME } from "./mlp-fixture.js";

export interface LogWriteFigures {
  readonly via: "worker" | "store";
  readonly rows: number;
  readonly batchSize: number;
  readonly seconds: number;
  readonly rowsPerSecond: number;
  /** CPU time of all threads of this process per row (user + system), in microseconds. */
  readonly cpuMicrosPerRow: number;
  /** Event-loop delay while writing (what a request arriving then would wait), in milliseconds. */
  readonly loopDelayP99Ms: number;
  readonly loopDelayMaxMs: number;
  /** Rows found in the table afterwards. */
  readonly stored: number;
  readonly stats: PredictionLogStats;
}

function record(i: number, now: number): PredictionRecord {
  const data = Array.from({ length: FEATURES }, (_, j) => Math.sin(i * 7 + j));
  return {
    requestId: randomUUID(),
    deployment: DEPLOYMENT,
    model: DEPLOYMENT,
    modelVersion: 1,
    variant: "stable",
    inputs: { tensors: [{ name: "input", datatype: "FP32", shape: [1, FEATURES], data }] },
    outputs: [
      {
        name: OUTPUT_NAME,
        datatype: "FP32",
        shape: [1, 1],
        data: [1 / (1 + Math.exp(-(data[0] as number)))],
      },
    ],
    latencyMs: 0.1 + (i % 50) / 100,
    createdAt: now + i,
  };
}

/**
 * `worker` is what Ballast uses on SQLite (inserts on a thread of their own); `store` is the
 * same batches through Kysely on the serving thread, the baseline it replaced.
 */
export async function measurePredictionLogWrites(
  dataDir: string,
  rows: number,
  via: "worker" | "store",
): Promise<LogWriteFigures> {
  const store = await openStore({ dataDir });
  const writer = via === "worker" ? new SqlitePredictionWriter(store.sqliteFile as string) : undefined;
  try {
    const sink: PredictionSink = writer ?? new PredictionStore(store.db);
    // Room for every row, in count and in bytes (the default byte bound, 64 MiB, holds about
    // 65k of these rows), so what is measured is writing, not the overflow policy.
    const log = new PredictionLog(sink, {
      ...DEFAULT_PREDICTION_LOG,
      capacity: rows,
      capacityBytes: Number.POSITIVE_INFINITY,
    });
    // Built beforehand so the timing covers the log and the store, not making test data.
    const now = Date.now();
    const records = Array.from({ length: rows }, (_, i) => record(i, now));
    // How long the serving thread's event loop is held up: what requests would wait.
    const stalls = stallProbe();
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    for (const r of records) log.record(r);
    await log.flush();
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const gaps = await stalls.stop();
    const counted = await store.db
      .selectFrom("predictions")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .executeTakeFirstOrThrow();
    return {
      via,
      rows,
      batchSize: DEFAULT_PREDICTION_LOG.batchSize,
      seconds,
      rowsPerSecond: rows / seconds,
      cpuMicrosPerRow: (cpu.user + cpu.system) / rows,
      loopDelayP99Ms: percentile(gaps, 0.99),
      loopDelayMaxMs: Math.max(0, ...gaps),
      stored: Number(counted.n),
      stats: log.stats(),
    };
  } finally {
    await writer?.close();
    await store.close();
  }
}

/**
 * A 1 ms timer that records how late each tick comes: a synchronous write that holds the event
 * loop shows up as one long gap (monitorEventLoopDelay would miss a stall that ends the run).
 */
function stallProbe(): { stop(): Promise<number[]> } {
  const gaps: number[] = [];
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    gaps.push(Math.max(0, now - last - 1));
    last = now;
  }, 1);
  return {
    async stop() {
      await new Promise((resolve) => setTimeout(resolve, 5));
      clearInterval(timer);
      return gaps;
    },
  };
}

function percentile(values: number[], q: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}
