/**
 * Gradient-boosted trees, histogram-based (the LightGBM / scikit-learn HistGradientBoosting
 * recipe): each feature is cut into at most `bins` bins at quantiles of its values (a sketch
 * in one pass over the design file), rows are kept as one byte per feature, and each split is
 * found from per-bin sums of gradients and hessians. Second-order (Newton) leaves with an L2
 * penalty λ: value = −G / (H + λ), split gain = G_L²/(H_L+λ) + G_R²/(H_R+λ) − G²/(H+λ).
 * Binary log-loss or squared error.
 *
 * Memory: per row, one byte per feature plus the label and the running score (float64): a
 * million rows of ten features is ~26 MB. Not flat in the rows like the linear trainers, but
 * far below the rows themselves (there is no pass-over-disk way to grow a tree level cheaply).
 */
import { invalid } from "../domain/errors.js";
import { QuantileSketch } from "../math/sketches/quantile-sketch.js";
import {
  BUILTIN_FORMAT,
  parseBuiltinModel,
  type BuiltinModel,
  type Tree,
} from "../runtimes/builtin/format.js";
import { passOver, type DesignFile } from "./design-file.js";

export interface GbtOptions {
  readonly regression: boolean;
  readonly trees?: number;
  readonly depth?: number;
  readonly learningRate?: number;
  readonly bins?: number;
  /** Rows a leaf must hold at least. */
  readonly minLeaf?: number;
  /** λ, the L2 penalty on leaf values. */
  readonly l2?: number;
  readonly signal?: AbortSignal;
}

/** Rows the trainer holds at most (bytes per row ~ features + 24). */
export const MAX_GBT_ROWS = 20_000_000;

const sigmoid = (z: number): number => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)));

/** Sorted distinct cut points at the feature's quantiles: bin j holds edges[j-1] < x <= edges[j]. */
function edgesOf(sketch: QuantileSketch, bins: number): number[] {
  const qs = Array.from({ length: bins - 1 }, (_, i) => (i + 1) / bins);
  const cuts = sketch.quantiles(qs);
  const edges: number[] = [];
  for (const c of cuts)
    if (Number.isFinite(c) && (edges.length === 0 || c > (edges[edges.length - 1] as number))) edges.push(c);
  return edges;
}

function binOf(edges: Float64Array, x: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (x <= (edges[mid] as number)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

export async function trainGradientBoosting(design: DesignFile, options: GbtOptions): Promise<BuiltinModel> {
  const trees = options.trees ?? 100;
  const depth = options.depth ?? 3;
  const rate = options.learningRate ?? 0.1;
  const bins = Math.min(options.bins ?? 64, 255);
  const minLeaf = options.minLeaf ?? 20;
  const lambda = options.l2 ?? 1;
  const n = design.rows;
  const d = design.features.length;
  if (n > MAX_GBT_ROWS) throw invalid(`gbt trains on at most ${MAX_GBT_ROWS} rows; this input has ${n}`);
  // Pass 1: each feature's quantiles.
  const sketches = design.features.map(() => new QuantileSketch());
  await passOver(
    design,
    (chunk, rows) => {
      for (let i = 0; i < rows; i++)
        for (let j = 0; j < d; j++) (sketches[j] as QuantileSketch).update(chunk[i * (d + 1) + j] as number);
    },
    options.signal,
  );
  const edges = sketches.map((s) => Float64Array.from(edgesOf(s, bins)));
  // Pass 2: rows as bin codes and labels.
  const codes = new Uint8Array(n * d);
  const y = new Float64Array(n);
  let at = 0;
  await passOver(
    design,
    (chunk, rows) => {
      for (let i = 0; i < rows; i++, at++) {
        for (let j = 0; j < d; j++)
          codes[at * d + j] = binOf(edges[j] as Float64Array, chunk[i * (d + 1) + j] as number);
        y[at] = chunk[i * (d + 1) + d] as number;
      }
    },
    options.signal,
  );
  const mean = design.labelMean;
  const base = options.regression ? mean : Math.log(Math.max(mean, 1e-12) / Math.max(1 - mean, 1e-12));
  const score = new Float64Array(n).fill(base);
  const g = new Float64Array(n);
  const h = new Float64Array(n);
  const order = new Uint32Array(n);
  const width = bins + 1;
  /** Per-bin sums of gradients, hessians and rows, [feature × (bins + 1)] each, in one array. */
  const histogramOf = (start: number, end: number): Float64Array => {
    const hist = new Float64Array(3 * d * width);
    const gOff = 0;
    const hOff = d * width;
    const nOff = 2 * d * width;
    for (let k = start; k < end; k++) {
      const i = order[k] as number;
      const gi = g[i] as number;
      const hi = h[i] as number;
      for (let j = 0; j < d; j++) {
        const b = j * width + (codes[i * d + j] as number);
        hist[gOff + b] = (hist[gOff + b] as number) + gi;
        hist[hOff + b] = (hist[hOff + b] as number) + hi;
        hist[nOff + b] = (hist[nOff + b] as number) + 1;
      }
    }
    return hist;
  };
  const built: Tree[] = [];

  for (let t = 0; t < trees; t++) {
    if (options.signal?.aborted === true) throw options.signal.reason;
    for (let i = 0; i < n; i++) {
      if (options.regression) {
        g[i] = (score[i] as number) - (y[i] as number);
        h[i] = 1;
      } else {
        const p = sigmoid(score[i] as number);
        g[i] = p - (y[i] as number);
        h[i] = Math.max(p * (1 - p), 1e-16);
      }
      order[i] = i;
    }
    const feature: number[] = [];
    const threshold: number[] = [];
    const left: number[] = [];
    const right: number[] = [];
    const value: number[] = [];
    /** Each leaf's rows (a range of `order`) and value, to move the scores without a traversal. */
    const leaves: Array<[number, number, number]> = [];
    /** Grows the node over order[start, end); returns its index. */
    /** `given`: the node's histogram when its parent had it (the larger child: parent − sibling). */
    const grow = (start: number, end: number, level: number, given?: Float64Array): number => {
      const node = feature.length;
      feature.push(-1);
      threshold.push(0);
      left.push(0);
      right.push(0);
      value.push(0);
      let G = 0;
      let H = 0;
      for (let k = start; k < end; k++) {
        const i = order[k] as number;
        G += g[i] as number;
        H += h[i] as number;
      }
      const count = end - start;
      const leaf = () => {
        value[node] = (-G / (H + lambda)) * rate;
        leaves.push([start, end, value[node] as number]);
        return node;
      };
      if (level >= depth || count < 2 * minLeaf) return leaf();
      // Histogram subtraction (LightGBM's trick): only the smaller child is summed row by row.
      const hist = given ?? histogramOf(start, end);
      const parent = (G * G) / (H + lambda);
      let best = 0;
      let bestFeature = -1;
      let bestBin = -1;
      for (let j = 0; j < d; j++) {
        const cuts = (edges[j] as Float64Array).length;
        let gl = 0;
        let hl = 0;
        let nl = 0;
        for (let b = 0; b < cuts; b++) {
          gl += hist[j * width + b] as number;
          hl += hist[d * width + j * width + b] as number;
          nl += hist[2 * d * width + j * width + b] as number;
          if (nl < minLeaf) continue;
          if (count - nl < minLeaf) break;
          const gr = G - gl;
          const hr = H - hl;
          const gain = (gl * gl) / (hl + lambda) + (gr * gr) / (hr + lambda) - parent;
          if (gain > best + 1e-12) {
            best = gain;
            bestFeature = j;
            bestBin = b;
          }
        }
      }
      if (bestFeature === -1) return leaf();
      // Partition order[start, end) in place: codes <= bestBin first.
      let lo = start;
      let hi = end - 1;
      while (lo <= hi) {
        if ((codes[(order[lo] as number) * d + bestFeature] as number) <= bestBin) lo++;
        else {
          const tmp = order[lo] as number;
          order[lo] = order[hi] as number;
          order[hi] = tmp;
          hi--;
        }
      }
      feature[node] = bestFeature;
      threshold[node] = (edges[bestFeature] as Float64Array)[bestBin] as number;
      let leftHist: Float64Array | undefined;
      let rightHist: Float64Array | undefined;
      if (level + 1 < depth) {
        const smallerIsLeft = lo - start <= end - lo;
        const smaller = smallerIsLeft ? histogramOf(start, lo) : histogramOf(lo, end);
        const larger = hist.map((v, k) => v - (smaller[k] as number));
        [leftHist, rightHist] = smallerIsLeft ? [smaller, larger] : [larger, smaller];
      }
      left[node] = grow(start, lo, level + 1, leftHist);
      right[node] = grow(lo, end, level + 1, rightHist);
      return node;
    };
    grow(0, n, 0);
    // Scores move by the tree just grown: each row by the leaf whose range of `order` holds it.
    for (const [start, end, v] of leaves) {
      for (let k = start; k < end; k++) {
        const row = order[k] as number;
        score[row] = (score[row] as number) + v;
      }
    }
    built.push({ feature, threshold, left, right, value });
  }
  let loss = 0;
  for (let i = 0; i < n; i++) {
    const s = score[i] as number;
    loss += options.regression
      ? (s - (y[i] as number)) ** 2
      : Math.log1p(Math.exp(-Math.abs(s))) + Math.max(s, 0) - (y[i] as number) * s;
  }
  return parseBuiltinModel({
    format: BUILTIN_FORMAT,
    kind: "gradient_boosted_trees",
    objective: options.regression ? "regression" : "binary",
    features: [...design.features],
    intercept: base,
    trees: built,
    training: {
      algorithm: "histogram-gbt",
      rows: n,
      trees,
      depth,
      learningRate: rate,
      bins,
      minLeaf,
      l2: lambda,
      trainLoss: loss / n,
    },
  });
}
