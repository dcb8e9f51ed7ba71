/** `ballast models register --reference` and `ballast models reference`, against a real server process. */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { once } from "node:events";
import type { ModelVersion } from "../../src/domain/model.js";
import type { ReferenceProfile } from "../../src/monitoring/profile/reference-profile.js";
import { FRAUD_MODEL } from "../helpers/app.js";
import { ballast, startServer } from "../helpers/cli.js";

/** 30 rows; `night` is binary, `amount` and `hour` numerical; `is_fraud` is the label. */
function referenceCsv(columns = ["amount", "hour", "night", "is_fraud"]): string {
  const rows = Array.from({ length: 30 }, (_, i) => {
    const values: Record<string, number> = {
      amount: (i * 7) % 23,
      hour: i % 24,
      night: i % 3 === 0 ? 1 : 0,
      is_fraud: i % 5 === 0 ? 1 : 0,
    };
    return columns.map((c) => values[c]).join(",");
  });
  return [columns.join(","), ...rows].join("\n") + "\n";
}

describe("ballast models: reference profiles", () => {
  let dir: string;
  let server: { child: ChildProcess; url: string };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "ballast-cli-ref-"));
    const modelPath = join(dir, "fraud.json");
    await writeFile(modelPath, JSON.stringify(FRAUD_MODEL));
    server = await startServer(["--data-dir", join(dir, "data"), "--model", `fraud=${modelPath}`]);
  });
  after(async () => {
    server.child.kill("SIGTERM");
    await once(server.child, "exit");
    await rm(dir, { recursive: true, force: true });
  });

  const getJson = async <T>(path: string): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${server.url}${path}`);
    return { status: res.status, body: (await res.json()) as T };
  };

  test("register --reference data.csv profiles the file locally and stores it with the version", async () => {
    const csv = join(dir, "train.csv");
    await writeFile(csv, referenceCsv());
    const model = join(dir, "fraud-v2.json");
    await writeFile(model, JSON.stringify({ ...FRAUD_MODEL, intercept: -2 }));
    const reg = ballast([
      "models",
      "register",
      "fraud",
      model,
      "--reference",
      csv,
      "--reference-exclude",
      "is_fraud",
      "--server",
      server.url,
    ]);
    assert.equal(reg.status, 0, reg.stderr);
    assert.match(reg.stdout, /^fraud version 2 registered/m);
    assert.match(reg.stdout, /^reference: 30 rows, 3 features, sha256:[0-9a-f]{12}…$/m);

    const { status, body: profile } = await getJson<ReferenceProfile>(
      "/api/v1/models/fraud/versions/2/reference",
    );
    assert.equal(status, 200);
    assert.equal(profile.rows, 30);
    assert.deepEqual(
      profile.features.map((f) => [f.name, f.kind, f.count]),
      [
        ["amount", "numerical", 30],
        ["hour", "numerical", 30],
        ["night", "binary", 30],
      ],
    );
    // night is 1 on rows 0, 3, …, 27: ten of thirty, counted by hand.
    const night = profile.features[2];
    assert.ok(night?.kind === "binary");
    assert.deepEqual(night.categories, [
      { value: "0", count: 20 },
      { value: "1", count: 10 },
    ]);

    const show = ballast(["models", "show", "fraud", "2", "--server", server.url]);
    assert.equal(show.status, 0, show.stderr);
    const { body: version } = await getJson<ModelVersion>("/api/v1/models/fraud/versions/2");
    assert.match(
      show.stdout,
      new RegExp(`^reference:\\s+30 rows, 3 features, sha256:${version.referenceProfile?.sha256}$`, "m"),
    );
    const json = ballast(["models", "show", "fraud", "2", "-o", "json", "--server", server.url]);
    assert.deepEqual((JSON.parse(json.stdout) as ModelVersion).referenceProfile, version.referenceProfile);
  });

  test("models reference attaches a profile .json as it is; show reports it", async () => {
    const before = ballast(["models", "show", "fraud", "1", "--server", server.url]);
    assert.match(before.stdout, /^reference:\s+none$/m);

    const csv = join(dir, "ref.csv");
    await writeFile(csv, referenceCsv(["amount", "hour", "night"]));
    const profilePath = join(dir, "profile.json");
    const made = ballast(["profile", csv, "-o", profilePath]);
    assert.equal(made.status, 0, made.stderr);

    const attach = ballast(["models", "reference", "fraud", "1", profilePath, "--server", server.url]);
    assert.equal(attach.status, 0, attach.stderr);
    assert.match(attach.stdout, /^fraud version 1 reference: 30 rows, 3 features, sha256:[0-9a-f]{12}…$/m);

    const written = JSON.parse(await readFile(profilePath, "utf8")) as ReferenceProfile;
    const { body: stored } = await getJson<ReferenceProfile>("/api/v1/models/fraud/versions/1/reference");
    assert.deepEqual(stored, written, "a profile file is stored as it is, createdAt included");

    const after = ballast(["models", "show", "fraud", "1", "--server", server.url]);
    assert.match(after.stdout, /^reference:\s+30 rows, 3 features, sha256:[0-9a-f]{64}$/m);
  });

  test("bad references fail with one line and the right exit code", async () => {
    const notProfile = join(dir, "not-a-profile.json");
    await writeFile(notProfile, JSON.stringify({ rows: 3 }));
    const missingNight = join(dir, "no-night.csv");
    await writeFile(missingNight, referenceCsv(["amount", "hour"]));
    const profilePath = join(dir, "profile.json");
    const cases: Array<[string[], number, RegExp]> = [
      [
        ["models", "reference", "fraud", "1", notProfile, "--server", server.url],
        2,
        /not-a-profile\.json is not a reference profile \(profile\.version must be 1/,
      ],
      [
        ["models", "reference", "fraud", "1", missingNight, "--server", server.url],
        2,
        /lacks input feature "night"/,
      ],
      [["models", "reference", "fraud", "99", profilePath, "--server", server.url], 3, /no version 99/],
      [
        [
          "models",
          "register",
          "fraud",
          join(dir, "fraud.json"),
          "--reference",
          notProfile,
          "--server",
          server.url,
        ],
        2,
        /is not a reference profile/,
      ],
    ];
    for (const [args, code, pattern] of cases) {
      const r = ballast(args);
      assert.equal(r.status, code, `${args.join(" ")}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split("\n").length, 1, `one line expected: ${r.stderr}`);
      assert.match(r.stderr, pattern);
    }
    // The refused attachments left version 1's reference as it was.
    const { body } = await getJson<ReferenceProfile>("/api/v1/models/fraud/versions/1/reference");
    assert.equal(body.rows, 30);
  });
});
