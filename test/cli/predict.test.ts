import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parse } from "csv-parse/sync";
import { Command } from "commander";
import { register, runPredict, type PredictIo, type PredictOptions } from "../../src/cli/commands/predict.js";
import { BallastError } from "../../src/domain/errors.js";
import { scratchDir } from "../helpers/scratch.js";

/**
 * A stand-in for `ballast serve`: model metadata and the named-feature endpoint, nothing else.
 * `holdUntil` keeps answers back until that many requests wait (or all expected requests have
 * arrived) and then answers them newest first, so the client's ordering is tested without timers.
 */
interface FakeModel {
  readonly features?: string[];
  /** Answer {probability, label} per row instead of one number. */
  readonly multiOutput?: boolean;
}

interface FakeServerOptions {
  readonly models: Record<string, FakeModel>;
  readonly holdUntil?: number;
  readonly expectedRequests?: number;
  /** Answers the wrong number of predictions. */
  readonly dropOne?: boolean;
}

interface FakeServer {
  readonly url: string;
  /** Bodies of the predict calls, in arrival order. */
  readonly predictBodies: Array<{ instances: unknown[] }>;
  maxWaiting: number;
  close(): Promise<void>;
}

async function startFakeServer(options: FakeServerOptions): Promise<FakeServer> {
  const waiting: Array<() => void> = [];
  let received = 0;
  const state: FakeServer = {
    url: "",
    predictBodies: [],
    maxWaiting: 0,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const send = (res: ServerResponse, status: number, body: unknown, requestId?: string): void => {
    res.writeHead(status, {
      "content-type": "application/json",
      ...(requestId ? { "x-request-id": requestId } : {}),
    });
    res.end(JSON.stringify(body));
  };
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = req.url ?? "";
    const meta = /^\/v2\/models\/([^/]+)$/.exec(url);
    if (req.method === "GET" && meta) {
      const name = decodeURIComponent(meta[1] ?? "");
      const model = options.models[name];
      if (model === undefined) return send(res, 404, { error: `deployment '${name}' not found` });
      return send(res, 200, {
        name,
        versions: ["3"],
        platform: "ballast_builtin",
        inputs: [],
        outputs: [],
        ...(model.features ? { parameters: { features: model.features } } : {}),
      });
    }
    const predict = /^\/v1\/models\/([^/]+):predict$/.exec(url);
    if (req.method === "POST" && predict) {
      const name = decodeURIComponent(predict[1] ?? "");
      const model = options.models[name];
      if (model === undefined) return send(res, 404, { error: `deployment '${name}' not found` });
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { instances: unknown[] };
      state.predictBodies.push(body);
      received++;
      const requestId = `req-${received}`;
      const amounts = body.instances.map((r) =>
        Array.isArray(r) ? Number(r[0]) : Number((r as { amount: unknown }).amount),
      );
      const bad = amounts.findIndex((a) => a < 0);
      const reply =
        bad >= 0
          ? () => send(res, 400, { error: `instances[${bad}].amount must be >= 0` }, requestId)
          : () => {
              const predictions = amounts.map((a) =>
                model.multiOutput ? { probability: a / 1000, label: a > 500 ? 1 : 0 } : a * 2,
              );
              if (options.dropOne === true) predictions.pop();
              // Like `ballast serve`: the request id both as a header and in the body.
              send(
                res,
                200,
                { predictions, model_name: name, model_version: "3", request_id: requestId },
                requestId,
              );
            };
      if (options.holdUntil === undefined) return reply();
      waiting.push(reply);
      state.maxWaiting = Math.max(state.maxWaiting, waiting.length);
      if (waiting.length >= options.holdUntil || received === options.expectedRequests) {
        for (const answer of waiting.splice(0).reverse()) answer();
      }
      return;
    }
    send(res, 404, { error: `no route for ${req.method} ${url}` });
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => send(res, 500, { error: String(error) }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return Object.assign(state, { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
}

interface Captured {
  readonly io: PredictIo;
  stdout(): string;
  stderr(): string;
}

function capture(options: { tty?: boolean; times?: number[] } = {}): Captured {
  const out: string[] = [];
  const err: string[] = [];
  const times = [...(options.times ?? [0, 0])];
  return {
    io: {
      stdout: { write: (text: string) => (out.push(text), true), once: () => undefined },
      stderr: { write: (text: string) => (err.push(text), true), isTTY: options.tty ?? false },
      clock: { now: () => times.shift() ?? 0 },
    },
    stdout: () => out.join(""),
    stderr: () => err.join(""),
  };
}

async function rejection(run: Promise<unknown>): Promise<BallastError> {
  try {
    await run;
  } catch (error) {
    assert.ok(error instanceof BallastError, `expected a BallastError, got ${String(error)}`);
    return error;
  }
  assert.fail("expected the command to fail");
}

const scratch = scratchDir("ballast-predict-");
const file = scratch.file;

const FEATURES = ["amount", "hour", "night"];
/** Ten labelled rows with a column the model does not take (merchant_category) and the label. */
const WEEK_CSV = [
  "amount,hour,night,merchant_category,is_fraud",
  ...Array.from({ length: 10 }, (_, i) => `${(i + 1) * 100},${i + 1},${i < 5 ? 1 : 0},fuel,${i % 2}`),
].join("\n");

describe("ballast predict", () => {
  test("sends only the model's features, keeps file order under concurrency, and writes JSONL", async () => {
    // 10 rows in batches of 2 is 5 requests; the server answers each group of 3 newest first.
    const server = await startFakeServer({
      models: { fraud: { features: FEATURES } },
      holdUntil: 3,
      expectedRequests: 5,
    });
    try {
      const path = await file("week-1.csv", `${WEEK_CSV}\n`);
      const out = capture({ times: [1000, 3500] });
      const summary = await runPredict(
        { deployment: "fraud", file: path, server: server.url, batchSize: 2, concurrency: 3 },
        out.io,
      );
      assert.equal(server.maxWaiting, 3, "three requests were in flight at once");
      assert.equal(server.predictBodies.length, 5);
      assert.deepEqual(server.predictBodies[0], {
        instances: [
          { amount: 100, hour: 1, night: 1 },
          { amount: 200, hour: 2, night: 1 },
        ],
      });
      for (const body of server.predictBodies) {
        for (const instance of body.instances) assert.deepEqual(Object.keys(instance as object), FEATURES);
      }
      const lines = out
        .stdout()
        .trimEnd()
        .split("\n")
        .map((l) => JSON.parse(l) as unknown);
      assert.deepEqual(
        lines,
        Array.from({ length: 10 }, (_, i) => ({
          // The row within its request (batches of 2), which is what feedback's `row` means.
          row: i % 2,
          request_id: `req-${Math.floor(i / 2) + 1}`,
          model_version: "3",
          prediction: (i + 1) * 200,
        })),
      );
      assert.deepEqual(summary, { rows: 10, batches: 5, summary: "predicted 10 rows in 2.50 s (4 rows/s)" });
      assert.equal(out.stderr(), "predicted 10 rows in 2.50 s (4 rows/s)\n");
    } finally {
      await server.close();
    }
  });

  test("-o out.csv writes the input columns, one column per output, the request id and version", async () => {
    const server = await startFakeServer({ models: { fraud: { features: FEATURES, multiOutput: true } } });
    try {
      const path = await file("week-2.csv", `${WEEK_CSV}\n`);
      const output = join(scratch.dir, "scored.csv");
      await runPredict(
        { deployment: "fraud", file: path, server: server.url, batchSize: 4, output },
        capture().io,
      );
      const records = parse(await readFile(output, "utf8"), { columns: true }) as Array<
        Record<string, string>
      >;
      assert.equal(records.length, 10);
      assert.deepEqual(Object.keys(records[0] ?? {}), [
        "amount",
        "hour",
        "night",
        "merchant_category",
        "is_fraud",
        "prediction_probability",
        "prediction_label",
        "request_id",
        "row",
        "model_version",
      ]);
      assert.deepEqual(records[5], {
        amount: "600",
        hour: "6",
        night: "0",
        merchant_category: "fuel",
        is_fraud: "1",
        prediction_probability: "0.6",
        prediction_label: "1",
        request_id: "req-2",
        row: "1",
        model_version: "3",
      });
    } finally {
      await server.close();
    }
  });

  test("--keep carries input columns (a label) to each output line, beside request_id and row", async () => {
    const server = await startFakeServer({ models: { fraud: { features: FEATURES } } });
    try {
      const path = await file("keep.csv", `${WEEK_CSV}\n`);
      const out = capture();
      await runPredict(
        { deployment: "fraud", file: path, server: server.url, batchSize: 4, keep: ["is_fraud"] },
        out.io,
      );
      const lines = out
        .stdout()
        .trimEnd()
        .split("\n")
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.deepEqual(
        lines.map((l) => [l.request_id, l.row, typeof l.is_fraud]),
        Array.from({ length: 10 }, (_, i) => [`req-${Math.floor(i / 4) + 1}`, i % 4, "number"]),
      );
      assert.deepEqual(server.predictBodies[0]?.instances[0], { amount: 100, hour: 1, night: 1 });
      await assert.rejects(
        runPredict({ deployment: "fraud", file: path, server: server.url, keep: ["nope"] }, capture().io),
        /keep\.csv line 2: --keep column "nope" is missing/,
      );
    } finally {
      await server.close();
    }
  });

  test("JSONL rows: objects keep only the features, arrays go as they are", async () => {
    const server = await startFakeServer({ models: { fraud: { features: FEATURES } } });
    try {
      const path = await file(
        "mixed.jsonl",
        '{"night": 0, "amount": 5, "hour": 1, "extra": "x"}\n[7, 2, 1]\n',
      );
      const out = capture();
      await runPredict({ deployment: "fraud", file: path, server: server.url }, out.io);
      assert.deepEqual(server.predictBodies, [{ instances: [{ amount: 5, hour: 1, night: 0 }, [7, 2, 1]] }]);
      assert.deepEqual(
        out
          .stdout()
          .trimEnd()
          .split("\n")
          .map((l) => (JSON.parse(l) as { prediction: number }).prediction),
        [10, 14],
      );
    } finally {
      await server.close();
    }
  });

  test("a feature missing from the file is an error naming file and line, before any request", async () => {
    const server = await startFakeServer({ models: { fraud: { features: [...FEATURES, "online"] } } });
    try {
      const path = await file("no-online.csv", `${WEEK_CSV}\n`);
      const error = await rejection(
        runPredict({ deployment: "fraud", file: path, server: server.url }, capture().io),
      );
      assert.equal(error.code, "invalid_argument");
      assert.equal(
        error.message,
        'no-online.csv line 2: column "online" is missing; fraud needs amount, hour, night, online',
      );
      assert.equal(server.predictBodies.length, 0);
    } finally {
      await server.close();
    }
  });

  test("an empty feature cell and an array of the wrong length are errors naming the line", async () => {
    const server = await startFakeServer({ models: { fraud: { features: FEATURES } } });
    try {
      const empty = await file("empty.csv", "amount,hour,night\n1,2,0\n3,,0\n");
      const a = await rejection(
        runPredict({ deployment: "fraud", file: empty, server: server.url }, capture().io),
      );
      assert.equal(a.message, 'empty.csv line 3: column "hour" is empty');
      const short = await file("short.jsonl", "[1, 2, 0]\n[1, 2]\n");
      const b = await rejection(
        runPredict({ deployment: "fraud", file: short, server: server.url }, capture().io),
      );
      assert.equal(b.message, "short.jsonl line 2: expected 3 values (amount, hour, night), got 2");
    } finally {
      await server.close();
    }
  });

  test("without feature names in the metadata it asks for --columns, and --columns picks what is sent", async () => {
    const server = await startFakeServer({ models: { anon: {} } });
    try {
      const path = await file("anon.csv", `${WEEK_CSV}\n`);
      const error = await rejection(
        runPredict({ deployment: "anon", file: path, server: server.url }, capture().io),
      );
      assert.equal(error.code, "invalid_argument");
      assert.match(error.message, /anon does not list its feature names.*--columns/);
      await runPredict(
        { deployment: "anon", file: path, server: server.url, columns: ["hour", "amount"] },
        capture().io,
      );
      assert.deepEqual(server.predictBodies[0]?.instances[0], { hour: 1, amount: 100 });
    } finally {
      await server.close();
    }
  });

  test("a batch the server rejects fails the command with the server's message and the batch's lines", async () => {
    const server = await startFakeServer({ models: { fraud: { features: FEATURES } } });
    try {
      const path = await file("negative.csv", "amount,hour,night\n1,1,0\n2,1,0\n3,1,0\n-4,1,0\n");
      const error = await rejection(
        runPredict({ deployment: "fraud", file: path, server: server.url, batchSize: 2 }, capture().io),
      );
      assert.equal(error.code, "invalid_argument");
      assert.equal(error.message, "negative.csv lines 4-5: instances[1].amount must be >= 0");
    } finally {
      await server.close();
    }
  });

  test("a server that answers the wrong number of predictions is an upstream error", async () => {
    const server = await startFakeServer({ models: { fraud: { features: FEATURES } }, dropOne: true });
    try {
      const path = await file("drop.csv", `${WEEK_CSV}\n`);
      const error = await rejection(
        runPredict({ deployment: "fraud", file: path, server: server.url }, capture().io),
      );
      assert.equal(error.code, "upstream");
      assert.match(error.message, /drop\.csv lines 2-11: the server answered 9 predictions for 10 rows/);
    } finally {
      await server.close();
    }
  });

  test("an unknown deployment is not_found; a server that is down is unavailable", async () => {
    const server = await startFakeServer({ models: {} });
    const path = await file("any.csv", `${WEEK_CSV}\n`);
    const missing = await rejection(
      runPredict({ deployment: "ghost", file: path, server: server.url }, capture().io),
    );
    assert.equal(missing.code, "not_found");
    assert.equal(missing.message, "deployment 'ghost' not found");
    await server.close();
    const down = await rejection(
      runPredict({ deployment: "ghost", file: path, server: server.url }, capture().io),
    );
    assert.equal(down.code, "unavailable");
    assert.match(down.message, /cannot reach/);
  });

  test("rejects a batch size or concurrency below 1", async () => {
    const base: PredictOptions = { deployment: "fraud", file: "x.csv", server: "http://127.0.0.1:1" };
    assert.match(
      (await rejection(runPredict({ ...base, batchSize: 0 }, capture().io))).message,
      /--batch-size/,
    );
    assert.match(
      (await rejection(runPredict({ ...base, concurrency: 0 }, capture().io))).message,
      /--concurrency/,
    );
  });

  test("stops quietly when the reader of stdout goes away (EPIPE, as with `| head`)", async () => {
    const server = await startFakeServer({ models: { fraud: { features: FEATURES } } });
    try {
      const path = await file("pipe.csv", `${WEEK_CSV}\n`);
      const err: string[] = [];
      let onError: ((error: Error) => void) | undefined;
      let writes = 0;
      const io: PredictIo = {
        stdout: {
          write: () => {
            writes++;
            onError?.(Object.assign(new Error("write EPIPE"), { code: "EPIPE" }));
            return true;
          },
          once: () => undefined,
          on: (_event, listener) => (onError = listener),
          off: () => (onError = undefined),
        },
        stderr: { write: (text: string) => (err.push(text), true) },
      };
      const summary = await runPredict(
        { deployment: "fraud", file: path, server: server.url, batchSize: 2, concurrency: 1 },
        io,
      );
      assert.equal(writes, 1);
      assert.equal(summary.rows, 2);
      assert.ok(server.predictBodies.length < 5, `${server.predictBodies.length} batches sent`);
      assert.equal(onError, undefined, "the error listener is removed at the end");
      assert.match(err.join(""), /^predicted 2 rows in /);
    } finally {
      await server.close();
    }
  });

  test("on a TTY it draws a progress bar on stderr and still ends with the summary", async () => {
    const server = await startFakeServer({ models: { fraud: { features: FEATURES } } });
    try {
      const path = await file("tty.csv", `${WEEK_CSV}\n`);
      const out = capture({ tty: true });
      await runPredict({ deployment: "fraud", file: path, server: server.url, batchSize: 3 }, out.io);
      const err = out.stderr();
      assert.match(err, /\/10 rows/, "the bar shows the counted total");
      assert.ok(err.endsWith("predicted 10 rows in 0.00 s (-- rows/s)\n"), err);
      assert.equal(out.stdout().trimEnd().split("\n").length, 10);
    } finally {
      await server.close();
    }
  });
});

describe("the predict command line", () => {
  test("flags reach the command: --batch-size, --columns, --format, -o", async () => {
    const server = await startFakeServer({ models: { fraud: { features: FEATURES } } });
    try {
      const path = await file(
        "rows.txt",
        '{"amount": 1, "hour": 2, "night": 0}\n{"amount": 3, "hour": 4, "night": 1}\n',
      );
      const output = join(scratch.dir, "cli-out.jsonl");
      const program = new Command("ballast").exitOverride();
      register(program);
      // The summary line goes to the real stderr here; that is the command's contract.
      await program.parseAsync(
        [
          "predict",
          "fraud",
          "-f",
          path,
          "--server",
          server.url,
          "--format",
          "jsonl",
          "--batch-size",
          "1",
          "--columns",
          "amount, hour",
          "-o",
          output,
        ],
        { from: "user" },
      );
      assert.deepEqual(server.predictBodies, [
        { instances: [{ amount: 1, hour: 2 }] },
        { instances: [{ amount: 3, hour: 4 }] },
      ]);
      const written = (await readFile(output, "utf8")).trimEnd().split("\n");
      assert.deepEqual(
        written.map((l) => JSON.parse(l) as unknown),
        [
          { row: 0, request_id: "req-1", model_version: "3", prediction: 2 },
          { row: 0, request_id: "req-2", model_version: "3", prediction: 6 },
        ],
      );
    } finally {
      await server.close();
    }
  });

  test("a non-numeric --batch-size or --concurrency is an invalid_argument error naming the flag", async () => {
    for (const flag of ["--batch-size", "--concurrency"]) {
      const program = new Command("ballast").exitOverride();
      register(program);
      const error = await rejection(
        program.parseAsync(["predict", "fraud", "-f", "x.csv", flag, "many"], { from: "user" }),
      );
      assert.equal(error.code, "invalid_argument");
      assert.equal(error.message, `${flag} must be a positive integer, got 'many'`);
    }
  });
});
