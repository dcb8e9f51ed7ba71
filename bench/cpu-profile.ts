/**
 * Where a server's CPU time went, from a V8 `.cpuprofile` (written by `BENCH_PROFILE=1 npm run
 * bench:serve`, i.e. `node --cpu-prof`): self time per function, time per source file or
 * package, and inclusive time of Ballast's own functions (src/), idle time left out.
 *
 *   npx tsx bench/cpu-profile.ts <file.cpuprofile> [top]
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  /** Microseconds since the previous sample. */
  timeDeltas: number[];
}

export interface Entry {
  readonly key: string;
  readonly ms: number;
}

export interface ProfileSummary {
  /** Sampled time spent doing something (not idle), in milliseconds. */
  readonly busyMs: number;
  readonly selfByFunction: Entry[];
  readonly selfByPlace: Entry[];
  readonly inclusiveInSrc: Entry[];
}

const ROOT = fileURLToPath(new URL("..", import.meta.url));

function shortUrl(url: string): string {
  const path = url.startsWith("file://") ? fileURLToPath(url) : url;
  return path.startsWith(ROOT) ? path.slice(ROOT.length) : path;
}

/** A source file of ours, a package, node's internals, or V8's pseudo-frames like (garbage collector). */
function placeOf(frame: CallFrame): string {
  const url = shortUrl(frame.url);
  if (url === "") return frame.functionName.startsWith("(") ? frame.functionName : "(native)";
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg !== null) return `pkg ${pkg[1]}`;
  if (url.startsWith("node:")) return "node internals";
  return url;
}

function functionKey(frame: CallFrame): string {
  const url = shortUrl(frame.url);
  const name = frame.functionName === "" ? "(anonymous)" : frame.functionName;
  if (url === "") return name;
  // tsx emits each module as one line, so line 1 says nothing; compiled code (dist/) has real lines.
  return frame.lineNumber > 0 ? `${name} ${url}:${frame.lineNumber + 1}` : `${name} ${url}`;
}

function sorted(map: Map<string, number>): Entry[] {
  return [...map].map(([key, us]) => ({ key, ms: us / 1000 })).sort((a, b) => b.ms - a.ms);
}

const add = (map: Map<string, number>, key: string, us: number): void =>
  void map.set(key, (map.get(key) ?? 0) + us);

export function summarise(profile: CpuProfile): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  const selfByFunction = new Map<string, number>();
  const selfByPlace = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let busy = 0;
  profile.samples.forEach((id, i) => {
    const us = profile.timeDeltas[i] ?? 0;
    const node = byId.get(id);
    if (node === undefined || node.callFrame.functionName === "(idle)") return;
    busy += us;
    add(selfByFunction, functionKey(node.callFrame), us);
    add(selfByPlace, placeOf(node.callFrame), us);
    // Each function on the stack once, however often it recurses.
    const onStack = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)?.callFrame;
      if (frame !== undefined && shortUrl(frame.url).startsWith("src/")) onStack.add(functionKey(frame));
    }
    for (const key of onStack) add(inclusive, key, us);
  });
  return {
    busyMs: busy / 1000,
    selfByFunction: sorted(selfByFunction),
    selfByPlace: sorted(selfByPlace),
    inclusiveInSrc: sorted(inclusive),
  };
}

function print(title: string, entries: Entry[], busyMs: number, top: number): void {
  console.log(`\n${title}`);
  for (const e of entries.slice(0, top)) {
    console.log(
      `${e.ms.toFixed(0).padStart(8)} ms ${((100 * e.ms) / busyMs).toFixed(1).padStart(5)}%  ${e.key}`,
    );
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [file, topArg] = process.argv.slice(2);
  if (file === undefined) {
    console.error("usage: tsx bench/cpu-profile.ts <file.cpuprofile> [top]");
    process.exit(2);
  }
  const top = Number(topArg ?? 25);
  const summary = summarise(JSON.parse(readFileSync(file, "utf8")) as CpuProfile);
  console.log(`busy (non-idle) time: ${summary.busyMs.toFixed(0)} ms`);
  print("Self time by place", summary.selfByPlace, summary.busyMs, top);
  print("Self time by function", summary.selfByFunction, summary.busyMs, top);
  print("Inclusive time of Ballast's functions (src/)", summary.inclusiveInSrc, summary.busyMs, top);
}
