/** A registry and deployment store on a test store, with a settable clock and a stub inspector. */
import { profileFormat } from "../../src/monitoring/profile/profile-format.js";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Clock } from "../../src/domain/clock.js";
import type { Flavor, Signature } from "../../src/domain/model.js";
import { ArtifactStore } from "../../src/registry/artifacts.js";
import { DeploymentStore } from "../../src/registry/deployments.js";
import { Registry } from "../../src/registry/registry.js";
import type { OpenedStore } from "../helpers/stores.js";

export const T0 = 1_700_000_000_000;

export class TestClock implements Clock {
  constructor(public time = T0) {}
  now(): number {
    return this.time;
  }
}

export const SIGNATURE: Signature = {
  inputs: [{ name: "x", datatype: "FP32", shape: [-1, 3] }],
  outputs: [
    { name: "probability", datatype: "FP32", shape: [-1, 1] },
    { name: "label", datatype: "INT64", shape: [-1] },
  ],
  features: ["amount", "age", "hour"],
};

export interface Fixture {
  readonly registry: Registry;
  readonly deployments: DeploymentStore;
  readonly artifacts: ArtifactStore;
  readonly clock: TestClock;
  readonly inspected: Array<{ flavor: Flavor; path: string }>;
  /**
   * Makes the next `n` inspections wait for each other, so that the registrations behind them
   * enter their transactions together: a barrier, not a sleep.
   */
  holdInspections(n: number): void;
  /** Writes a builtin-format model file whose bytes differ per `seed`. */
  builtin(seed: number | string, signature?: Signature | null): Promise<string>;
  file(name: string, content: string | Uint8Array): Promise<string>;
}

export function fixture(opened: OpenedStore): Fixture {
  const clock = new TestClock();
  const artifacts = new ArtifactStore(opened.dataDir);
  const inspected: Array<{ flavor: Flavor; path: string }> = [];
  let gate: { waiting: number; open: Promise<void>; release: () => void } | undefined;
  // The stub plays the runtimes: JSON artifacts carry their signature, onnx ones get a fixed one.
  const registry = new Registry(opened.store, artifacts, {
    clock,
    profiles: profileFormat,
    inspect: async (flavor, path) => {
      inspected.push({ flavor, path });
      if (gate !== undefined) {
        const current = gate;
        if (--current.waiting === 0) {
          gate = undefined;
          current.release();
        }
        await current.open;
      }
      if (flavor === "onnx") return SIGNATURE;
      const document = JSON.parse(await readFile(path, "utf8")) as { signature?: Signature };
      return document.signature ?? null;
    },
  });
  const file = async (name: string, content: string | Uint8Array): Promise<string> => {
    const path = join(opened.dataDir, name);
    await writeFile(path, content);
    return path;
  };
  return {
    registry,
    deployments: new DeploymentStore(opened.store, registry, clock),
    artifacts,
    clock,
    inspected,
    holdInspections(n) {
      let release = () => {};
      const open = new Promise<void>((resolve) => (release = resolve));
      gate = { waiting: n, open, release };
    },
    builtin: (seed, signature = SIGNATURE) =>
      file(
        `model-${seed}.json`,
        JSON.stringify({ format: "ballast.builtin/v1", seed, ...(signature === null ? {} : { signature }) }),
      ),
    file,
  };
}
