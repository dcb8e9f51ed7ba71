/**
 * The model both servers answer with, and the request the load generator sends: the first row
 * of the fixture's inputs, whose expected probability numpy computed (test/fixtures/onnx), so a
 * benchmark never measures a server that answers wrongly.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const MLP_PATH = fileURLToPath(new URL("../test/fixtures/onnx/mlp.onnx", import.meta.url));
const EXPECTED_PATH = fileURLToPath(new URL("../test/fixtures/onnx/expected.json", import.meta.url));

export const DEPLOYMENT = "mlp";
export const INFER_PATH = `/v2/models/${DEPLOYMENT}/infer`;
export const FEATURES = 8;

interface ExpectedMlp {
  inputs: [{ name: string; datatype: string; data: number[] }];
  outputs: [{ name: string; data: number[] }];
}

function expectedMlp(): ExpectedMlp {
  const all = JSON.parse(readFileSync(EXPECTED_PATH, "utf8")) as { models: { mlp?: ExpectedMlp } };
  if (all.models.mlp === undefined) throw new Error(`${EXPECTED_PATH} has no mlp entry`);
  return all.models.mlp;
}

const mlp = expectedMlp();
const [input] = mlp.inputs;
const [output] = mlp.outputs;

/** The eight feature values every request carries. */
export const REQUEST_ROW: readonly number[] = input.data.slice(0, FEATURES);

/** Names the monitored variant of the benchmark gives those features: f0 … f7. */
export const FEATURE_NAMES: readonly string[] = Array.from({ length: FEATURES }, (_, i) => `f${i}`);

/** The drift monitor the "ballast+monitor" server runs on the deployment. */
export const MONITOR_NAME = "mlp-drift";

/** One row of eight features, as an OIP v2 request body. */
export const REQUEST_BODY = JSON.stringify({
  inputs: [{ name: input.name, shape: [1, FEATURES], datatype: input.datatype, data: REQUEST_ROW }],
});

export const OUTPUT_NAME = output.name;

/** numpy's float64 answer for that row. */
export const EXPECTED_PROBABILITY = output.data[0] as number;
