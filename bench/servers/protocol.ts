/**
 * How the benchmark talks to a server it forked: the child says where it listens, the parent
 * asks it to flush (Ballast's prediction log) or to stop. A child whose parent goes away stops
 * too, so an interrupted benchmark leaves no server behind.
 */
export type ToChild = { type: "flush" } | { type: "stop" };
export type ToParent =
  { type: "ready"; port: number } | { type: "flushed" } | { type: "failed"; message: string };

export interface RunningServer {
  readonly port: number;
  flush(): Promise<void>;
  stop(): Promise<void>;
}

function send(message: ToParent): void {
  process.send?.(message);
}

/** The child's side: starts the server, then answers the parent until told to stop. */
export async function serveForParent(start: () => Promise<RunningServer>): Promise<void> {
  if (process.send === undefined)
    throw new Error("run this through bench/serve.ts (it needs an IPC channel)");
  let server: RunningServer;
  try {
    server = await start();
  } catch (error) {
    send({
      type: "failed",
      message: error instanceof Error ? (error.stack ?? error.message) : String(error),
    });
    process.exit(1);
  }
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= server.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`bench server: stop failed: ${String(error)}\n`);
        process.exit(1);
      },
    ));
  process.on("message", (message: ToChild) => {
    if (message.type === "stop") void stop();
    else if (message.type === "flush") {
      server.flush().then(
        () => send({ type: "flushed" }),
        (error: unknown) => send({ type: "failed", message: String(error) }),
      );
    }
  });
  process.once("disconnect", () => void stop());
  send({ type: "ready", port: server.port });
}
