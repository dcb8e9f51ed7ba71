/**
 * scipy's `ks_2samp` per feature on the raw values the window run wrote, timing the file load and
 * the KS calls separately. Uses Debian's /usr/bin/python3 (python3-scipy); when it has no scipy,
 * says so instead of failing.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

export const PYTHON = "/usr/bin/python3";

export interface ScipyKs {
  readonly version: string;
  readonly loadSeconds: number;
  readonly ksSeconds: number;
  readonly statistic: number[];
  readonly pvalue: number[];
}

const SCRIPT = `
import json, sys, time
import numpy as np, scipy
from scipy.stats import ks_2samp
ref_path, cur_path, f = sys.argv[1], sys.argv[2], int(sys.argv[3])
t0 = time.perf_counter()
ref = np.fromfile(ref_path, dtype="<f8").reshape(-1, f)
cur = np.fromfile(cur_path, dtype="<f8").reshape(-1, f)
# Contiguous columns, so the KS timing is not charged for strided access.
ref_cols = [np.ascontiguousarray(ref[:, j]) for j in range(f)]
cur_cols = [np.ascontiguousarray(cur[:, j]) for j in range(f)]
t1 = time.perf_counter()
stats, ps = [], []
for j in range(f):
    r = ks_2samp(ref_cols[j], cur_cols[j])
    stats.append(float(r.statistic)); ps.append(float(r.pvalue))
t2 = time.perf_counter()
print(json.dumps({"version": scipy.__version__, "loadSeconds": t1 - t0, "ksSeconds": t2 - t1,
                  "statistic": stats, "pvalue": ps}))
`;

/** Null with the reason when python3 or scipy is missing. */
export function scipyAvailable(): string | null {
  if (!existsSync(PYTHON)) return `${PYTHON} not found`;
  const probe = spawnSync(PYTHON, ["-c", "import scipy.stats, numpy"], { encoding: "utf8" });
  return probe.status === 0 ? null : `${PYTHON} has no scipy/numpy (apt-get install python3-scipy)`;
}

export function scipyKs(
  referenceFile: string,
  currentFile: string,
  features: number,
  timeoutMs: number,
): ScipyKs {
  const run = spawnSync(PYTHON, ["-c", SCRIPT, referenceFile, currentFile, String(features)], {
    encoding: "utf8",
    timeout: timeoutMs,
    maxBuffer: 1 << 20,
  });
  if (run.status !== 0) throw new Error(`scipy KS failed (${run.status ?? run.signal}): ${run.stderr}`);
  return JSON.parse(run.stdout) as ScipyKs;
}
