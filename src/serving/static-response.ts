/**
 * A deployment's fixed default answer as output tensors: the configured value repeated for every
 * row of the request, typed like the signature's output of that name when the value fits it.
 */
import type { Signature, StaticValue } from "../domain/model.js";
import type { Datatype } from "../domain/tensor.js";
import type { JsonTensor } from "../domain/tensor-json.js";

export function staticOutputs(
  outputs: Readonly<Record<string, StaticValue>>,
  rows: number,
  signature: Signature,
): JsonTensor[] {
  return Object.entries(outputs).map(([name, value]) => {
    const perRow: ReadonlyArray<number | boolean | string> = Array.isArray(value) ? value : [value];
    const data: Array<number | boolean | string> = [];
    for (let i = 0; i < rows; i++) data.push(...perRow);
    const declared = signature.outputs.find((o) => o.name === name)?.datatype;
    return {
      name,
      datatype: datatypeFor(perRow, declared),
      shape: Array.isArray(value) ? [rows, perRow.length] : [rows],
      data,
    };
  });
}

function datatypeFor(
  values: ReadonlyArray<number | boolean | string>,
  declared: Datatype | undefined,
): Datatype {
  const first = values[0];
  if (typeof first === "boolean") return "BOOL";
  if (typeof first === "string") return "BYTES";
  if (declared === undefined || declared === "BOOL" || declared === "BYTES") return "FP64";
  if (declared.startsWith("FP")) return declared;
  // An integer output keeps its type only if the configured values are integers it can hold.
  const integers = values.every((v) => Number.isSafeInteger(v));
  const unsigned = declared.startsWith("U");
  return integers && (!unsigned || values.every((v) => (v as number) >= 0)) ? declared : "FP64";
}
