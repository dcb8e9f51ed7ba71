/**
 * The baseline: the least a correct OIP v2 server for this one model must do — read the body,
 * parse and check it, run onnxruntime-node, answer JSON — on node:http with nothing else
 * (no routing table, no logging, no metrics). Ballast's overhead is measured against this.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import * as ort from "onnxruntime-node";
import { DEPLOYMENT, FEATURES, INFER_PATH, MLP_PATH } from "../mlp-fixture.js";
import { serveForParent, type RunningServer } from "./protocol.js";

// The same options as src/runtimes/onnx.ts, so both servers run the model identically.
const SESSION_OPTIONS: ort.InferenceSession.SessionOptions = {
  graphOptimizationLevel: "all",
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  executionMode: "sequential",
};

class BadRequest extends Error {}

/** The input tensor of an OIP v2 request for an [N, 8] FP32 model, checked as far as it must be. */
function readInput(body: string): { id: unknown; data: Float32Array; rows: number } {
  const request = JSON.parse(body) as { id?: unknown; inputs?: unknown };
  const input = Array.isArray(request.inputs)
    ? (request.inputs[0] as Record<string, unknown> | undefined)
    : undefined;
  if (input === undefined || input.name !== "input" || input.datatype !== "FP32") {
    throw new BadRequest("expected one FP32 input named 'input'");
  }
  const { shape, data } = input;
  if (
    !Array.isArray(shape) ||
    shape.length !== 2 ||
    shape[1] !== FEATURES ||
    !Number.isSafeInteger(shape[0])
  ) {
    throw new BadRequest(`shape must be [N, ${FEATURES}]`);
  }
  const rows = shape[0] as number;
  if (!Array.isArray(data) || data.length !== rows * FEATURES)
    throw new BadRequest("data does not match shape");
  const values = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v: unknown = data[i];
    if (typeof v !== "number" || !Number.isFinite(v))
      throw new BadRequest(`data[${i}] is not a finite number`);
    values[i] = v;
  }
  return { id: request.id, data: values, rows };
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}

async function start(): Promise<RunningServer> {
  const session = await ort.InferenceSession.create(MLP_PATH, SESSION_OPTIONS);
  const outputName = session.outputNames[0] as string;

  async function answer(body: string, res: ServerResponse): Promise<void> {
    let input: ReturnType<typeof readInput>;
    try {
      input = readInput(body);
    } catch (error) {
      reply(res, 400, { error: (error as Error).message });
      return;
    }
    const feeds = { input: new ort.Tensor("float32", input.data, [input.rows, FEATURES]) };
    const results = await session.run(feeds);
    const output = results[outputName] as ort.Tensor;
    reply(res, 200, {
      model_name: DEPLOYMENT,
      model_version: "1",
      id: typeof input.id === "string" ? input.id : "",
      outputs: [
        {
          name: outputName,
          datatype: "FP32",
          shape: [...output.dims],
          data: Array.from(output.data as Float32Array),
        },
      ],
    });
  }

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== "POST" || req.url !== INFER_PATH) {
      reply(res, 404, { error: `no route for ${req.method} ${req.url}` });
      return;
    }
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      answer(Buffer.concat(chunks).toString("utf8"), res).catch((error: unknown) =>
        reply(res, 500, { error: String(error) }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    flush: async () => {},
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await session.release();
    },
  };
}

await serveForParent(start);
