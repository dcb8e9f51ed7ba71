/**
 * A remote OIP model with the fraud signature on a real HTTP server the test controls, so the
 * http runtime's network path is the one exercised. Its mode says what it does with an inference:
 * answer (0.25 a row), fail (500), hold it until the test releases it, or never answer at all.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { FRAUD_FEATURES, type TestServer } from "./app.js";

export type RemoteMode = "ok" | "error" | "hang" | "hold";

export async function startRemoteModel() {
  const state = {
    mode: "ok" as RemoteMode,
    /** Inference requests received, whatever the mode did with them. */
    calls: 0,
    /** The answers of held requests: call one to release its request. */
    held: [] as Array<() => void>,
    onHeld: undefined as (() => void) | undefined,
    hung: [] as ServerResponse[],
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (req.method === "GET" && req.url?.endsWith("/ready")) return send(200, { ready: true });
    if (req.method === "GET") {
      return send(200, {
        name: "remote",
        inputs: [{ name: "input", datatype: "FP32", shape: [-1, 3] }],
        outputs: [{ name: "probability", datatype: "FP32", shape: [-1] }],
        parameters: { features: FRAUD_FEATURES },
      });
    }
    let text = "";
    req.on("data", (chunk: Buffer) => (text += chunk.toString()));
    req.on("end", () => {
      state.calls++;
      const rows = (JSON.parse(text) as { inputs: Array<{ shape: number[] }> }).inputs[0]?.shape[0] ?? 0;
      const answer = () =>
        send(200, {
          model_name: "remote",
          outputs: [{ name: "probability", datatype: "FP32", shape: [rows], data: Array(rows).fill(0.25) }],
        });
      if (state.mode === "ok") return answer();
      if (state.mode === "error") return send(500, { error: "model crashed" });
      if (state.mode === "hang") return void state.hung.push(res);
      state.held.push(answer);
      state.onHeld?.();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    state,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    /** Resolves once `n` requests are being held. */
    heldCount(n: number): Promise<void> {
      return new Promise((resolve) => {
        const check = () => state.held.length >= n && resolve();
        state.onHeld = check;
        check();
      });
    },
    async close() {
      for (const res of state.hung) res.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

export type RemoteModel = Awaited<ReturnType<typeof startRemoteModel>>;

/** Registers a new version of model `remote`: an http artifact pointing at the remote. */
export async function registerRemoteModel(s: TestServer, remote: RemoteModel): Promise<void> {
  const artifact = join(s.dataDir, "remote.json");
  await writeFile(artifact, JSON.stringify({ format: "ballast.http/v1", url: remote.url, model: "remote" }));
  await s.ballast.registry.registerVersion({ model: "remote", artifactPath: artifact });
}
