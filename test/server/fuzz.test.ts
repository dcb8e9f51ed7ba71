/**
 * Thousands of malformed requests at every endpoint: each must get a 4xx (or, if the fuzzer
 * happens to build a valid one, a 2xx) with the protocol's error body — never a 5xx — and the
 * server must keep serving afterwards.
 */
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { startTestServer, type TestServer } from "../helpers/app.js";
import { DATATYPES } from "../../src/domain/tensor.js";

const RUNS = Number(process.env.BALLAST_FUZZ_RUNS ?? 400);

const validInput = { name: "input", datatype: "FP32", shape: [1, 3], data: [1.5, 3, 1] };

const weirdScalar = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double(),
  fc.constantFrom(1e308, -1e308, 2 ** 53 + 2, -(2 ** 63), 3.5e38, 1e-320, -0),
  fc.string({ maxLength: 20 }),
  fc.constantFrom("NaN", "Infinity", "-Infinity", "1e999", "", "input", "FP32", "INT64", "BYTES"),
);
const weirdValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    weirdScalar,
    fc.array(tie("value"), { maxLength: 5 }),
    fc.dictionary(
      fc.constantFrom(
        "name",
        "datatype",
        "shape",
        "data",
        "inputs",
        "outputs",
        "id",
        "parameters",
        "instances",
        "x",
      ),
      tie("value"),
      { maxKeys: 4 },
    ),
  ),
})).value;

/** A valid tensor with one field replaced by something odd. */
const mutatedInput = fc
  .record({
    field: fc.constantFrom("name", "datatype", "shape", "data", "parameters", "extra"),
    value: weirdValue,
    datatype: fc.constantFrom(...DATATYPES),
  })
  .map(({ field, value, datatype }) => ({
    ...validInput,
    datatype: field === "datatype" ? value : datatype,
    [field]: value,
  }));

const inferBody = fc.oneof(
  weirdValue,
  fc.record({ inputs: fc.array(mutatedInput, { maxLength: 3 }) }),
  fc.record({ id: weirdValue, inputs: fc.constant([validInput]), outputs: weirdValue }),
  fc.record({ inputs: fc.constant([validInput]), parameters: weirdValue }),
  // Shape and data length disagreeing, or nested data of the wrong form.
  fc.record({
    inputs: fc
      .tuple(
        fc.array(fc.nat(5), { maxLength: 4 }),
        fc.array(fc.oneof(fc.double(), fc.array(fc.double(), { maxLength: 4 })), { maxLength: 20 }),
      )
      .map(([shape, data]) => [{ name: "input", datatype: "FP32", shape, data }]),
  }),
);

const predictBody = fc.oneof(
  weirdValue,
  fc.record({
    instances: fc.array(
      fc.oneof(weirdValue, fc.record({ amount: weirdScalar, hour: weirdScalar, night: weirdScalar })),
      { maxLength: 4 },
    ),
  }),
);

const feedbackBody = fc.oneof(
  weirdValue,
  fc.record({
    feedback: fc.array(
      fc.record(
        {
          request_id: weirdScalar,
          label: weirdValue,
          value: weirdScalar,
          event: weirdScalar,
          timestamp: weirdScalar,
        },
        { requiredKeys: [] },
      ),
      { maxLength: 4 },
    ),
  }),
);

const pathSegment = fc.oneof(
  fc.constantFrom(
    "fraud",
    "nope",
    "0",
    "-1",
    "1",
    "99999999999",
    "1e3",
    "%00",
    "..",
    "%2F",
    "a:b",
    "fraud:predict",
  ),
  fc.stringMatching(/^[A-Za-z0-9._~-]{1,12}$/),
);

const rawBody = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.constantFrom(
    '{"inputs": [',
    '{"inputs": [NaN]}',
    '{"inputs": [Infinity]}',
    "{'a': 1}",
    "[]",
    "null",
    "0",
    '"x"',
    '{"__proto__": {"x": 1}}',
    '{"constructor": {"prototype": {}}}',
  ),
);

function requestArb(): fc.Arbitrary<{
  method: "GET" | "POST" | "PUT" | "DELETE" | "PATCH";
  url: string;
  payload?: string;
  contentType?: string;
}> {
  const json = (url: string, body: fc.Arbitrary<unknown>, method: "POST" | "PUT" | "PATCH" = "POST") =>
    body.map((b) => ({ method, url, payload: JSON.stringify(b) ?? "null" }));
  return fc.oneof(
    json("/v2/models/fraud/infer", inferBody),
    pathSegment.chain((v) => json(`/v2/models/fraud/versions/${v}/infer`, inferBody)),
    pathSegment.chain((m) => json(`/v2/models/${m}/infer`, inferBody)),
    json("/v1/models/fraud:predict", predictBody),
    pathSegment.chain((m) => json(`/v1/models/${m}:predict`, predictBody)),
    json("/v1/feedback", feedbackBody),
    pathSegment.chain((m) => json(`/api/v1/deployments/${m}`, weirdValue, "PUT")),
    pathSegment.chain((m) => json(`/api/v1/models/${m}/versions`, weirdValue)),
    fc
      .tuple(pathSegment, pathSegment)
      .chain(([m, a]) => json(`/api/v1/models/${m}/aliases/${a}`, weirdValue, "PUT")),
    fc
      .tuple(pathSegment, pathSegment)
      .chain(([m, v]) => json(`/api/v1/models/${m}/versions/${v}`, weirdValue, "PATCH")),
    fc
      .tuple(
        fc.constantFrom(
          "/v2/models/fraud/infer",
          "/v1/models/fraud:predict",
          "/v1/feedback",
          "/api/v1/models/fraud/versions",
          "/api/v1/artifacts",
        ),
        rawBody,
        fc.constantFrom(
          "application/json",
          "text/plain",
          "application/octet-stream",
          "application/x-www-form-urlencoded",
        ),
      )
      .map(([url, payload, contentType]) => ({ method: "POST" as const, url, payload, contentType })),
    fc
      .tuple(pathSegment, pathSegment)
      .map(([m, v]) => ({ method: "GET" as const, url: `/v2/models/${m}/versions/${v}` })),
    pathSegment.map((m) => ({ method: "GET" as const, url: `/v2/models/${m}/ready` })),
    fc
      .tuple(fc.constantFrom("deployment", "version", "since", "until", "limit", "junk"), pathSegment)
      .map(([k, v]) => ({ method: "GET" as const, url: `/api/v1/predictions?${k}=${v}` })),
    fc
      .tuple(pathSegment, pathSegment)
      .map(([m, v]) => ({ method: "DELETE" as const, url: `/api/v1/models/${m}/versions/${v}` })),
  );
}

describe("fuzzed requests", () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ app: { bodyLimit: 256 * 1024 } });
  });
  after(async () => s.close());

  test(`${RUNS * 5} malformed requests get 4xx with {"error": "..."} and never a 5xx`, async () => {
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(requestArb(), async (req) => {
        const res = await s.app.inject({
          method: req.method,
          url: req.url,
          ...(req.payload === undefined
            ? {}
            : { payload: req.payload, headers: { "content-type": req.contentType ?? "application/json" } }),
        });
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
        assert.ok(
          res.statusCode < 500,
          `${req.method} ${req.url} ${req.payload ?? ""} -> ${res.statusCode} ${res.body}`,
        );
        if (res.statusCode >= 400) {
          const body = res.json() as { error?: unknown };
          assert.equal(typeof body.error, "string", `${req.url}: ${res.body}`);
          assert.ok((body.error as string).length > 0);
        }
      }),
      { numRuns: RUNS * 5, seed: Number(process.env.BALLAST_FUZZ_SEED ?? 20261125) },
    );
    // The generator must reach past the JSON parser into validation and routing.
    for (const status of [400, 404])
      assert.ok((statuses.get(status) ?? 0) > RUNS / 10, `few ${status}s: ${[...statuses]}`);
  });

  test("huge bodies get 413 and deep nesting a 400", async () => {
    const huge = await s.app.inject({
      method: "POST",
      url: "/v2/models/fraud/infer",
      headers: { "content-type": "application/json" },
      payload: `{"inputs":[{"name":"input","datatype":"FP32","shape":[1,3],"data":[${"1,".repeat(200_000)}1]}]}`,
    });
    assert.equal(huge.statusCode, 413);
    assert.match(huge.json().error, /larger than/);
    for (const depth of [100, 10_000, 100_000]) {
      const deep = await s.app.inject({
        method: "POST",
        url: "/v2/models/fraud/infer",
        headers: { "content-type": "application/json" },
        payload: `{"inputs":[{"name":"input","datatype":"FP32","shape":[1,3],"data":${"[".repeat(depth)}1${"]".repeat(depth)}}]}`,
      });
      assert.ok(deep.statusCode === 400 || deep.statusCode === 413, `depth ${depth}: ${deep.statusCode}`);
      assert.equal(typeof deep.json().error, "string");
    }
  });

  test("the server still serves after the fuzzing", async () => {
    assert.equal((await s.app.inject("/v2/health/ready")).statusCode, 200);
    const res = await s.app.inject({
      method: "POST",
      url: "/v2/models/fraud/infer",
      payload: { inputs: [validInput] },
    });
    assert.equal(res.statusCode, 200, res.body);
  });
});
