import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BallastError } from "../../src/domain/errors.js";
import type { Tensor } from "../../src/domain/tensor.js";
import { httpRuntime, parseHttpArtifact } from "../../src/runtimes/http.js";

/** What the fake server saw, so tests can check what was (or was not) sent. */
interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: unknown;
}

const METADATA = {
  name: "fraud",
  platform: "test",
  inputs: [{ name: "input", datatype: "FP32", shape: [-1, 2] }],
  outputs: [
    { name: "probability", datatype: "FP32", shape: [-1] },
    { name: "id", datatype: "INT64", shape: [-1] },
  ],
};

/** A small Open Inference Protocol server: fraud (any version), ids, broken, garbled, notready, slow. */
function protocolServer(seen: Seen[], hanging: ServerResponse[]): Server {
  return createServer((req, res) => {
    let text = "";
    req.on("data", (chunk: Buffer) => (text += chunk.toString()));
    req.on("end", () => {
      const url = req.url ?? "";
      seen.push({
        method: req.method ?? "",
        url,
        headers: req.headers,
        body: text ? JSON.parse(text) : undefined,
      });
      const reply = (status: number, body: unknown): void => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(body));
      };
      const match = /^\/v2\/models\/(\w+)(?:\/versions\/(\w+))?(\/ready|\/infer)?$/.exec(url);
      if (!match) return reply(404, { error: `no route ${url}` });
      const [, model, , action] = match;
      if (action === undefined && model === "ids") {
        return reply(200, {
          ...METADATA,
          name: model,
          inputs: [{ name: "ids", datatype: "INT64", shape: [-1] }],
        });
      }
      if (action === undefined) return reply(200, { ...METADATA, name: model });
      if (action === "/ready")
        return model === "notready" ? reply(503, { ready: false }) : reply(200, { ready: true });
      if (model === "slow") return void hanging.push(res);
      if (model === "broken") return reply(400, { error: "input 'input': expected 2 columns" });
      if (model === "garbled")
        return reply(200, { outputs: [{ name: "probability", datatype: "FP32", shape: [5] }] });
      const request = JSON.parse(text) as { inputs: { data: number[] }[]; outputs?: { name: string }[] };
      const data = request.inputs[0]?.data ?? [];
      const rows = data.length / 2;
      const outputs = [
        // INT64 as decimal strings, as servers do for values JSON numbers cannot hold.
        {
          name: "probability",
          datatype: "FP32",
          shape: [rows],
          data: Array.from({ length: rows }, (_, i) => (data[2 * i] as number) * (data[2 * i + 1] as number)),
        },
        {
          name: "id",
          datatype: "INT64",
          shape: [rows],
          data: Array.from({ length: rows }, () => "9007199254740993"),
        },
      ];
      const wanted = request.outputs?.map((o) => o.name);
      reply(200, {
        model_name: model,
        outputs: wanted ? outputs.filter((o) => wanted.includes(o.name)) : outputs,
      });
    });
  });
}

const listen = (server: Server): Promise<number> =>
  new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)),
  );

const dir = mkdtempSync(join(tmpdir(), "ballast-http-"));
const seen: Seen[] = [];
const hanging: ServerResponse[] = [];
const server = protocolServer(seen, hanging);
let base = "";

before(async () => {
  base = `http://127.0.0.1:${await listen(server)}`;
});
after(() => {
  for (const res of hanging) res.destroy();
  server.closeAllConnections();
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

let artifacts = 0;
function artifact(fields: Record<string, unknown>): string {
  const path = join(dir, `remote-${(artifacts += 1)}.json`);
  writeFileSync(path, JSON.stringify({ format: "ballast.http/v1", url: base, model: "fraud", ...fields }));
  return path;
}

const input: Tensor = {
  name: "input",
  datatype: "FP32",
  shape: [2, 2],
  data: Float32Array.from([1, 2, 3, 0.5]),
};

describe("http runtime", () => {
  test("inspect and load read the remote signature; load checks readiness", async () => {
    assert.deepEqual(await httpRuntime.inspect(artifact({})), {
      inputs: METADATA.inputs,
      outputs: METADATA.outputs,
    });
    const before = seen.length;
    const loaded = await httpRuntime.load({
      artifactPath: artifact({ version: "3" }),
      signature: null,
      timeoutMs: 1000,
    });
    assert.deepEqual(
      seen.slice(before).map((s) => `${s.method} ${s.url}`),
      ["GET /v2/models/fraud/versions/3", "GET /v2/models/fraud/versions/3/ready"],
    );
    assert.deepEqual(loaded.signature.inputs, METADATA.inputs);
    await assert.rejects(
      httpRuntime.load({ artifactPath: artifact({ model: "notready" }), signature: null, timeoutMs: 1000 }),
      { code: "unavailable", message: /remote model 'notready' at .* is not ready \(HTTP 503\)/ },
    );
  });

  test("infer posts JSON tensors with the headers and decodes typed outputs", async () => {
    const loaded = await httpRuntime.load({
      artifactPath: artifact({ headers: { authorization: "Bearer t0ken" } }),
      signature: { inputs: [], outputs: [], features: ["amount", "age"] },
      timeoutMs: 1000,
    });
    assert.deepEqual(loaded.signature.features, ["amount", "age"]);
    const outputs = await loaded.infer([input]);
    const request = seen.at(-1);
    assert.equal(request?.url, "/v2/models/fraud/infer");
    assert.equal(request?.headers.authorization, "Bearer t0ken");
    assert.deepEqual(request?.body, {
      inputs: [{ name: "input", datatype: "FP32", shape: [2, 2], data: [1, 2, 3, 0.5] }],
    });
    assert.deepEqual(outputs, [
      { name: "probability", datatype: "FP32", shape: [2], data: Float32Array.from([2, 1.5]) },
      {
        name: "id",
        datatype: "INT64",
        shape: [2],
        data: BigInt64Array.from([2n ** 53n + 1n, 2n ** 53n + 1n]),
      },
    ]);
    await loaded.warm();
    assert.equal(seen.at(-1)?.url, "/v2/models/fraud/ready");
  });

  test("requested outputs go to the server as the protocol's outputs list", async () => {
    const loaded = await httpRuntime.load({ artifactPath: artifact({}), signature: null, timeoutMs: 1000 });
    const outputs = await loaded.infer([input], { outputs: ["id"] });
    assert.deepEqual((seen.at(-1)?.body as { outputs: unknown }).outputs, [{ name: "id" }]);
    assert.deepEqual(
      outputs.map((o) => o.name),
      ["id"],
    );
    const sent = seen.length;
    await assert.rejects(loaded.infer([input], { outputs: ["score"] }), { code: "invalid_argument" });
    assert.equal(seen.length, sent, "an unknown output is refused before any request");
  });

  test("INT64 inputs beyond 2^53 are refused, not rounded", async () => {
    const loaded = await httpRuntime.load({
      artifactPath: artifact({ model: "ids" }),
      signature: null,
      timeoutMs: 1000,
    });
    const sent = seen.length;
    await assert.rejects(
      loaded.infer([
        { name: "ids", datatype: "INT64", shape: [1], data: BigInt64Array.from([2n ** 53n + 1n]) },
      ]),
      { code: "invalid_argument", message: /tensor 'ids' holds 9007199254740993 at index 0, beyond ±2\^53/ },
    );
    assert.equal(seen.length, sent);
  });

  test("a remote error becomes upstream with the remote's message", async () => {
    const loaded = await httpRuntime.load({
      artifactPath: artifact({ model: "broken" }),
      signature: null,
      timeoutMs: 1000,
    });
    await assert.rejects(loaded.infer([input]), (error: unknown) => {
      assert.ok(error instanceof BallastError);
      assert.equal(error.code, "upstream");
      assert.match(error.message, /answered 400: input 'input': expected 2 columns/);
      assert.deepEqual(error.details, { status: 400 });
      return true;
    });
    const garbled = await httpRuntime.load({
      artifactPath: artifact({ model: "garbled" }),
      signature: null,
      timeoutMs: 1000,
    });
    await assert.rejects(garbled.infer([input]), { code: "upstream", message: /malformed response/ });
    await assert.rejects(httpRuntime.inspect(artifact({ url: `${base}/nowhere` })), {
      code: "upstream",
      message: /answered 404: no route/,
    });
  });

  test("a server that never answers times out after timeoutMs", async () => {
    const loaded = await httpRuntime.load({
      artifactPath: artifact({ model: "slow" }),
      signature: null,
      timeoutMs: 50,
    });
    await assert.rejects(loaded.infer([input]), {
      code: "timeout",
      // Timeouts reach clients (504), so their message names the model but not its address.
      message: /^remote model 'slow' did not answer within 50 ms$/,
    });
  });

  test("the caller's signal cancels the call too", async () => {
    const loaded = await httpRuntime.load({
      artifactPath: artifact({ model: "slow" }),
      signature: null,
      timeoutMs: 60_000,
    });
    const controller = new AbortController();
    const pending = loaded.infer([input], { signal: controller.signal });
    const reason = new BallastError("timeout", "deployment deadline passed");
    controller.abort(reason);
    await assert.rejects(pending, (error) => error === reason);
  });

  test("an unreachable server is an upstream failure, like an error answer (a port scan sees one kind)", async () => {
    const closed = createServer();
    const port = await listen(closed);
    await new Promise((resolve) => closed.close(resolve));
    await assert.rejects(
      httpRuntime.load({
        artifactPath: artifact({ url: `http://127.0.0.1:${port}` }),
        signature: null,
        timeoutMs: 1000,
      }),
      { code: "upstream", message: /cannot reach remote model 'fraud' .*ECONNREFUSED/ },
    );
  });

  test("after unload the model answers unavailable", async () => {
    const loaded = await httpRuntime.load({ artifactPath: artifact({}), signature: null, timeoutMs: 1000 });
    await loaded.unload();
    await assert.rejects(loaded.infer([input]), { code: "unavailable" });
  });
});

describe("http artifact", () => {
  test("parses, trimming the URL's trailing slash", () => {
    assert.deepEqual(
      parseHttpArtifact(
        '{"format":"ballast.http/v1","url":"https://models.internal:8443/","model":"m","version":"2"}',
      ),
      { url: "https://models.internal:8443", model: "m", version: "2", headers: {} },
    );
  });

  const bad: [string, Record<string, unknown>, RegExp][] = [
    ["a wrong format", { format: "ballast.http/v2" }, /format must be "ballast.http\/v1"/],
    ["a non-http URL", { url: "ftp://x" }, /url: expected an http:\/\/ or https:\/\/ URL/],
    ["no model", { model: "" }, /model must name the model/],
    ["non-string headers", { headers: { a: 1 } }, /headers must be an object of strings/],
    ["an unknown field", { timeout: 5 }, /unknown field 'timeout'/],
  ];
  for (const [what, change, message] of bad) {
    test(`rejects ${what}`, () => {
      const value = { format: "ballast.http/v1", url: "http://localhost:1", model: "m", ...change };
      assert.throws(() => parseHttpArtifact(value), { code: "invalid_argument", message });
    });
  }
});
