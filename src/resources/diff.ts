/** What `ballast diff` and out-of-sync reports show: two specs as YAML, line by line. */
import { stringify } from "yaml";
import { REDACTED, redactSecrets } from "../domain/redact.js";

/** YAML with keys sorted, so equal specs print the same whatever order they were written in. */
export function specYaml(value: unknown): string {
  return stringify(sorted(value), { lineWidth: 0 });
}

export function sameSpec(a: unknown, b: unknown): boolean {
  return JSON.stringify(sorted(a)) === JSON.stringify(sorted(b));
}

function sorted(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sorted);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
        .map((k) => [k, sorted((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

/**
 * A unified-style diff of two texts: `-` lines only in `before`, `+` only in `after`, and up to
 * `context` unchanged lines around each change. Empty when they are equal.
 */
export function lineDiff(before: string, after: string, context = 3): string {
  const a = before === "" ? [] : before.replace(/\n$/, "").split("\n");
  const b = after === "" ? [] : after.replace(/\n$/, "").split("\n");
  // Longest common subsequence by dynamic programming: specs are tens of lines.
  const lcs: number[][] = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
    }
  }
  const ops: Array<{ op: " " | "-" | "+"; line: string }> = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      ops.push({ op: " ", line: a[i]! });
      i++;
      j++;
    } else if (i < a.length && (j === b.length || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) {
      ops.push({ op: "-", line: a[i]! });
      i++;
    } else {
      ops.push({ op: "+", line: b[j]! });
      j++;
    }
  }
  if (ops.every((o) => o.op === " ")) return "";
  const near = ops.map((_, k) =>
    ops.slice(Math.max(0, k - context), k + context + 1).some((o) => o.op !== " "),
  );
  const out: string[] = [];
  let skipped = false;
  ops.forEach((o, k) => {
    if (!near[k]) {
      skipped = true;
      return;
    }
    if (skipped && out.length > 0) out.push("  ...");
    skipped = false;
    out.push(`${o.op} ${o.line}`);
  });
  return out.join("\n") + "\n";
}

/**
 * What changes between two specs, as `-`/`+` lines, with secrets redacted on both sides (the
 * diff is returned to clients and written to events). `null` stands for "no spec". When only
 * secret values differ, one line says so rather than showing an empty diff.
 */
export function specDiff(before: unknown, after: unknown): string {
  const text = (spec: unknown) => (spec === null || spec === undefined ? "" : specYaml(redactSecrets(spec)));
  const diff = lineDiff(text(before), text(after));
  if (diff === "" && !sameSpec(before, after)) return `~ ${REDACTED} values changed (not shown)\n`;
  return diff;
}
