/**
 * Runs async work one piece at a time, in the order it was asked for: what keeps two applies,
 * or a promote and an abort, from interleaving. A failure is its caller's; the queue goes on.
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(work: () => Promise<T>): Promise<T> {
    const result = this.tail.then(work, work);
    this.tail = result.catch(() => undefined);
    return result;
  }
}
