/**
 * Which files a `files` source may read: paths and globs relative to an allowed root (the
 * server's working directory by default), never outside it. A pattern is decoded first (so
 * `%2e%2e` is `..`), a `..` segment is refused outright, and every match is resolved through
 * its symlinks and must still be inside the root's own real path.
 */
import { realpath, stat } from "node:fs/promises";
import { isAbsolute, relative, resolve, sep } from "node:path";
import { glob } from "tinyglobby";
import { invalid, notFound } from "../domain/errors.js";

/** Files one source may match; more is refused (a pattern that matched a whole disk). */
export const MAX_MATCHED_FILES = 10_000;

export interface MatchedFile {
  readonly path: string;
  /** As the pattern named it, relative to its root. */
  readonly name: string;
  readonly bytes: number;
  readonly mtimeMs: number;
}

function inside(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel === "" ? false : !isAbsolute(rel) && rel !== ".." && !rel.startsWith(`..${sep}`);
}

/** The pattern, decoded and checked; throws naming `field` when it could leave the roots. */
export function checkPattern(pattern: string, field: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(pattern);
  } catch {
    throw invalid(`${field}: ${JSON.stringify(pattern)} is not a valid path`, { field });
  }
  if (decoded.includes("\0")) throw invalid(`${field}: a path cannot contain NUL`, { field });
  if (decoded.split(/[\\/]/).includes(".."))
    throw invalid(
      `${field}: ${JSON.stringify(pattern)} has a '..' segment; paths stay inside the allowed roots`,
      {
        field,
      },
    );
  return decoded;
}

/**
 * The files matching `pattern` (a path or a glob) under one of `roots`, sorted by name. An
 * absolute pattern must lie inside a root; a relative one resolves against the first root.
 */
export async function matchFiles(
  pattern: string,
  roots: readonly string[],
  field: string,
): Promise<MatchedFile[]> {
  const decoded = checkPattern(pattern, field);
  if (roots.length === 0) throw invalid(`${field}: this server allows no file sources (no roots)`, { field });
  const absolute = isAbsolute(decoded);
  const root = absolute
    ? roots.map((r) => resolve(r)).find((r) => inside(r, resolve(decoded)))
    : resolve(roots[0] as string);
  if (root === undefined)
    throw invalid(`${field}: ${decoded} is outside the allowed roots (${roots.join(", ")})`, { field });
  const realRoot = await realpath(root).catch(() => {
    throw notFound(`${field}: the root ${root} does not exist`, { field });
  });
  const relativePattern = absolute ? relative(root, decoded) : decoded;
  const names = await glob(relativePattern.split(sep).join("/"), {
    cwd: root,
    onlyFiles: true,
    // Links are listed (and then refused below when they lead out), not silently skipped.
    followSymbolicLinks: true,
    dot: false,
    expandDirectories: false,
  });
  if (names.length > MAX_MATCHED_FILES)
    throw invalid(`${field}: ${decoded} matches ${names.length} files; at most ${MAX_MATCHED_FILES}`, {
      field,
    });
  const files: MatchedFile[] = [];
  for (const name of names.sort()) {
    const path = resolve(root, name);
    // Symlinks followed before deciding: a link inside the root may point anywhere.
    const real = await realpath(path);
    if (!inside(realRoot, real))
      throw invalid(`${field}: ${name} leads outside the allowed root ${root} (a symlink)`, { field });
    const info = await stat(real);
    files.push({ path: real, name, bytes: info.size, mtimeMs: info.mtimeMs });
  }
  return files;
}
