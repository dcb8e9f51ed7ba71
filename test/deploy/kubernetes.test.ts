// The Kubernetes manifests in deploy/kubernetes: each overlay is built with `kubectl kustomize`,
// every object is checked against the Kubernetes OpenAPI schema (kubernetes-models' validate(),
// offline), then against what Ballast needs: probes on its health routes and its port, a
// non-root locked-down container, resources, a budget and a Service that select its pods, and
// per overlay the store (a volume claim for SQLite, a Secret's URL for PostgreSQL).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { parse, parseAllDocuments } from "yaml";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { PersistentVolumeClaim } from "kubernetes-models/v1/PersistentVolumeClaim";
import { Service } from "kubernetes-models/v1/Service";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";

const kubectl = spawnSync("kubectl", ["version", "--client"]).status === 0;
const skip = kubectl
  ? false
  : "kubectl is not installed (apt-get install kubernetes-client); .ci/run installs it";

const DATA_DIR = "/var/lib/ballast";

/* eslint-disable @typescript-eslint/no-explicit-any -- rendered manifests are free-form YAML */
type Manifest = any;

const SCHEMAS: Record<string, new (data: Manifest) => { validate(): void }> = {
  "apps/v1 Deployment": Deployment,
  "v1 Service": Service,
  "v1 PersistentVolumeClaim": PersistentVolumeClaim,
  "policy/v1 PodDisruptionBudget": PodDisruptionBudget,
};

function build(overlay: string): Manifest[] {
  const out = spawnSync("kubectl", ["kustomize", `deploy/kubernetes/overlays/${overlay}`], {
    encoding: "utf8",
  });
  assert.equal(out.status, 0, `kubectl kustomize ${overlay}:\n${out.stderr}`);
  return parseAllDocuments(out.stdout).map((doc) => {
    assert.deepEqual(doc.errors, [], `YAML of ${overlay}`);
    return doc.toJS();
  });
}

function one(objects: Manifest[], kind: string): Manifest {
  const found = objects.filter((o) => o.kind === kind);
  assert.equal(found.length, 1, `one ${kind}, found ${found.length}`);
  return found[0];
}

function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/** Every check both overlays share; returns the Deployment for the overlay's own checks. */
function checkCommon(objects: Manifest[]): Manifest {
  for (const o of objects) {
    assert.ok(
      o.apiVersion && o.kind && o.metadata?.name,
      `apiVersion, kind, metadata.name: ${JSON.stringify(o)}`,
    );
    const Schema = SCHEMAS[`${o.apiVersion} ${o.kind}`];
    assert.ok(Schema, `a schema for ${o.apiVersion} ${o.kind}`);
    assert.doesNotThrow(() => new Schema(o).validate(), `${o.kind}/${o.metadata.name} against its schema`);
  }

  const deployment = one(objects, "Deployment");
  const pod = deployment.spec.template;
  assert.ok(
    selects(deployment.spec.selector.matchLabels, pod.metadata.labels),
    "Deployment selects its pods",
  );
  assert.equal(pod.metadata.annotations["prometheus.io/scrape"], "true");
  assert.equal(pod.metadata.annotations["prometheus.io/path"], "/metrics");

  const [container] = pod.spec.containers;
  assert.equal(pod.spec.containers.length, 1);
  const [port] = container.ports;
  assert.equal(port.containerPort, 8080);
  assert.ok(
    container.args.includes("serve") && container.args.includes("--port=8080"),
    "serve on the container port",
  );
  assert.ok(
    container.args.includes("--host=0.0.0.0"),
    "bound beyond loopback, or the probes cannot reach it",
  );
  assert.equal(pod.metadata.annotations["prometheus.io/port"], String(port.containerPort));
  const probePort = (probe: Manifest) => probe.httpGet.port;
  assert.equal(container.readinessProbe.httpGet.path, "/v2/health/ready");
  assert.equal(container.livenessProbe.httpGet.path, "/v2/health/live");
  for (const probe of [container.readinessProbe, container.livenessProbe, container.startupProbe]) {
    assert.ok(
      [port.name, port.containerPort].includes(probePort(probe)),
      `probe on the container port: ${probePort(probe)}`,
    );
  }

  assert.equal(pod.spec.securityContext.runAsNonRoot, true);
  assert.ok(pod.spec.securityContext.runAsUser > 0, "a numeric non-root uid");
  assert.equal(container.securityContext.allowPrivilegeEscalation, false);
  assert.equal(container.securityContext.readOnlyRootFilesystem, true);
  assert.deepEqual(container.securityContext.capabilities.drop, ["ALL"]);
  for (const key of ["cpu", "memory"]) {
    assert.ok(container.resources.requests[key], `requests.${key}`);
    assert.ok(container.resources.limits[key], `limits.${key}`);
  }
  const mounts = new Map(container.volumeMounts.map((m: Manifest) => [m.mountPath, m.name]));
  assert.ok(mounts.has(DATA_DIR) && mounts.has("/tmp"), "the data dir and /tmp are writable volumes");
  assert.ok(container.args.includes(`--data-dir=${DATA_DIR}`));

  const service = one(objects, "Service");
  assert.ok(selects(service.spec.selector, pod.metadata.labels), "Service selects the pods");
  const [servicePort] = service.spec.ports;
  assert.ok(
    [port.name, port.containerPort].includes(servicePort.targetPort),
    "Service targets the container port",
  );
  assert.equal(service.metadata.annotations["prometheus.io/scrape"], "true");

  const budget = one(objects, "PodDisruptionBudget");
  assert.ok(
    selects(budget.spec.selector.matchLabels, pod.metadata.labels),
    "PodDisruptionBudget selects the pods",
  );
  return deployment;
}

function dataVolume(deployment: Manifest): Manifest {
  const [container] = deployment.spec.template.spec.containers;
  const name = container.volumeMounts.find((m: Manifest) => m.mountPath === DATA_DIR).name;
  return deployment.spec.template.spec.volumes.find((v: Manifest) => v.name === name);
}

test("sqlite overlay: one replica, replaced (not rolled), SQLite on a volume claim", { skip }, () => {
  const objects = build("sqlite");
  const deployment = checkCommon(objects);
  assert.equal(deployment.spec.replicas, 1);
  assert.equal(deployment.spec.strategy.type, "Recreate");
  assert.equal(deployment.spec.strategy.rollingUpdate, undefined);
  const volume = dataVolume(deployment);
  assert.deepEqual(
    Object.keys(volume).sort(),
    ["name", "persistentVolumeClaim"],
    "only the claim, no emptyDir",
  );
  assert.equal(volume.persistentVolumeClaim.claimName, one(objects, "PersistentVolumeClaim").metadata.name);
  const [container] = deployment.spec.template.spec.containers;
  assert.ok(!(container.env ?? []).some((e: Manifest) => e.name === "BALLAST_STORE"), "no --store: SQLite");
  // A budget that cannot be met by one replica would block every node drain.
  assert.equal(one(objects, "PodDisruptionBudget").spec.maxUnavailable, 1);
});

test("postgres overlay: replicas on one database whose URL comes from a Secret", { skip }, () => {
  const objects = build("postgres");
  const deployment = checkCommon(objects);
  assert.ok(deployment.spec.replicas >= 2, `replicas: ${deployment.spec.replicas}`);
  assert.equal(deployment.spec.strategy.rollingUpdate.maxUnavailable, 0);
  const [container] = deployment.spec.template.spec.containers;
  const store = container.env.find((e: Manifest) => e.name === "BALLAST_STORE");
  assert.deepEqual(store.valueFrom.secretKeyRef, { name: "ballast-store", key: "url" });
  assert.ok(!container.args.some((a: string) => a.startsWith("--store")), "the URL only from the Secret");
  assert.ok(dataVolume(deployment).emptyDir, "the data dir is a per-pod cache");
  assert.equal(objects.filter((o) => o.kind === "PersistentVolumeClaim").length, 0);
  const budget = one(objects, "PodDisruptionBudget");
  assert.ok(budget.spec.minAvailable >= 1 && budget.spec.minAvailable < deployment.spec.replicas);
});

test("the schema check catches a field of the wrong type", () => {
  const deployment = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "x" },
    spec: {
      replicas: "3",
      selector: { matchLabels: { a: "b" } },
      template: { metadata: { labels: { a: "b" } }, spec: { containers: [{ name: "c", image: "i" }] } },
    },
  };
  assert.throws(() => new Deployment(deployment as Manifest).validate(), /replicas must be integer/);
});

test("the optional ServiceMonitor scrapes the Service's port", () => {
  const read = (path: string): Manifest => parse(readFileSync(path, "utf8"));
  const monitor = read("deploy/kubernetes/extras/servicemonitor.yaml");
  const service = read("deploy/kubernetes/base/service.yaml");
  assert.equal(monitor.kind, "ServiceMonitor");
  assert.ok(selects(monitor.spec.selector.matchLabels, service.metadata.labels), "selects the Service");
  assert.equal(monitor.spec.endpoints[0].port, service.spec.ports[0].name);
  assert.equal(monitor.spec.endpoints[0].path, "/metrics");
});
