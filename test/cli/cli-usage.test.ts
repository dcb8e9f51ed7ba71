/**
 * What a new user hits on the command line: a token on every command that calls a server, exit
 * 2 for bad options, `| head`, honest counts and messages. Real processes, run side by side.
 */
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { once } from "node:events";
import { FRAUD_MODEL } from "../helpers/app.js";
import { ballastAsync, startServer } from "../helpers/cli.js";

const TOKEN = "t0k";

describe("ballast on the command line", () => {
  let dir: string;
  let server: { child: ChildProcess; url: string };
  let rowsFile: string;
  const withServer = (...args: string[]) => [...args, "--server", server.url, "--token", TOKEN];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "ballast-cli-usage-"));
    const modelPath = join(dir, "fraud.json");
    await writeFile(modelPath, JSON.stringify(FRAUD_MODEL));
    await writeFile(join(dir, "fraud-v2.json"), JSON.stringify({ ...FRAUD_MODEL, intercept: -1 }));
    rowsFile = join(dir, "rows.csv");
    await writeFile(rowsFile, "amount,hour,night,is_fraud\n10,3,1,0\n900,2,1,1\n25,14,0,0\n");
    server = await startServer([
      "--data-dir",
      join(dir, "data"),
      "--model",
      `fraud=${modelPath}`,
      "--token",
      TOKEN,
    ]);
  });
  after(async () => {
    server.child.kill("SIGTERM");
    await once(server.child, "exit");
    await rm(dir, { recursive: true, force: true });
  });

  test("every command that talks to a server takes --token (or BALLAST_TOKEN)", async () => {
    const commands = [
      ["models", "list"],
      ["models", "show", "fraud"],
      ["models", "register", "fraud", join(dir, "fraud-v2.json")],
      ["deploy", "fraud", "--version", "1"],
      ["predict", "fraud", "-f", rowsFile],
      ["report", "drift", "--deployment", "fraud", "--window", "last-1h"],
      ["get", "deployment"],
      ["events"],
      ["rollout", "status", "fraud"],
      ["rollout", "challengers", "fraud"],
    ];
    const results = await Promise.all(commands.map((c) => ballastAsync(withServer(...c))));
    for (const [i, r] of results.entries()) {
      assert.equal(r.status, 0, `${commands[i]?.join(" ")}: ${r.stderr}`);
    }
    // Nothing to compare the champion with is said in words, not as an empty table.
    assert.match(
      results[9]?.stdout ?? "",
      /^deployment fraud has no challengers: it serves only its champion/,
    );

    const [without, fromEnv] = await Promise.all([
      ballastAsync(["deploy", "fraud", "--version", "1", "--server", server.url]),
      ballastAsync(["deploy", "fraud", "--version", "1", "--server", server.url], { BALLAST_TOKEN: TOKEN }),
    ]);
    assert.equal(without.status, 6, without.stderr);
    assert.equal(fromEnv.status, 0, fromEnv.stderr);
  });

  test("labels join: predict --keep writes request_id, row and the label; feedback sends them back", async () => {
    const scored = join(dir, "scored.jsonl");
    const predict = await ballastAsync(
      withServer("predict", "fraud", "-f", rowsFile, "--keep", "is_fraud", "-o", scored),
    );
    assert.equal(predict.status, 0, predict.stderr);
    const unknown = join(dir, "unknown.csv");
    await writeFile(unknown, "request_id,row,is_fraud\nnever-served,0,1\n");
    const [joined, unmatched] = await Promise.all([
      ballastAsync(withServer("feedback", "-f", scored, "--label-column", "is_fraud")),
      ballastAsync(withServer("feedback", "-f", unknown, "--label-column", "is_fraud")),
    ]);
    assert.equal(joined.status, 0, joined.stderr);
    assert.equal(
      joined.stdout,
      "3 feedback items from 3 rows accepted: 3 joined a logged prediction, 0 did not\n",
    );
    assert.match(joined.stderr, /^sent feedback for 3 rows in /m);
    assert.equal(unmatched.status, 0, unmatched.stderr);
    assert.match(
      unmatched.stdout,
      /^1 feedback items from 1 rows accepted: 0 joined a logged prediction, 1 did not \(.*never-served/,
    );
  });

  test("rollout undo says what it did; an abort by a person reads as one", async () => {
    const put = await fetch(`${server.url}/api/v1/deployments/fraud`, {
      method: "PUT",
      headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({
        model: "fraud",
        version: 1,
        strategy: { canary: { steps: [{ setWeight: 20 }, { pause: {} }] } },
      }),
    });
    assert.equal(put.status, 200, await put.text());
    await ballastAsync(withServer("models", "register", "fraud", join(dir, "fraud-v2.json")));
    const start = await ballastAsync(withServer("rollout", "start", "fraud", "--version", "2"));
    assert.equal(start.status, 0, start.stderr);
    assert.match(start.stdout, /^deployment fraud: Paused \(step\)/);
    const undo = await ballastAsync(withServer("rollout", "undo", "fraud"));
    assert.equal(undo.status, 0, undo.stderr);
    assert.match(
      undo.stdout,
      /^deployment fraud: rollout of fraud v2 aborted: all traffic on v1\ndeployment fraud: Aborted \(aborted by a person\)/,
    );
  });

  test("bad options and arguments exit 2 with one line", async () => {
    const cases = [
      ["models", "list", "--bogus"],
      ["deploy"],
      ["predict", "fraud"],
      ["rollout", "frobnicate", "fraud"],
    ];
    const results = await Promise.all(cases.map((c) => ballastAsync(c)));
    for (const [i, r] of results.entries()) {
      const what = cases[i]?.join(" ");
      assert.equal(r.status, 2, `${what}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split("\n").length, 1, `${what}: one line expected: ${r.stderr}`);
      assert.match(r.stderr, /^ballast: /);
    }
  });

  test("output piped into a reader that goes away (`| head`) ends quietly", async () => {
    const lines = ["x,y", ...Array.from({ length: 200 }, (_, i) => `${i % 17},${(i * 7) % 13}`)];
    const file = join(dir, "xy.csv");
    await writeFile(file, `${lines.join("\n")}\n`);
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "src/cli/main.ts", "report", "drift", "--reference", file, "--current", file],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    child.stdout.destroy();
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const [code] = (await once(child, "close")) as [number | null];
    assert.equal(code, 0, stderr);
    assert.doesNotMatch(stderr, /EPIPE|Error/);
  });
});
