/**
 * One load run with autocannon: a fixed number of keep-alive connections, each sending the
 * next request as soon as the previous answer arrives, for a fixed time. Latencies are kept
 * per response at autocannon's hrtime resolution (its own histogram rounds to whole
 * milliseconds, too coarse for a p99 ratio at a few milliseconds).
 */
import { performance } from "node:perf_hooks";
import autocannon from "autocannon";

export interface LoadOptions {
  readonly url: string;
  readonly body: string;
  readonly connections: number;
  readonly seconds: number;
}

export interface LoadRun {
  /** Wall time from start to the last answer counted. */
  readonly seconds: number;
  /** 2xx responses. */
  readonly completed: number;
  /** Latency of each 2xx response, in milliseconds, in arrival order. */
  readonly latenciesMs: Float64Array;
  readonly errors: number;
  readonly timeouts: number;
  readonly non2xx: number;
}

export function runLoad(options: LoadOptions): Promise<LoadRun> {
  const latencies: number[] = [];
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: options.url,
        method: "POST",
        headers: { "content-type": "application/json" },
        body: options.body,
        connections: options.connections,
        pipelining: 1,
        duration: options.seconds,
        timeout: 10,
      },
      (error, result) => {
        if (error !== null) {
          reject(error);
          return;
        }
        resolve({
          seconds: (performance.now() - started) / 1000,
          completed: result["2xx"],
          latenciesMs: Float64Array.from(latencies),
          errors: result.errors,
          timeouts: result.timeouts,
          non2xx: result.non2xx,
        });
      },
    );
    instance.on("response", (_client, statusCode, _bytes, responseTimeMs) => {
      if (statusCode >= 200 && statusCode < 300) latencies.push(responseTimeMs);
    });
  });
}
