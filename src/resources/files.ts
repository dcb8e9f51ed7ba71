/** Manifests from files and folders, checked as they are read so errors name file and line. */
import { readdir, readFile, stat } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
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
