/** A temporary folder per test file, made before its tests and removed after them. */
import { after, before } from "node:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Scratch {
  /** The folder; set once the file's `before` hook has run. */
  readonly dir: string;
  /** Writes `text` to `name` in the folder and returns its path. */
  file(name: string, text: string): Promise<string>;
}

export function scratchDir(prefix: string): Scratch {
  const scratch = {
    dir: "",
    async file(name: string, text: string): Promise<string> {
      const path = join(scratch.dir, name);
      await writeFile(path, text);
      return path;
    },
  };
  before(async () => {
    scratch.dir = await mkdtemp(join(tmpdir(), prefix));
  });
  after(async () => {
    await rm(scratch.dir, { recursive: true, force: true });
  });
  return scratch;
}
