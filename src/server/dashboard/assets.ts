/**
 * The files a page loads, read once at startup from their npm packages (never a CDN: the
 * dashboard works with no internet) and from this module's own script and style, kept in
 * memory with a content hash as ETag. Their URLs carry the hash, so they are cached for a year.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { CLIENT_SCRIPT, STYLE } from "./client-script.js";

/** A keel on a blue ground: the mark in the browser's tab. */
const ICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#0969da"/><path d="M3 5h10l-3 7H6z" fill="#fff"/></svg>`;

export interface Asset {
  readonly name: string;
  readonly type: string;
  readonly body: Buffer;
  readonly etag: string;
  /** The URL pages link to: /assets/<hash8>/<name>. */
  readonly url: string;
}

const require = createRequire(import.meta.url);

function asset(name: string, type: string, body: Buffer): Asset {
  const hash = createHash("sha256").update(body).digest("hex");
  return { name, type, body, etag: `"${hash.slice(0, 32)}"`, url: `/assets/${hash.slice(0, 8)}/${name}` };
}

export interface Assets {
  readonly htmx: Asset;
  readonly uplot: Asset;
  readonly uplotCss: Asset;
  readonly script: Asset;
  readonly style: Asset;
  /** Linked from every page so a browser does not ask for /favicon.ico and log its 404. */
  readonly icon: Asset;
  byName(name: string): Asset | undefined;
}

export function loadAssets(): Assets {
  const fromPackage = (specifier: string, name: string, type: string) =>
    asset(name, type, readFileSync(require.resolve(specifier)));
  const js = "text/javascript; charset=utf-8";
  const all = {
    htmx: fromPackage("htmx.org/dist/htmx.min.js", "htmx.min.js", js),
    uplot: fromPackage("uplot/dist/uPlot.iife.min.js", "uPlot.iife.min.js", js),
    uplotCss: fromPackage("uplot/dist/uPlot.min.css", "uPlot.min.css", "text/css; charset=utf-8"),
    script: asset("dashboard.js", js, Buffer.from(CLIENT_SCRIPT)),
    style: asset("dashboard.css", "text/css; charset=utf-8", Buffer.from(STYLE)),
    icon: asset("icon.svg", "image/svg+xml", Buffer.from(ICON)),
  };
  const byName = new Map(Object.values(all).map((a) => [a.name, a]));
  return { ...all, byName: (name) => byName.get(name) };
}
