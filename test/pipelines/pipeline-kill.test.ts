/**
 * kill -9 mid-run: a server is killed while an effectful step (standing for `register`) has made
 * its effect but not recorded it. The next server on the same data dir finds the step cut off,
 * recovers what it made by run id instead of making it again, and finishes the run.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, rm, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";

const FIXTURE = "test/pipelines/fixtures/pipeline-server.ts";
const children: ChildProcess[] = [];
let dir: string;

after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

async function serve(dataDir: string, markerDir: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", FIXTURE, dataDir, markerDir], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let out = "";
  let err = "";
  child.stderr?.setEncoding("utf8").on("data", (c: string) => (err += c));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout?.setEncoding("utf8").on("data", (c: string) => {
      out += c;
      const m = /listening at (\S+)/.exec(out);
      if (m) resolve(m[1] as string);
    });
    child.once("exit", (code) => reject(new Error(`server exited ${code}: ${err}`)));
  });
  return { child, url };
}

/** Polls until `check` holds (bounded by attempts, not by a guess at how long work takes). */
async function until<T>(what: string, check: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 600; i++) {
    const value = await check();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`gave up waiting for ${what}`);
}

test("kill -9 while a register-like step runs: the restarted server recovers its effect, never repeats it", async () => {
  dir = await mkdtemp(join(tmpdir(), "ballast-pipeline-kill-"));
  const dataDir = join(dir, "data");
  const effects = join(dir, "effects");
  await writeFile(join(dir, "hang"), "");
  const first = await serve(dataDir, dir);
  const put = await fetch(`${first.url}/api/v1/pipelines/p`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      steps: [
        { name: "data", emit: { value: "rows" } },
        { name: "register", mark: { from: "data" } },
      ],
    }),
  });
  assert.equal(put.status, 201, await put.text());
  const started = await fetch(`${first.url}/api/v1/pipelines/p/runs`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: "{}",
  });
  assert.equal(started.status, 201);
  const { run } = (await started.json()) as { run: { id: string } };
  await until("the effect", async () =>
    (await readFile(effects, "utf8").catch(() => "")).includes(run.id) ? true : undefined,
  );

  first.child.kill("SIGKILL");
  await once(first.child, "exit");
  await unlink(join(dir, "hang"));

  const second = await serve(dataDir, dir);
  const done = await until("the run to finish", async () => {
    const r = (await (await fetch(`${second.url}/api/v1/pipelines/p/runs/${run.id}`)).json()) as {
      state: string;
      reason?: string;
      steps: Array<{ name: string; state: string; attempt: number; summary?: unknown }>;
    };
    return r.state === "Running" || r.state === "Pending" ? undefined : r;
  });
  assert.equal(done.state, "Succeeded", done.reason);
  assert.deepEqual(
    done.steps.map((s) => [s.name, s.state, s.attempt]),
    [
      ["data", "Succeeded", 1],
      ["register", "Succeeded", 2],
    ],
  );
  const register = done.steps.find((s) => s.name === "register") as { summary?: unknown };
  assert.deepEqual(register.summary, { model: "fraud", version: 2, run: run.id });
  const lines = (await readFile(effects, "utf8")).trim().split("\n");
  assert.deepEqual(lines, [run.id], "the effect was made exactly once");
  const logs = (await (
    await fetch(`${second.url}/api/v1/pipelines/p/runs/${run.id}/logs?step=register`)
  ).json()) as {
    lines: Array<{ line: string }>;
  };
  assert.ok(logs.lines.some((l) => /was cut off/.test(l.line)));
  assert.ok(logs.lines.some((l) => /had finished its work; recorded what it made/.test(l.line)));
  second.child.kill("SIGTERM");
  await once(second.child, "exit");
});
