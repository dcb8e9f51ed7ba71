/**
 * Resource manifests: Kubernetes-style YAML documents (`apiVersion: ballast/v1`, `kind`,
 * `metadata`, `spec`). This module reads files into manifests and checks the envelope; each
 * kind checks its own spec (kinds.ts). Errors name the file, the line and the path in the
 * document, so a user can go straight to what is wrong.
 */
import { isMap, isSeq, LineCounter, parseAllDocuments, type Document } from "yaml";
import { invalid, isBallastError, type BallastError } from "../domain/errors.js";
import { isPlainObject } from "../domain/json-value.js";
import { shown } from "../registry/field.js";

export const API_VERSION = "ballast/v1";
export const KINDS = ["Deployment", "Monitor", "Notifier", "Pipeline", "Router"] as const;
export type Kind = (typeof KINDS)[number];
/** Kinds the design names but this version cannot apply yet: refused with that reason. */
const PLANNED_KINDS: string[] = [];

export interface Metadata {
  readonly name: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface Manifest {
  readonly apiVersion: typeof API_VERSION;
  readonly kind: Kind;
  readonly metadata: Metadata;
  readonly spec: Readonly<Record<string, unknown>>;
}

/** Where a manifest was read from; `line` is where its document starts (1-based). */
export interface ManifestOrigin {
  readonly file: string;
  readonly document: number;
  readonly line: number;
}

export interface ReadManifest {
  readonly manifest: Manifest;
  readonly origin: ManifestOrigin;
  /** The line of a path inside the document (`spec.variants[1].weight`), or the document's. */
  lineOf(path: string): number;
}

const NAME = /^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$/;
const TOP_LEVEL = ["apiVersion", "kind", "metadata", "spec"];
const METADATA_FIELDS = ["name", "labels", "annotations"];

/** The annotation that makes a watched source put a resource back when it is changed around git. */
export const SELF_HEAL = "ballast.io/self-heal";

/** Reads every document of a YAML (or JSON) text; empty documents are skipped. */
export function readManifests(text: string, file: string): ReadManifest[] {
  const lineCounter = new LineCounter();
  const documents = parseAllDocuments(text, { lineCounter, uniqueKeys: true });
  if (!Array.isArray(documents)) return []; // an empty stream
  const out: ReadManifest[] = [];
  documents.forEach((doc, index) => {
    // The line of the document's first content, not of its `---` marker.
    const startOffset = (doc.contents as { range?: [number] } | null)?.range?.[0] ?? doc.range[0];
    const start = lineCounter.linePos(startOffset).line || 1;
    const origin: ManifestOrigin = { file, document: index + 1, line: start };
    const firstError = doc.errors[0];
    if (firstError !== undefined) {
      const at = lineCounter.linePos(firstError.pos[0]).line;
      throw invalid(`${file}:${at}: not valid YAML: ${firstError.message.split("\n")[0] ?? ""}`, {
        file,
        line: at,
      });
    }
    const value: unknown = doc.toJS({ maxAliasCount: 100 });
    if (value === null || value === undefined) return; // an empty document (`---` twice)
    const lineOf = (path: string): number => lineInDocument(doc, lineCounter, path) ?? start;
    out.push({ manifest: checkEnvelope(value, origin, lineOf), origin, lineOf });
  });
  return out;
}

/** The envelope of one document; the spec is the kind's to check. */
export function checkEnvelope(
  value: unknown,
  origin: ManifestOrigin,
  lineOf: (path: string) => number = () => origin.line,
): Manifest {
  const fail = (path: string, problem: string): BallastError =>
    located(origin, lineOf(path), undefined, path, problem);
  if (!isPlainObject(value))
    throw fail("", `expected a resource (apiVersion, kind, metadata, spec), got ${shown(value)}`);
  const unknown = Object.keys(value).find((k) => !TOP_LEVEL.includes(k));
  if (unknown !== undefined) throw fail(unknown, `unknown field; a resource has ${TOP_LEVEL.join(", ")}`);
  if (value.apiVersion !== API_VERSION)
    throw fail("apiVersion", `expected ${API_VERSION}, got ${shown(value.apiVersion)}`);
  const kind = value.kind;
  if (typeof kind !== "string" || !(KINDS as readonly string[]).includes(kind)) {
    const planned = typeof kind === "string" && PLANNED_KINDS.includes(kind);
    throw fail(
      "kind",
      planned
        ? `${kind} resources are not supported by this version of Ballast yet; supported: ${KINDS.join(", ")}`
        : `expected one of ${KINDS.join(", ")}, got ${shown(kind)}`,
    );
  }
  const metadata = value.metadata;
  if (!isPlainObject(metadata))
    throw fail("metadata", `expected an object with a name, got ${shown(metadata)}`);
  const unknownMeta = Object.keys(metadata).find((k) => !METADATA_FIELDS.includes(k));
  if (unknownMeta !== undefined)
    throw fail(`metadata.${unknownMeta}`, `unknown field; metadata has ${METADATA_FIELDS.join(", ")}`);
  const name = metadata.name;
  if (typeof name !== "string" || !NAME.test(name)) {
    throw fail(
      "metadata.name",
      `expected lower-case letters, digits, '.', '_' or '-' (at most 63, starting and ending with a letter or digit), got ${shown(name)}`,
    );
  }
  const labels = stringMap(metadata.labels, "metadata.labels", fail);
  const annotations = stringMap(metadata.annotations, "metadata.annotations", fail);
  const spec = value.spec ?? {};
  if (!isPlainObject(spec)) throw fail("spec", `expected an object, got ${shown(spec)}`);
  return {
    apiVersion: API_VERSION,
    kind: kind as Kind,
    metadata: {
      name,
      ...(labels === undefined ? {} : { labels }),
      ...(annotations === undefined ? {} : { annotations }),
    },
    spec,
  };
}

function stringMap(
  value: unknown,
  path: string,
  fail: (path: string, problem: string) => BallastError,
): Record<string, string> | undefined {
  if (value === undefined) return undefined;
  if (!isPlainObject(value)) throw fail(path, `expected a map of strings, got ${shown(value)}`);
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== "string") throw fail(`${path}.${k}`, `expected a string, got ${shown(v)}`);
  }
  return value as Record<string, string>;
}

/**
 * Rewrites an error from a kind's spec check (which names a field like `variants[1].weight`)
 * into one that names the file, the line and the full path (`spec.variants[1].weight`).
 */
export function locateSpecError(
  error: unknown,
  read: Pick<ReadManifest, "manifest" | "origin" | "lineOf">,
): unknown {
  if (!isBallastError(error) || error.code !== "invalid_argument") return error;
  const field = typeof error.details?.field === "string" ? error.details.field : undefined;
  const path =
    field === undefined ? "spec" : field === "spec" || field.startsWith("spec.") ? field : `spec.${field}`;
  const prefix = field === undefined ? "" : `${field}: `;
  const problem = error.message.startsWith(prefix) ? error.message.slice(prefix.length) : error.message;
  return located(read.origin, read.lineOf(path), read.manifest, path, problem);
}

export function located(
  origin: ManifestOrigin,
  line: number,
  manifest: Manifest | undefined,
  path: string,
  problem: string,
): BallastError {
  const subject = manifest === undefined ? "" : `${manifest.kind} ${manifest.metadata.name}: `;
  const where = path === "" ? "" : `${path}: `;
  return invalid(`${origin.file}:${line}: ${subject}${where}${problem}`, {
    file: origin.file,
    line,
    document: origin.document,
    ...(path === "" ? {} : { field: path }),
  });
}

/** `spec.variants[1].weight` -> ["spec", "variants", 1, "weight"]. */
export function pathSegments(path: string): Array<string | number> {
  const out: Array<string | number> = [];
  for (const part of path.split(".")) {
    const match = /^([^[\]]*)((?:\[\d+\])*)$/.exec(part);
    if (match === null) {
      out.push(part);
      continue;
    }
    if (match[1] !== undefined && match[1] !== "") out.push(match[1]);
    for (const index of (match[2] ?? "").matchAll(/\[(\d+)\]/g)) out.push(Number(index[1]));
  }
  return out;
}

/** The line of the deepest node on `path` that exists in the document. */
function lineInDocument(doc: Document.Parsed, counter: LineCounter, path: string): number | undefined {
  let node: unknown = doc.contents;
  let line: number | undefined;
  const lineOfNode = (n: unknown): number | undefined => {
    const range = (n as { range?: [number, number, number] } | null)?.range;
    return range === undefined ? undefined : counter.linePos(range[0]).line;
  };
  line = lineOfNode(node);
  const segments = path === "" ? [] : pathSegments(path);
  for (const [i, segment] of segments.entries()) {
    if (isMap(node)) {
      const pair = node.items.find(
        (p) => ((p.key as { value?: unknown } | null)?.value ?? p.key) === segment,
      );
      if (pair === undefined) break;
      node = pair.value;
      // The key's line for the last segment (where `variants:` is written), else the value's.
      line = (i === segments.length - 1 ? lineOfNode(pair.key) : lineOfNode(node)) ?? line;
    } else if (isSeq(node) && typeof segment === "number") {
      node = node.items[segment];
      if (node === undefined) break;
      line = lineOfNode(node) ?? line;
    } else {
      break;
    }
  }
  return line;
}
