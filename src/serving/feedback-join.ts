/**
 * Whether feedback joined a prediction: a label sent with a request id that was never served
 * (a typo, a `row` counted across a file, another server's ids) is kept, since its prediction
 * may still arrive, but the sender is told at once instead of finding out weeks later that
 * nothing joined.
 *
 * Semantics: an item is matched when a prediction with its request id has been served and
 * logged by the time the feedback is accepted, whether it is already in the store or still in
 * the prediction log's buffer (written in batches a moment later). A prediction the log dropped
 * (buffer full) is not matched. The row is not checked against the request's row count.
 */
import type { FeedbackRecord } from "../domain/prediction.js";

/** Unmatched ids returned at most: enough to see the pattern, small whatever the batch. */
export const UNMATCHED_IDS_SHOWN = 10;

export interface FeedbackJoin {
  readonly accepted: number;
  readonly matched: number;
  readonly unmatched: number;
  /** The first distinct unmatched request ids, in the order sent. */
  readonly unmatchedIds: string[];
}

/** Where logged request ids are looked up: the log's buffer first, then the store. */
export interface LoggedRequests {
  holding(requestIds: ReadonlySet<string>): Set<string>;
  loggedRequestIds(requestIds: readonly string[]): Promise<Set<string>>;
}

export async function loggedAmong(
  records: readonly FeedbackRecord[],
  log: Pick<LoggedRequests, "holding">,
  store: Pick<LoggedRequests, "loggedRequestIds">,
): Promise<Set<string>> {
  const ids = new Set(records.map((r) => r.requestId));
  // The buffer is read before the store: a row leaves the buffer only once it is committed, so
  // it is seen in one or the other (read the other way round it could be in neither).
  const known = log.holding(ids);
  const rest = [...ids].filter((id) => !known.has(id));
  for (const id of await store.loggedRequestIds(rest)) known.add(id);
  return known;
}

/** Pure: how many of the items joined a logged prediction. */
export function joinReport(records: readonly FeedbackRecord[], logged: ReadonlySet<string>): FeedbackJoin {
  let matched = 0;
  const unmatchedIds: string[] = [];
  const shown = new Set<string>();
  for (const r of records) {
    if (logged.has(r.requestId)) {
      matched++;
      continue;
    }
    if (shown.size < UNMATCHED_IDS_SHOWN && !shown.has(r.requestId)) {
      shown.add(r.requestId);
      unmatchedIds.push(r.requestId);
    }
  }
  return { accepted: records.length, matched, unmatched: records.length - matched, unmatchedIds };
}
