/**
 * Which id a prediction is logged under. A client may send its own `x-request-id`; feedback
 * joins on it, so two predictions under one id would make labels join the wrong one. An id a
 * client already used in this process is therefore replaced by a fresh server id, which the
 * response carries (with the original named in a header), and the row is logged under that.
 *
 * The check is a bounded in-memory set of the client ids logged lately: no store read on the
 * request path. Reuse it cannot see (older than the set, before a restart, on another replica
 * sharing the store) meets the table's unique key when the row is written, and that row is
 * refused and counted (`duplicate_request_id`), never counted as written.
 */
import { requestIdGenerator } from "../domain/ids.js";

/** Client ids remembered: at ~100 bytes each, about 10 MB. */
export const DEFAULT_REMEMBERED_IDS = 100_000;

/** A request's id as given, and the id its prediction was logged under. */
export class RequestId {
  /** The given id unless it had been used before; set when the prediction is logged. */
  logged: string;

  constructor(
    readonly given: string,
    /** Set when the client chose the id; server ids are unique by construction. */
    readonly fromClient: boolean,
  ) {
    this.logged = given;
  }

  get reused(): boolean {
    return this.logged !== this.given;
  }
}

export class RequestIds {
  // A Set iterates in insertion order: its first element is the oldest, evicted first.
  private readonly seen = new Set<string>();

  constructor(
    private readonly newId: () => string = requestIdGenerator(),
    private readonly capacity = DEFAULT_REMEMBERED_IDS,
  ) {}

  /**
   * Settles the id the prediction is logged under. Synchronous, so the check and the
   * remembering are one step: two concurrent requests with one id cannot both keep it.
   */
  claim(id: RequestId): void {
    if (!id.fromClient) return;
    if (this.seen.has(id.given)) {
      id.logged = this.newId();
      return;
    }
    this.seen.add(id.given);
    if (this.seen.size > this.capacity) {
      const oldest = this.seen.values().next().value as string;
      this.seen.delete(oldest);
    }
  }
}
