/** Models: versions, aliases, lineage, metrics, and one version set against another. */
import type { Ballast } from "../../../ballast.js";
import type { ModelVersion } from "../../../domain/model.js";
import { notFound } from "../../../domain/errors.js";
import { html, type Html } from "../html.js";
import { page, type PageContext } from "../layout.js";
import { brief, num, when } from "../format.js";

export async function modelsPage(b: Ballast, ctx: PageContext): Promise<Html> {
  const models = await b.registry.listModels();
  return page(
    ctx,
    "Models",
    "/models",
    html`<h1>Models</h1>
      ${
        models.length === 0
          ? html`<p class="muted">no models</p>`
          : html`<table>
              <thead>
                <tr>
                  <th scope="col">Model</th>
                  <th scope="col" class="num">Latest</th>
                  <th scope="col">Aliases</th>
                  <th scope="col">Updated</th>
                </tr>
              </thead>
              <tbody>
                ${models.map(
                  (m) =>
                    html`<tr>
                      <td><a href="/models/${encodeURIComponent(m.name)}">${m.name}</a></td>
                      <td class="num">${m.latestVersion}</td>
                      <td>
                        ${Object.entries(m.aliases)
                          .map(([a, v]) => `${a} → v${v}`)
                          .join(", ")}
                      </td>
                      <td>${when(m.updatedAt)}</td>
                    </tr>`,
                )}
              </tbody>
            </table>`
      }`,
  );
}

/** The rows of a comparison: every metric and lineage field either version has. */
export function compareVersions(
  a: ModelVersion,
  c: ModelVersion,
): Array<{ field: string; left: string; right: string; delta: string }> {
  const rows: Array<{ field: string; left: string; right: string; delta: string }> = [];
  for (const key of [...new Set([...Object.keys(a.metrics), ...Object.keys(c.metrics)])].sort()) {
    const l = a.metrics[key];
    const r = c.metrics[key];
    rows.push({
      field: `metric ${key}`,
      left: num(l),
      right: num(r),
      delta: l === undefined || r === undefined ? "—" : num(r - l),
    });
  }
  const lineage = (v: ModelVersion) => ({
    "data fingerprint": v.lineage.dataFingerprint,
    parameters: v.lineage.parameters === undefined ? undefined : brief(v.lineage.parameters, 200),
    parent: v.lineage.parentVersion === undefined ? undefined : `v${v.lineage.parentVersion}`,
    "pipeline run": v.lineage.runId,
    flavor: v.flavor,
    artifact: v.artifactSha256.slice(0, 12),
  });
  const la = lineage(a);
  const lc = lineage(c);
  for (const key of Object.keys(la) as Array<keyof typeof la>) {
    const l = la[key] ?? "—";
    const r = lc[key] ?? "—";
    rows.push({ field: key, left: l, right: r, delta: l === r ? "same" : "differs" });
  }
  return rows;
}

export async function modelPage(
  b: Ballast,
  ctx: PageContext,
  name: string,
  query: { a?: string; b?: string },
): Promise<Html> {
  const model = await b.registry.getModel(name);
  const versions = await b.registry.listVersions(name);
  const aliasesOf = (v: number) =>
    Object.entries(model.aliases)
      .filter(([, n]) => n === v)
      .map(([a]) => a);
  // A version the model lacks is named rather than silently replaced by the latest two, which
  // would compare versions other than the ones asked for under the same headings.
  const pick = (key: "a" | "b", fallback: ModelVersion | undefined) => {
    const raw = query[key];
    if (raw === undefined || raw === "") return fallback;
    const found = versions.find((v) => String(v.version) === raw);
    if (found === undefined)
      throw notFound(
        `model ${name} has no version ${String(raw)} (${key}=${String(raw)}); its versions are ${versions.map((v) => `v${v.version}`).join(", ")}`,
      );
    return found;
  };
  const left = pick("a", versions.at(-2));
  const right = pick("b", versions.at(-1));
  const options = (selected: number | undefined) =>
    versions.map(
      (v) =>
        html`<option value="${v.version}" ${v.version === selected ? html` selected` : ""}>
          v${v.version}
        </option>`,
    );
  const body = html`<h1>Model ${name}</h1>
    ${model.description === "" ? "" : html`<p>${model.description}</p>`}
    <h2>Versions</h2>
    <table>
      <thead>
        <tr>
          <th scope="col" class="num">Version</th>
          <th scope="col">Aliases</th>
          <th scope="col">Created</th>
          <th scope="col">Metrics</th>
          <th scope="col">Data fingerprint</th>
          <th scope="col">Parent</th>
          <th scope="col">Pipeline run</th>
          <th scope="col">Parameters</th>
        </tr>
      </thead>
      <tbody>
        ${[...versions].reverse().map(
          (v) =>
            html`<tr>
              <td class="num">v${v.version}</td>
              <td>${aliasesOf(v.version).join(", ")}</td>
              <td>${when(v.createdAt)}</td>
              <td>${Object.entries(v.metrics).map(([k, n]) => html`<div>${k} = ${num(n)}</div>`)}</td>
              <td>${v.lineage.dataFingerprint ?? "—"}</td>
              <td>${v.lineage.parentVersion === undefined ? "—" : `v${v.lineage.parentVersion}`}</td>
              <td>${v.lineage.runId === undefined ? "—" : v.lineage.runId}</td>
              <td>${v.lineage.parameters === undefined ? "—" : brief(v.lineage.parameters, 120)}</td>
            </tr>`,
        )}
      </tbody>
    </table>
    <h2>Compare versions</h2>
    <form method="get" action="/models/${encodeURIComponent(name)}">
      <label for="cmp-a">Version</label
      ><select id="cmp-a" name="a">
        ${options(left?.version)}
      </select>
      <label for="cmp-b">against</label
      ><select id="cmp-b" name="b">
        ${options(right?.version)}
      </select>
      <button type="submit">Compare</button>
    </form>
    ${
      left === undefined || right === undefined
        ? html`<p class="muted">one version only</p>`
        : html`<table>
            <thead>
              <tr>
                <th scope="col">Field</th>
                <th scope="col">v${left.version}</th>
                <th scope="col">v${right.version}</th>
                <th scope="col">Change</th>
              </tr>
            </thead>
            <tbody>
              ${compareVersions(left, right).map(
                (r) =>
                  html`<tr>
                    <td>${r.field}</td>
                    <td>${r.left}</td>
                    <td>${r.right}</td>
                    <td>${r.delta}</td>
                  </tr>`,
              )}
            </tbody>
          </table>`
    }`;
  return page(ctx, `Model ${name}`, "/models", body);
}
