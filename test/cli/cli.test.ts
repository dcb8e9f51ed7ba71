/** The `ballast` command as a user runs it: a real server process and real CLI processes. */
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { once } from "node:events";
import { FRAUD_MODEL } from "../helpers/app.js";
import { ballast, startServer } from "../helpers/cli.js";

describe("ballast CLI", () => {
  let dir: string;
  let server: { child: ChildProcess; url: string };
  let modelPath: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "ballast-cli-"));
    modelPath = join(dir, "fraud.json");
    await writeFile(modelPath, JSON.stringify(FRAUD_MODEL));
    server = await startServer(["--data-dir", join(dir, "data"), "--model", `fraud=${modelPath}`]);
  });
  after(async () => {
    server.child.kill("SIGTERM");
    await once(server.child, "exit");
    await rm(dir, { recursive: true, force: true });
  });

  test("serve --model registers and deploys in one step", async () => {
    const res = await fetch(`${server.url}/v1/models/fraud:predict`, {
      method: "POST",
      body: JSON.stringify({ instances: [{ amount: 1, hour: 2, night: 0 }] }),
      headers: { "content-type": "application/json" },
    });
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { model_version: string }).model_version, "1");
  });

  test("models register, list, show, alias and deploy", async () => {
    const v2 = { ...FRAUD_MODEL, intercept: -2 };
    const path2 = join(dir, "fraud-v2.json");
    await writeFile(path2, JSON.stringify(v2));
    const reg = ballast([
      "models",
      "register",
      "fraud",
      path2,
      "--server",
      server.url,
      "--metric",
      "auc=0.91",
      "--tag",
      "team=risk",
      "--parent-version",
      "1",
      "--alias",
      "challenger",
    ]);
    assert.equal(reg.status, 0, reg.stderr);
    assert.match(reg.stdout, /fraud version 2 registered: builtin/);

    const again = ballast(["models", "register", "fraud", path2, "--server", server.url]);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stdout, /version 2 already registered/);

    const list = ballast(["models", "list", "--server", server.url]);
    assert.equal(list.status, 0, list.stderr);
    assert.match(list.stdout, /^fraud\s+2\s+challenger→2/m);

    const show = ballast(["models", "show", "fraud", "--server", server.url]);
    assert.match(show.stdout, /^2\s+builtin\s+challenger\s+[0-9a-f]{12}\s+\S+\s+auc=0\.91$/m);

    const alias = ballast(["models", "alias", "fraud", "champion", "2", "--server", server.url]);
    assert.equal(alias.status, 0, alias.stderr);

    const deploy = ballast(["deploy", "fraud", "--alias", "champion", "--server", server.url]);
    assert.equal(deploy.status, 0, deploy.stderr);
    assert.match(deploy.stdout, /serving fraud v2 \(ready\)/);

    const meta = (await (await fetch(`${server.url}/v2/models/fraud`)).json()) as { versions: string[] };
    assert.deepEqual(meta.versions, ["2"]);
  });

  test("errors are one line and a non-zero exit", () => {
    const cases: Array<[string[], number, RegExp]> = [
      [["models", "show", "nope", "--server", server.url], 3, /nope/],
      [
        ["models", "register", "fraud", join(dir, "missing.onnx"), "--server", server.url],
        3,
        /missing\.onnx/,
      ],
      [["models", "alias", "fraud", "champion", "99", "--server", server.url], 3, /99/],
      [["deploy", "fraud", "--version", "1", "--alias", "x", "--server", server.url], 2, /not both/],
      [["models", "list", "--server", "http://127.0.0.1:1"], 5, /cannot reach/],
      [["serve", "--port", "99999"], 2, /--port/],
      [["serve", "--model", "fraud"], 2, /name=path/],
      [
        ["serve", "--port", new URL(server.url).port, "--data-dir", join(dir, "second"), "--quiet"],
        5,
        /port \d+ on 127\.0\.0\.1 is already in use; .*--port/,
      ],
    ];
    for (const [args, code, pattern] of cases) {
      const r = ballast(args);
      assert.equal(r.status, code, `${args.join(" ")}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split("\n").length, 1, `one line expected: ${r.stderr}`);
      assert.match(r.stderr, pattern);
    }
  });

  test("every command has --help", () => {
    for (const args of [[], ["serve"], ["models"], ["models", "register"], ["deploy"]]) {
      const r = ballast([...args, "--help"]);
      assert.equal(r.status, 0, `${args.join(" ")} --help: ${r.stderr}`);
      assert.match(r.stdout, /Usage: ballast/);
    }
  });
});
