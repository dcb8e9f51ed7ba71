/** Runs the `ballast` command as a user would: real processes, from source through tsx. */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";

const MAIN = ["--import", "tsx", "src/cli/main.ts"];

export function ballast(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [...MAIN, ...args], { encoding: "utf8", timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The same, without blocking: independent commands can run side by side. */
export function ballastAsync(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [...MAIN, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  return new Promise((resolve) => child.once("close", (status) => resolve({ status, stdout, stderr })));
}

/**
 * `ballast serve --port 0 …`; resolves with its address once it says it is serving, and what it
 * wrote to stderr until then (`log`).
 */
export async function startServer(
  args: string[],
): Promise<{ child: ChildProcess; url: string; log: string }> {
  const child = spawn(process.execPath, [...MAIN, "serve", "--port", "0", "--quiet", ...args], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.setEncoding("utf8");
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr?.on("data", (chunk: string) => {
      stderr += chunk;
      const m = /at (http:\/\/[^ ]+) /.exec(stderr);
      if (m) resolve(m[1] as string);
    });
    child.once("exit", (code) => reject(new Error(`serve exited ${code}: ${stderr}`)));
  });
  return { child, url, log: stderr };
}
