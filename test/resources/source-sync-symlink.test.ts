/**
 * A watched source may only apply files inside itself. A symlink committed to the repository
 * (or dropped into a watched folder) that leads to a YAML file elsewhere on the server is not
 * read, and it is reported in the sync state and the event log rather than passed over.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestServer, type TestServer } from "../helpers/app.js";
import { gitIn } from "../helpers/git.js";
import { folderSource, gitSource, SourceSync, type ManifestSource } from "../../src/resources/source-sync.js";

const deployment = (name: string, timeoutMs: number) => `apiVersion: ballast/v1
kind: Deployment
metadata:
  name: ${name}
spec:
  timeoutMs: ${timeoutMs}
  variants: [{model: fraud, version: 1}]
`;

interface Event {
  kind: string;
  reason: string;
  type: string;
  message: string;
  details: Record<string, unknown>;
}

describe("symlinks out of a watched source", () => {
  let server: TestServer;
  let outside: string;
  let repo: string;
  let work: string;
  const git = gitIn(() => repo);
  const exists = async (name: string) =>
    (await server.app.inject({ url: `/api/v1/deployments/${name}` })).statusCode === 200;
  const events = async (): Promise<Event[]> =>
    ((await server.app.inject({ url: "/api/v1/events?kind=Source" })).json() as { events: Event[] }).events;
  const syncOf = (source: ManifestSource) =>
    new SourceSync(source, server.ballast.resources, server.ballast.events, server.clock);

  before(async () => {
    server = await startTestServer();
    // Somewhere else on the server: a manifest nobody put in the repository.
    outside = await mkdtemp(join(tmpdir(), "ballast-outside-"));
    await writeFile(join(outside, "evil.yaml"), deployment("evil", 1));
    await mkdir(join(outside, "dir"));
    await writeFile(join(outside, "dir", "evil2.yaml"), deployment("evil-two", 1));

    repo = await mkdtemp(join(tmpdir(), "ballast-repo-"));
    work = await mkdtemp(join(tmpdir(), "ballast-clones-"));
    git("init", "--quiet", "--initial-branch", "main");
    await mkdir(join(repo, "deploy"));
    await writeFile(join(repo, "deploy", "shop.yaml"), deployment("shop", 600));
    await symlink(join(outside, "evil.yaml"), join(repo, "deploy", "evil.yaml"));
    await symlink(join(outside, "dir"), join(repo, "deploy", "more"));
    await symlink(join(outside, "evil.yaml"), join(repo, "entry.yaml"));
    await symlink(outside, join(repo, "elsewhere"));
    git("add", ".");
    git("commit", "--quiet", "-m", "shop, and links out");
  });
  after(async () => {
    await server.close();
    for (const d of [outside, repo, work]) await rm(d, { recursive: true, force: true });
  });

  test("symlinks inside --git-path to files and folders outside the clone are skipped and reported", async () => {
    const sync = syncOf(gitSource({ repo, branch: "main", path: "deploy", workDir: work }));
    await sync.sync();
    assert.equal(sync.status().lastError, null);
    assert.equal(await exists("shop"), true);
    assert.equal(await exists("evil"), false, "the file behind the link is not applied");
    assert.equal(await exists("evil-two"), false, "the folder behind the link is not read");
    // The state GET /api/v1/sync serves.
    const state = sync.status();
    assert.deepEqual(
      state.skipped.map((s) => s.file),
      ["deploy/evil.yaml", "deploy/more"],
    );
    assert.match(state.skipped[0]?.reason ?? "", /outside the source/);
    const skipped = (await events()).filter((e) => e.reason === "FilesSkipped");
    assert.equal(skipped.length, 1);
    assert.equal(skipped[0]?.type, "Warning");
    assert.match(skipped[0]?.message ?? "", /deploy\/evil\.yaml/);
    // Not again on every poll.
    await sync.sync();
    assert.equal((await events()).filter((e) => e.reason === "FilesSkipped").length, 1);
  });

  test("--git-path naming a symlink out of the clone is refused, nothing is applied", async () => {
    for (const path of ["entry.yaml", "elsewhere", "elsewhere/dir"]) {
      const sync = syncOf(gitSource({ repo, branch: "main", path, workDir: work }));
      await sync.sync();
      assert.match(sync.status().lastError ?? "", /leads outside/, path);
    }
    assert.equal(await exists("evil"), false);
    assert.equal(await exists("evil-two"), false);
  });

  test("--git-path with .. or an absolute path is refused before anything is read", () => {
    for (const path of ["..", "../x", "deploy/../../x", outside, join(outside, "evil.yaml")]) {
      assert.throws(() => gitSource({ repo, branch: "main", path, workDir: work }), {
        code: "invalid_argument",
        message: /--git-path must be a folder inside the repository/,
      });
    }
  });

  test("a watched folder: symlinks out are skipped and reported, symlinks within are read", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ballast-watch-"));
    try {
      await writeFile(join(dir, "inner.yaml"), deployment("inner", 700));
      // A dot-folder is not read on its own; a link to a file in it, inside the folder, is.
      await mkdir(join(dir, ".shared"));
      await writeFile(join(dir, ".shared", "linked-target.yml"), deployment("linked", 800));
      await symlink(join(dir, ".shared", "linked-target.yml"), join(dir, "alias.yaml"));
      await symlink(join(outside, "evil.yaml"), join(dir, "evil.yaml"));
      await symlink(join(outside, "dir"), join(dir, "evil-dir"));
      const sync = syncOf(folderSource(dir));
      await sync.sync();
      assert.equal(sync.status().lastError, null);
      assert.equal(await exists("inner"), true);
      assert.equal(await exists("linked"), true);
      assert.equal(await exists("evil"), false);
      assert.equal(await exists("evil-two"), false);
      assert.deepEqual(
        sync.status().skipped.map((s) => s.file),
        ["evil-dir", "evil.yaml"],
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
