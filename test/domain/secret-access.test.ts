/** What a notifier's secret references may read: the pure policy, and the reader that applies it again. */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  checkSecretEnv,
  checkSecretFile,
  DEFAULT_SECRET_ACCESS,
  isEnvAllowed,
  parseSecretEnv,
  secretAccessOf,
  secretFilePath,
  type SecretAccess,
} from "../../src/domain/secret-access.js";
import { resolveSecret } from "../../src/alerts/notifiers/secret-ref.js";

describe("secret access: files", () => {
  const access: SecretAccess = { dir: "/run/secrets", env: [] };

  test("a relative path is inside the directory", () => {
    assert.equal(secretFilePath(access, "smtp"), "/run/secrets/smtp");
    assert.equal(secretFilePath(access, "hooks/slack"), "/run/secrets/hooks/slack");
  });

  test("an absolute path inside the directory is allowed", () => {
    assert.equal(secretFilePath(access, "/run/secrets/smtp"), "/run/secrets/smtp");
    assert.equal(checkSecretFile(access, "/run/secrets/a/b", "x.file"), "/run/secrets/a/b");
  });

  test("'..' is refused, even when it would stay inside", () => {
    assert.equal(secretFilePath(access, "../../etc/shadow"), undefined);
    assert.equal(secretFilePath(access, "/run/secrets/../secrets/smtp"), undefined);
    assert.equal(secretFilePath(access, "a/../b"), undefined);
  });

  test("an absolute path outside, a sibling with the same prefix, or the directory itself is refused", () => {
    assert.equal(secretFilePath(access, "/etc/passwd"), undefined);
    assert.equal(secretFilePath(access, "/run/secrets-other/x"), undefined);
    assert.equal(secretFilePath(access, "/run/secrets"), undefined);
    assert.equal(secretFilePath(access, "."), undefined);
    assert.throws(
      () => checkSecretFile(access, "/etc/passwd", "spec.headersFrom.Authorization.file"),
      (error: Error & { details?: { field?: string } }) =>
        /^spec\.headersFrom\.Authorization\.file: "\/etc\/passwd" is outside the secrets directory \/run\/secrets \(--secrets-dir\)/.test(
          error.message,
        ) && error.details?.field === "spec.headersFrom.Authorization.file",
    );
  });

  test("the flags: defaults, a relative --secrets-dir made absolute", () => {
    assert.deepEqual(secretAccessOf({}), DEFAULT_SECRET_ACCESS);
    assert.equal(secretAccessOf({ dir: "rel" }).dir, join(process.cwd(), "rel"));
    assert.throws(() => secretAccessOf({ dir: "" }), /--secrets-dir/);
  });
});

describe("secret access: environment variables", () => {
  test("the default allows BALLAST_SECRET_* only", () => {
    assert.ok(isEnvAllowed(DEFAULT_SECRET_ACCESS, "BALLAST_SECRET_SMTP"));
    assert.ok(!isEnvAllowed(DEFAULT_SECRET_ACCESS, "SMTP_PASSWORD"));
    assert.ok(!isEnvAllowed(DEFAULT_SECRET_ACCESS, "BALLAST_TOKEN"));
  });

  test("names and prefixes from --secret-env", () => {
    const access = { dir: "/run/secrets", env: parseSecretEnv("SMTP_PASSWORD, HOOK_*") };
    assert.ok(isEnvAllowed(access, "SMTP_PASSWORD"));
    assert.ok(isEnvAllowed(access, "HOOK_TOKEN"));
    assert.ok(!isEnvAllowed(access, "SMTP_PASSWORD2"));
    assert.ok(!isEnvAllowed(access, "HOME"));
    assert.throws(
      () => checkSecretEnv(access, "HOME", "spec.auth.passFrom.env"),
      /spec\.auth\.passFrom\.env: environment variable HOME is not allowed; this server allows SMTP_PASSWORD, HOOK_\* \(--secret-env\)/,
    );
    assert.deepEqual(parseSecretEnv(""), []);
    assert.throws(() => parseSecretEnv("*"), /not a variable name/);
    assert.throws(() => parseSecretEnv("A-B"), /not a variable name/);
  });

  test("the server's own variables are refused even when a pattern names them", () => {
    const access = { dir: "/run/secrets", env: parseSecretEnv("BALLAST_*,BALLAST_TOKEN,PGPASSWORD,P*") };
    for (const name of [
      "BALLAST_TOKEN",
      "BALLAST_TOKEN_FILE",
      "BALLAST_INFERENCE_TOKEN",
      "BALLAST_STORE",
      "BALLAST_DATA_DIR",
      "BALLAST_SERVER",
      "PGPASSWORD",
    ]) {
      assert.ok(!isEnvAllowed(access, name), name);
      assert.throws(() => checkSecretEnv(access, name, "f.env"), /one the server itself uses/);
    }
    // Every BALLAST_* but BALLAST_SECRET_*: what the server reads now and may read later.
    assert.ok(!isEnvAllowed(access, "BALLAST_HOOK"));
    assert.ok(!isEnvAllowed(access, "BALLAST_SECRET_ENV"));
    assert.ok(isEnvAllowed(access, "BALLAST_SECRET_HOOK"));
  });
});

describe("secret access: read time", () => {
  let root = "";
  let access: SecretAccess;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), "ballast-secrets-"));
    await mkdir(join(root, "secrets"));
    await writeFile(join(root, "secrets", "token"), "t0ken\n");
    await writeFile(join(root, "outside"), "not for notifiers");
    await symlink(join(root, "outside"), join(root, "secrets", "leak"));
    await symlink(join(root, "secrets", "token"), join(root, "secrets", "alias"));
    access = { dir: join(root, "secrets"), env: ["BALLAST_SECRET_*"] };
  });
  after(() => rm(root, { recursive: true, force: true }));

  test("a relative or absolute file inside is read; a symlink staying inside is followed", async () => {
    assert.equal(await resolveSecret({ file: "token" }, "r", "f", access), "t0ken");
    assert.equal(await resolveSecret({ file: join(root, "secrets", "token") }, "r", "f", access), "t0ken");
    assert.equal(await resolveSecret({ file: "alias" }, "r", "f", access), "t0ken");
  });

  test("a symlink leading out of the directory is refused when read", async () => {
    // Lexically inside, so it passes when declared; the reader follows it and says no.
    assert.doesNotThrow(() => checkSecretFile(access, "leak", "f.file"));
    await assert.rejects(
      resolveSecret({ file: "leak" }, "webhook w", "headersFrom.A", access),
      /webhook w: headersFrom\.A: leak is outside the secrets directory/,
    );
  });

  test("paths outside and '..' are refused at read time too", async () => {
    await assert.rejects(
      resolveSecret({ file: join(root, "outside") }, "r", "f", access),
      /outside the secrets/,
    );
    await assert.rejects(resolveSecret({ file: "../outside" }, "r", "f", access), /outside the secrets/);
  });

  test("env: an allowed name is read; BALLAST_TOKEN never, whatever the list", async () => {
    process.env.BALLAST_SECRET_UNIT = "v";
    try {
      assert.equal(await resolveSecret({ env: "BALLAST_SECRET_UNIT" }, "r", "f", access), "v");
      const wide = { dir: access.dir, env: ["BALLAST_*"] };
      await assert.rejects(
        resolveSecret({ env: "BALLAST_TOKEN" }, "r", "f", wide),
        /BALLAST_TOKEN is not allowed/,
      );
      await assert.rejects(resolveSecret({ env: "HOME" }, "r", "f", access), /HOME is not allowed/);
    } finally {
      delete process.env.BALLAST_SECRET_UNIT;
    }
  });
});
