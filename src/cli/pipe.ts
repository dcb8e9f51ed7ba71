/**
 * `ballast … | head`: when the reader of stdout goes away, writing fails with EPIPE. Unix tools
 * stop quietly then; without a listener Node would crash with a stack trace instead.
 */
export interface Pipe {
  on(event: "error", listener: (error: Error) => void): unknown;
}

export function exitQuietlyOnClosedPipe(stdout: Pipe, exit: (code: number) => void = process.exit): void {
  stdout.on("error", (error) => {
    if ("code" in error && error.code === "EPIPE") exit(0);
    // Any other failure to write output is a real error, reported like every other one.
    else throw error;
  });
}
