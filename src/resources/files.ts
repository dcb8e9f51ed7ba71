/** Manifests from files and folders, checked as they are read so errors name file and line. */
import { readdir, readFile, realpath, stat } from "node:fs/promises";
import { isAbsolute, join, relative, resolve } from "node:path";
import { invalid, notFound } from "../domain/errors.js";
import { canonicalManifest } from "./kinds.js";
import { locateSpecError, readManifests, type ReadManifest } from "./manifest.js";

const MANIFEST_FILE = /\.(ya?ml|json)$/i;

/**
 * Every manifest in these files or folders (folders recursively, in name order, skipping
 * dot-files and dot-folders such as `.git`). Files are named in errors as the user gave them
 * (a folder's files under the folder as given), or relative to `base` when one is given.
 */
export async function readManifestFiles(paths: readonly string[], base?: string): Promise<ReadManifest[]> {
  const out: ReadManifest[] = [];
  for (const path of paths) {
    const root = resolve(path);
    for (const file of await manifestFiles(path)) {
      const shown =
        base !== undefined ? relative(base, file) : file === root ? path : join(path, relative(root, file));
      out.push(...checkedManifests(await readFile(file, "utf8"), shown));
    }
  }
  if (out.length === 0) throw invalid(`no resources found in ${paths.join(", ")}`);
  return out;
}

/** Reads one text's manifests and checks each spec the way the server will. */
export function checkedManifests(text: string, file: string): ReadManifest[] {
  const manifests = readManifests(text, file);
  for (const read of manifests) {
    try {
      canonicalManifest(read.manifest);
    } catch (error) {
      throw locateSpecError(error, read);
    }
  }
  return manifests;
}

export async function manifestFiles(path: string): Promise<string[]> {
  const info = await stat(path).catch(() => {
    throw notFound(`no such file or folder: ${path}`);
  });
  if (info.isFile()) return [resolve(path)];
  const root = resolve(path);
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && MANIFEST_FILE.test(e.name))
    .map((e) => resolve(e.parentPath, e.name))
    .filter(
      (file) =>
        !relative(root, file)
          .split(/[\\/]/)
          .some((part) => part.startsWith(".")),
    )
    .sort();
}

/** A file left out of a watched source, and why: reported, never passed over in silence. */
export interface SkippedFile {
  /** As found, relative to the source's root. */
  readonly file: string;
  readonly reason: string;
}

export interface ContainedManifests {
  readonly manifests: ReadManifest[];
  readonly skipped: SkippedFile[];
}

/** True when `path` is `root` or below it; both real (symlink-free) absolute paths. */
export function isInside(path: string, root: string): boolean {
  const rel = relative(root, path);
  return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel));
}

/**
 * The manifests under `dir` whose real paths stay inside `root` (a git clone or a watched
 * folder). A symlink committed to a repository, or dropped into a watched folder, could
 * otherwise make the server read and apply any YAML file it can open. `dir` itself must
 * resolve inside `root` (an error otherwise); a symlinked file inside it is read when its target
 * is inside `root` too, and skipped otherwise; symlinked folders are never followed (they can
 * loop). Everything skipped is returned so the caller can report it.
 */
export async function readContainedManifests(dir: string, root: string): Promise<ContainedManifests> {
  const realRoot = await realpath(root).catch(() => {
    throw notFound(`no such folder: ${root}`);
  });
  const realDir = await realpath(dir).catch(() => {
    throw notFound(`no such file or folder: ${relative(root, dir) || "."} in ${root}`);
  });
  if (!isInside(realDir, realRoot)) {
    throw invalid(`${relative(root, dir)} leads outside ${root} (through a symlink or ..); it is not read`);
  }
  const skipped: SkippedFile[] = [];
  const files: Array<{ real: string; shown: string }> = [];
  const info = await stat(realDir);
  if (info.isFile()) {
    files.push({ real: realDir, shown: relative(root, dir) });
  } else {
    const entries = await readdir(realDir, { recursive: true, withFileTypes: true });
    for (const entry of entries) {
      const found = resolve(entry.parentPath, entry.name);
      const rel = relative(realDir, found);
      if (rel.split(/[\\/]/).some((part) => part.startsWith("."))) continue;
      // Manifests are named from `dir`, as before; what is skipped from the root, to be found there.
      const shown = relative(realRoot, found);
      if (entry.isFile()) {
        if (MANIFEST_FILE.test(entry.name)) files.push({ real: found, shown: rel });
        continue;
      }
      if (!entry.isSymbolicLink()) continue;
      const target = await realpath(found).catch(() => undefined);
      const folder = target !== undefined && (await stat(target)).isDirectory();
      // Links that would not be read as manifests anyway (a README.md link) are no news.
      if (!folder && !MANIFEST_FILE.test(entry.name)) continue;
      if (target === undefined) {
        skipped.push({ file: shown, reason: "a symlink whose target does not exist" });
      } else if (!isInside(target, realRoot)) {
        skipped.push({ file: shown, reason: "a symlink to a file or folder outside the source" });
      } else if (folder) {
        skipped.push({ file: shown, reason: "a symlinked folder; folders are not followed through links" });
      } else {
        files.push({ real: target, shown: rel });
      }
    }
  }
  files.sort((a, b) => (a.shown < b.shown ? -1 : a.shown > b.shown ? 1 : 0));
  const manifests: ReadManifest[] = [];
  for (const file of files)
    manifests.push(...checkedManifests(await readFile(file.real, "utf8"), file.shown));
  if (manifests.length === 0) {
    const also = skipped.length === 0 ? "" : ` (skipped: ${skipped.map((s) => s.file).join(", ")})`;
    throw invalid(`no resources found in ${relative(root, dir) || root}${also}`);
  }
  return { manifests, skipped };
}
