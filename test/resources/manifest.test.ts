import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { checkedManifests } from "../../src/resources/files.js";
import { readManifests, pathSegments } from "../../src/resources/manifest.js";
import { canonicalManifest, kindNamed } from "../../src/resources/kinds.js";
import { lineDiff, specYaml } from "../../src/resources/diff.js";

const DEPLOYMENT = `apiVersion: ballast/v1
kind: Deployment
metadata:
  name: fraud
spec:
  timeoutMs: 500
  variants:
    - name: stable
      model: fraud
      version: 1
      weight: 90
    - name: canary
      model: fraud
      alias: challenger
      weight: 10
`;

function errorOf(text: string, file = "deploy.yaml"): string {
  try {
    checkedManifests(text, file);
  } catch (error) {
    return (error as Error).message;
  }
  assert.fail("expected the manifests to be refused");
}

describe("manifests", () => {
  test("a Deployment reads into its canonical spec, versions and aliases as written", () => {
    const [read] = readManifests(DEPLOYMENT, "deploy.yaml");
    assert.ok(read);
    assert.equal(read.origin.line, 1);
    const manifest = canonicalManifest(read.manifest);
    assert.deepEqual(manifest.spec, {
      timeoutMs: 500,
      variants: [
        { name: "stable", model: "fraud", version: 1, weight: 90 },
        { name: "canary", model: "fraud", alias: "challenger", weight: 10 },
      ],
    });
  });

  test("a single variant needs no name or weight; the default timeout is filled in", () => {
    const [read] = readManifests(
      "apiVersion: ballast/v1\nkind: Deployment\nmetadata: {name: fraud}\nspec:\n  variants: [{model: fraud, version: 2}]\n",
      "d.yaml",
    );
    assert.deepEqual(canonicalManifest(read!.manifest).spec, {
      timeoutMs: 10_000,
      variants: [{ name: "stable", model: "fraud", version: 2, weight: 100 }],
    });
  });

  test("several documents in one file, each with its own starting line; empty ones skipped", () => {
    const text = `${DEPLOYMENT}---\n---\napiVersion: ballast/v1\nkind: Notifier\nmetadata: {name: oncall}\nspec: {kind: webhook, url: "http://127.0.0.1:9/hook"}\n`;
    const reads = checkedManifests(text, "all.yaml");
    assert.deepEqual(
      reads.map((r) => [r.manifest.kind, r.origin.document, r.origin.line]),
      [
        ["Deployment", 1, 1],
        ["Notifier", 3, 18],
      ],
    );
    assert.equal(canonicalManifest(reads[1]!.manifest).spec.name, "oncall");
  });

  test("weights that do not sum to 100 name the file, the line of variants and the sum", () => {
    const message = errorOf(DEPLOYMENT.replace("weight: 10", "weight: 20"));
    assert.match(message, /^deploy\.yaml:7: Deployment fraud: spec\.variants: weights .* = 110/);
  });

  test("an unknown field deep in the spec is named with its line", () => {
    const message = errorOf(
      DEPLOYMENT.replace("      alias: challenger", "      alias: challenger\n      wieght: 3"),
    );
    assert.match(message, /^deploy\.yaml:15: Deployment fraud: spec\.variants\[1\]\.wieght: unknown field/);
  });

  test("a bad weight points at its own line", () => {
    const message = errorOf(DEPLOYMENT.replace("weight: 90", "weight: ninety"));
    assert.match(
      message,
      /^deploy\.yaml:11: Deployment fraud: spec\.variants\[0\]\.weight: "ninety" is not a weight/,
    );
  });

  test("envelope mistakes: apiVersion, kind, a kind's own fields, names, unknown top-level fields", () => {
    assert.match(
      errorOf(DEPLOYMENT.replace("ballast/v1", "v1")),
      /deploy\.yaml:1: apiVersion: expected ballast\/v1/,
    );
    assert.match(
      errorOf(DEPLOYMENT.replace("kind: Deployment", "kind: Deploymnt")),
      /deploy\.yaml:2: kind: expected one of Deployment, Monitor, Notifier/,
    );
    assert.match(
      errorOf(DEPLOYMENT.replace("kind: Deployment", "kind: Router")),
      /deploy\.yaml:6: Router fraud: spec\.timeoutMs: unknown field; expected classifier/,
    );
    assert.match(
      errorOf(DEPLOYMENT.replace("name: fraud\nspec", "name: Fraud_\nspec")),
      /deploy\.yaml:4: metadata\.name: expected lower-case/,
    );
    assert.match(errorOf(`${DEPLOYMENT}status: {}\n`), /deploy\.yaml:\d+: status: unknown field/);
  });

  test("broken YAML and duplicate keys are refused with their line", () => {
    assert.match(errorOf("apiVersion: ballast/v1\nkind: [Deployment\n"), /^deploy\.yaml:\d+: not valid YAML/);
    assert.match(
      errorOf("apiVersion: ballast/v1\napiVersion: ballast/v1\n"),
      /^deploy\.yaml:2: not valid YAML: Map keys must be unique/,
    );
  });

  test("a Monitor names Notifiers or carries them inline; bad inline ones are named", () => {
    const monitor = (notifiers: string) =>
      `apiVersion: ballast/v1\nkind: Monitor\nmetadata: {name: fraud-drift}\nspec:\n  deployment: fraud\n  notifiers: ${notifiers}\n`;
    const [read] = checkedManifests(
      monitor(`[oncall, {kind: webhook, name: hook, url: "http://127.0.0.1:9/"}]`),
      "m.yaml",
    );
    const spec = canonicalManifest(read!.manifest).spec;
    assert.deepEqual((spec.notifiers as unknown[])[0], "oncall");
    assert.equal(spec.test, "auto");
    assert.match(
      errorOf(monitor(`[{kind: webhook, name: hook, url: "ftp://x"}]`), "m.yaml"),
      /m\.yaml:\d+: Monitor fraud-drift: spec\.notifiers\[0\]\.url: expected an http\(s\) URL/,
    );
    assert.match(errorOf(monitor("[7]"), "m.yaml"), /spec\.notifiers\[0\]: expected a Notifier's name/);
  });

  test("paths split into keys and indexes; kinds by any common spelling", () => {
    assert.deepEqual(pathSegments("spec.variants[1].weight"), ["spec", "variants", 1, "weight"]);
    assert.equal(kindNamed("deployments"), "Deployment");
    assert.equal(kindNamed("Monitor"), "Monitor");
    assert.equal(kindNamed("routers"), "Router");
    assert.equal(kindNamed("routr"), undefined);
  });

  test("diffs: equal specs give nothing whatever their key order; a change shows - and +", () => {
    assert.equal(lineDiff(specYaml({ a: 1, b: [1, 2] }), specYaml({ b: [1, 2], a: 1 })), "");
    const diff = lineDiff(specYaml({ timeoutMs: 100, weight: 90 }), specYaml({ timeoutMs: 100, weight: 80 }));
    assert.equal(diff, "  timeoutMs: 100\n- weight: 90\n+ weight: 80\n");
  });
});
