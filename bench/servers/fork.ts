/** The parent's side of protocol.ts: forks one server, waits for its port, drives it, stops it. */
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { ToChild, ToParent } from "./protocol.js";

export type ServerKind = "bare" | "ballast" | "ballast+monitor";

/** Entry file and extra environment per kind: the monitored Ballast is ballast.ts with a switch. */
const ENTRIES: Record<ServerKind, { file: string; env: Record<string, string> }> = {
  bare: { file: "bare.ts", env: {} },
  ballast: { file: "ballast.ts", env: { BENCH_MONITOR: "0" } },
  "ballast+monitor": { file: "ballast.ts", env: { BENCH_MONITOR: "1" } },
};

export interface ForkedServer {
  readonly kind: ServerKind;
  readonly url: string;
  readonly pid: number;
  /** Resolves once the child has drained whatever it buffers (Ballast's prediction log). */
  flush(): Promise<void>;
  stop(): Promise<void>;
  /** Last resort when the benchmark is interrupted: SIGKILL, no cleanup in the child. */
  kill(): void;
}

const START_TIMEOUT_MS = 60_000;
const REPLY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 15_000;

function nextMessage(child: ChildProcess, what: string, timeoutMs: number): Promise<ToParent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`${what}: no answer within ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (message: ToParent) => done(undefined, message);
    const onExit = (code: number | null) => done(new Error(`${what}: the server exited (code ${code})`));
    function done(error: Error | undefined, message?: ToParent): void {
      clearTimeout(timer);
      child.off("message", onMessage);
      child.off("exit", onExit);
      if (error !== undefined) reject(error);
      else if (message?.type === "failed") reject(new Error(`${what}: ${message.message}`));
      else resolve(message as ToParent);
    }
    child.on("message", onMessage);
    child.once("exit", onExit);
  });
}

export async function forkServer(
  kind: ServerKind,
  options: { env?: Record<string, string>; execArgv?: readonly string[] } = {},
): Promise<ForkedServer> {
  const entry = fileURLToPath(new URL(`./${ENTRIES[kind].file}`, import.meta.url));
  // All servers load through the same tsx loader with the same flags, so neither is
  // favoured by how its code was compiled.
  const child = fork(entry, [], {
    execArgv: ["--import", "tsx", ...(options.execArgv ?? [])],
    env: { ...process.env, ...ENTRIES[kind].env, ...options.env },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const ask = (message: ToChild) => child.send(message);
  let ready: ToParent;
  try {
    ready = await nextMessage(child, `starting the ${kind} server`, START_TIMEOUT_MS);
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
  if (ready.type !== "ready") throw new Error(`the ${kind} server said ${ready.type} instead of ready`);
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null) resolve();
    else child.once("exit", () => resolve());
  });

  return {
    kind,
    url: `http://127.0.0.1:${ready.port}`,
    pid: child.pid as number,
    async flush() {
      const reply = nextMessage(child, `flushing the ${kind} server`, REPLY_TIMEOUT_MS);
      ask({ type: "flush" });
      await reply;
    },
    async stop() {
      if (child.exitCode !== null) return;
      ask({ type: "stop" });
      const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    },
    kill() {
      if (child.exitCode === null) child.kill("SIGKILL");
    },
  };
}
