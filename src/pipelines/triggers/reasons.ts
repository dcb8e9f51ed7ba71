/**
 * Why a pipeline trigger did what it did, as the event log's reasons. The strings are what
 * clients and scripts match on; a new reason is a new name here, never an inline string.
 */
export const TriggerReason = {
  /** A trigger fired and started a run (the message says why it fired). */
  TriggerFired: "TriggerFired",
  /** A trigger fired into a run already going or within the cooldown: no new run. */
  TriggerCoalesced: "TriggerCoalesced",
  /** A trigger could not be evaluated (no monitor for its KPI, an unreadable folder) or its start failed. */
  TriggerFailed: "TriggerFailed",
} as const;

export type TriggerReason = (typeof TriggerReason)[keyof typeof TriggerReason];
