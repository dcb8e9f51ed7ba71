/**
 * Lists the files a `files` trigger's glob matches under its root: `*`, `?` and `[...]` within
 * one path segment, one directory level per segment (no `**`), so a poll's cost follows the
 * pattern. A match that resolves outside the root (a symbolic link out) is left out; the
 * listing stops at `maxFiles` and says how many it left out.
 */
import { lstat, readdir, realpath, stat } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import type { SeenFile } from "./decide.js";

export interface GlobListing {
  readonly files: SeenFile[];
  /** Matches past maxFiles, not listed (counted, so the cap shows). */
  readonly leftOut: number;
}

export async function listGlob(root: string, pattern: string, maxFiles = 10_000): Promise<GlobListing> {
  const base = await realpath(root).catch(() => null);
  if (base === null) return { files: [], leftOut: 0 };
  const segments = pattern.split("/");
  let dirs = [base];
  for (const segment of segments.slice(0, -1)) {
    const next: string[] = [];
    for (const dir of dirs) next.push(...(await matching(dir, segment, true)));
    dirs = next;
  }
  const files: SeenFile[] = [];
  let leftOut = 0;
  const last = segments[segments.length - 1] as string;
  for (const dir of dirs) {
    for (const path of await matching(dir, last, false)) {
      const real = await realpath(path).catch(() => null);
      if (real === null || !inside(base, real)) continue;
      const info = await stat(real).catch(() => null);
      if (info === null || !info.isFile()) continue;
      if (files.length >= maxFiles) {
        leftOut += 1;
        continue;
      }
      files.push({
        name: relative(base, path).split(sep).join("/"),
        size: info.size,
        mtimeMs: Math.floor(info.mtimeMs),
      });
    }
  }
  files.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { files, leftOut };
}

async function matching(dir: string, segment: string, directories: boolean): Promise<string[]> {
  if (!/[*?[]/.test(segment)) {
    const path = join(dir, segment);
    const info = await lstat(path).catch(() => null);
    if (info === null) return [];
    return directories && !info.isDirectory() && !info.isSymbolicLink() ? [] : [path];
  }
  const regex = segmentRegex(segment);
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => regex.test(e.name) && (!directories || e.isDirectory() || e.isSymbolicLink()))
    .map((e) => join(dir, e.name));
}

/** One glob segment as a regular expression; hidden files match only a pattern starting with a dot. */
export function segmentRegex(segment: string): RegExp {
  let out = segment.startsWith(".") ? "" : "(?!\\.)";
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i] as string;
    if (c === "*") out += "[^/]*";
    else if (c === "?") out += "[^/]";
    else if (c === "[") {
      const end = segment.indexOf("]", i + 1);
      if (end === -1) out += "\\[";
      else {
        const body = segment.slice(i + 1, end).replace(/\\/g, "\\\\");
        out += `[${body.startsWith("!") ? `^${body.slice(1)}` : body}]`;
        i = end;
      }
    } else out += c.replace(/[.+^${}()|\\\]]/g, "\\$&");
  }
  return new RegExp(`^${out}$`);
}

function inside(base: string, path: string): boolean {
  const rel = relative(base, path);
  return rel !== "" && !rel.startsWith("..") && !rel.startsWith(sep);
}
