/**
 * HTML by tagged template: every interpolated value is escaped unless it is already Html (a
 * nested template, or `raw()` for text a module vouches for). Arrays are joined, null and
 * undefined and false render as nothing, so `${cond && html`…`}` reads naturally.
 */

export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

const ENTITIES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
  "`": "&#96;",
};

/** Text safe in element content and in quoted attribute values. */
export function escape(value: string): string {
  return value.replace(/[&<>"'`]/g, (c) => ENTITIES[c] as string);
}

/** The escape hatch: markup this module trusts as it is. Never pass request data here. */
export function raw(text: string): Html {
  return new Html(text);
}

type Part = Html | string | number | boolean | null | undefined | readonly Part[];

function render(value: Part): string {
  if (value === null || value === undefined || value === false) return "";
  if (value instanceof Html) return value.text;
  if (Array.isArray(value)) return (value as readonly Part[]).map(render).join("");
  return escape(String(value));
}

export function html(strings: TemplateStringsArray, ...values: Part[]): Html {
  let out = strings[0] as string;
  for (let i = 0; i < values.length; i++) out += render(values[i] as Part) + (strings[i + 1] as string);
  return new Html(out);
}

/**
 * Data for a chart, in a `<script type="application/json">` block (not executed, so the CSP
 * allows it). `<` is written as \u003c so no value can close the script element.
 */
export function jsonBlock(id: string, data: unknown): Html {
  const json = JSON.stringify(data)
    .replace(/</g, "\\u003c")
    .replace(/\u2028|\u2029/g, " ");
  return html`<script type="application/json" id="${id}">
    ${raw(json)}
  </script>`;
}
