/** Runs a window run in a child process (its own heap and RSS) and collects its result. */
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { WindowRunResult } from "./window-run.js";

const ENTRY = fileURLToPath(new URL("./window-run.ts", import.meta.url));

/** Children still running, so the watchdog can stop them. */
export const running = new Set<ChildProcess>();

export function forkWindowRun(
  rows: number,
  features: number,
  chunk: number,
  dataDir?: string,
): Promise<WindowRunResult> {
  return new Promise((resolve, reject) => {
    const args = [String(rows), String(features), String(chunk), ...(dataDir === undefined ? [] : [dataDir])];
    // The parent runs under tsx; its loader flags (execArgv) let the child load TypeScript too.
    const child = fork(ENTRY, args, {
      execArgv: [...process.execArgv, "--expose-gc"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    running.add(child);
    let result: WindowRunResult | undefined;
    child.on("message", (message) => (result = message as WindowRunResult));
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      running.delete(child);
      if (result !== undefined) resolve(result);
      else reject(new Error(`window run of ${rows} rows exited with ${code ?? signal} and no result`));
    });
  });
}
