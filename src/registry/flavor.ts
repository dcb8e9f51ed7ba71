/** Which runtime an artifact needs, when the user did not say. */
import { readFile } from "node:fs/promises";
import { extname } from "node:path";
import { notFound } from "../domain/errors.js";
import { FLAVORS, type Flavor } from "../domain/model.js";
import { isPlainObject } from "../domain/json-value.js";
import { invalidField, shown } from "./field.js";

/** The `format` a JSON artifact declares at its top level, per flavor. */
export const JSON_FORMATS: Readonly<Record<string, Flavor>> = {
  "ballast.builtin/v1": "builtin",
  "ballast.http/v1": "http",
};

const PASS_FLAVOR = `pass --flavor (${FLAVORS.join(", ")})`;

export function checkFlavor(value: unknown, field = "flavor"): Flavor {
  if (typeof value !== "string" || !(FLAVORS as readonly string[]).includes(value)) {
    throw invalidField(field, `${shown(value)} is not a flavor; use one of ${FLAVORS.join(", ")}`);
  }
  return value as Flavor;
}

/**
 * By name first (`.onnx`, `.json`), else by content, because uploaded artifacts are stored
 * under their hash and have no name: JSON documents start with `{`, and an ONNX ModelProto
 * starts with its ir_version field (protobuf tag 0x08).
 */
export async function inferFlavor(artifactPath: string): Promise<Flavor> {
  const extension = extname(artifactPath).toLowerCase();
  if (extension === ".onnx") return "onnx";
  let text: string;
  try {
    const bytes = await readFile(artifactPath);
    if (extension !== ".json") {
      const first = bytes.subarray(0, 64).toString("latin1").trimStart()[0];
      if (bytes[0] === 0x08) return "onnx";
      if (first !== "{") {
        throw invalidField(
          "flavor",
          `cannot tell the flavor of ${artifactPath} from its name or content; ${PASS_FLAVOR}`,
        );
      }
    }
    text = bytes.toString("utf8");
  } catch (error) {
    if (error instanceof Error && "code" in error && error.code === "ENOENT") {
      throw notFound(`artifact file not found: ${artifactPath}`, { path: artifactPath });
    }
    throw error;
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    throw invalidField(
      "flavor",
      `${artifactPath} is not valid JSON, so its flavor is unknown; ${PASS_FLAVOR}`,
    );
  }
  const format = isPlainObject(document) ? document.format : undefined;
  const flavor = typeof format === "string" ? JSON_FORMATS[format] : undefined;
  if (flavor === undefined) {
    throw invalidField(
      "flavor",
      `${artifactPath} declares format ${shown(format)}, expected one of ` +
        `${Object.keys(JSON_FORMATS).join(", ")}; ${PASS_FLAVOR}`,
    );
  }
  return flavor;
}
