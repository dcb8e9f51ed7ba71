/**
 * What the registry and pipelines announce (MLflow's registry webhooks are the precedent):
 * a version registered, an alias moved, a candidate stopped by validation, a pipeline run
 * finished. Each is recorded in the event log with one of these reasons and delivered to the
 * Notifiers that subscribe to it (`events: [VersionRegistered, …]`). A new reason is a new name
 * here, never an inline string.
 */
import type { ModelVersion } from "../domain/model.js";

export const RegistryReason = {
  /** A new version of a model, by any door (API, CLI, `serve --model`, a pipeline). */
  VersionRegistered: "VersionRegistered",
  /** An alias set or moved to another version. */
  AliasMoved: "AliasMoved",
  /** A pipeline's candidate failed its validation gates or smoke tests. */
  ValidationFailed: "ValidationFailed",
  /** A pipeline run ended: succeeded, failed or cancelled. */
  RunFinished: "RunFinished",
} as const;

export type RegistryReason = (typeof RegistryReason)[keyof typeof RegistryReason];

export const REGISTRY_REASONS: readonly RegistryReason[] = Object.values(RegistryReason);

/**
 * Told by the registry after a change has committed. Called synchronously and must not throw:
 * an implementation records and delivers in the background (a slow receiver never holds up a
 * registration).
 */
export interface RegistryObserver {
  versionRegistered(version: ModelVersion): void;
  /** `from` is the version the alias named before (null: it is new). */
  aliasMoved(change: { model: string; alias: string; from: number | null; to: number; at: number }): void;
}
