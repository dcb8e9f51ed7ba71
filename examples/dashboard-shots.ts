/**
 * Screenshots of a running server's dashboard, as a user would see it: every list page, then up
 * to --per-kind detail pages of each kind, found by following the list pages' own links (so a
 * broken link is found too). It fails (exit 1) on a page that does not answer 200, a console or
 * page error, or a request to any host but the server's: the stories run it at their end with
 * `--screenshots DIR`, which makes it a check that each page works against the story's data.
 *
 *   npx tsx examples/dashboard-shots.ts --server http://127.0.0.1:8080 --out shots --prefix fraud
 *
 * Options: --server URL (default $BALLAST_SERVER or http://127.0.0.1:8080), --token T (default
 * $BALLAST_TOKEN; signs in through /login), --out DIR (default test-artifacts/screenshots),
 * --prefix P (file names P-<page>.png), --per-kind N (default 1). Chromium: $BALLAST_CHROMIUM or
 * /usr/bin/chromium (Debian's `chromium` package), driven by playwright-core.
 */
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";

export interface ShotOptions {
  server: string;
  out: string;
  prefix: string;
  token?: string;
  perKind?: number;
  /** Only these pages (name → path), instead of every list page and its details. */
  only?: ReadonlyArray<{ name: string; path: string }>;
}

export interface ShotResult {
  files: string[];
  problems: string[];
}

/** The list pages, and the detail links each offers (pattern of the href). */
const LISTS: ReadonlyArray<{ name: string; path: string; detail?: RegExp }> = [
  { name: "overview", path: "/" },
  { name: "deployments", path: "/deployments", detail: /^\/deployments\/[^/?#]+$/ },
  { name: "rollouts", path: "/rollouts", detail: /^\/rollouts\/[^/?#]+$/ },
  { name: "monitors", path: "/monitors", detail: /^\/monitors\/[^/?#]+$/ },
  { name: "models", path: "/models", detail: /^\/models\/[^/?#]+$/ },
  { name: "pipelines", path: "/pipelines", detail: /^\/pipelines\/[^/?#]+$/ },
  { name: "markets", path: "/markets", detail: /^\/markets\/routers\/[^/?#]+$/ },
];
const RUN = /^\/pipelines\/[^/?#]+\/runs\/[^/?#]+$/;

const MAX_HEIGHT = 2200;

export const CHROMIUM = process.env.BALLAST_CHROMIUM ?? "/usr/bin/chromium";

/**
 * Debian's chromium, headless, with the flags that keep it off the network (it phones home at
 * start otherwise, and this machine's closed network refuses it). The browser test uses it too.
 */
export function launchChromium(executablePath: string): Promise<Browser> {
  return chromium.launch({
    executablePath,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

export async function captureDashboard(options: ShotOptions): Promise<ShotResult> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no chromium at ${CHROMIUM}: apt-get install chromium, or set BALLAST_CHROMIUM`);
  }
  const base = new URL(options.server).origin;
  const perKind = options.perKind ?? 1;
  await mkdir(options.out, { recursive: true });
  const browser = await launchChromium(CHROMIUM);
  const problems: string[] = [];
  const files: string[] = [];
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    context.on("request", (r) => {
      if (!r.url().startsWith(base) && !r.url().startsWith("data:"))
        problems.push(`left the server: ${r.url()}`);
    });
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    page.on("console", (m) => {
      if (m.type() === "error") problems.push(`console: ${m.text()} (${m.location().url})`);
    });
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    if (options.token !== undefined) await signIn(page, base, options.token);

    const shoot = async (name: string, path: string): Promise<Page> => {
      const r = await page.goto(`${base}${path}`, { waitUntil: "load" });
      if (r?.status() !== 200) problems.push(`HTTP ${r?.status()}: ${path}`);
      // Charts are drawn by the page's script after load; wait for them so the picture has them.
      if ((await page.locator("[data-chart]").count()) > 0) {
        await page
          .locator("[data-chart][data-drawn]")
          .first()
          .waitFor()
          .catch(() => problems.push(`charts not drawn: ${path}`));
      }
      const file = join(options.out, `${options.prefix}-${name}.png`);
      // The whole page down to MAX_HEIGHT: a long table of recent predictions is not the picture.
      const height = Number(await page.evaluate("document.documentElement.scrollHeight"));
      await page.screenshot({
        path: file,
        fullPage: true,
        clip: { x: 0, y: 0, width: 1280, height: Math.min(height, MAX_HEIGHT) },
      });
      files.push(file);
      return page;
    };

    for (const { name, path } of options.only ?? []) await shoot(name, path);
    for (const list of options.only === undefined ? LISTS : []) {
      await shoot(list.name, list.path);
      if (list.detail === undefined) continue;
      const details = (await links(page)).filter((href) => list.detail?.test(href)).slice(0, perKind);
      for (const href of details) {
        const slug = decodeURIComponent(href.split("/").pop() ?? "").replace(/[^A-Za-z0-9_.-]/g, "_");
        await shoot(`${singular(list.name)}-${slug}`, href);
        if (list.name !== "pipelines") continue;
        const run = (await links(page)).find((h) => RUN.test(h));
        if (run !== undefined) await shoot(`run-${slug}`, run);
      }
    }
  } finally {
    await browser.close();
  }
  return { files, problems };
}

async function signIn(page: Page, base: string, token: string): Promise<void> {
  await page.goto(`${base}/login`);
  await page.fill("#token", token);
  await Promise.all([
    page.waitForURL((u) => !u.pathname.startsWith("/login")),
    page.click("button[type=submit]"),
  ]);
}

async function links(page: Page): Promise<string[]> {
  const hrefs = await page
    .locator("main a[href]")
    .evaluateAll((as) => as.map((a) => a.getAttribute("href") ?? ""));
  return [...new Set(hrefs)];
}

function singular(list: string): string {
  return list === "markets" ? "router" : list.replace(/s$/, "");
}

/** The stories' `--screenshots DIR`: shoot, say where, and fail the story on a broken page. */
export async function storyScreenshots(
  server: string,
  out: string,
  prefix: string,
  token?: string,
  only?: ShotOptions["only"],
): Promise<void> {
  const { files, problems } = await captureDashboard({ server, out, prefix, token, only });
  console.log(`saved ${files.length} screenshot(s) of the dashboard: ${files.join(", ")}`);
  if (problems.length > 0) {
    throw new Error(`the dashboard has ${problems.length} problem(s):\n  ${problems.join("\n  ")}`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const { values } = parseArgs({
    options: {
      server: { type: "string", default: process.env.BALLAST_SERVER ?? "http://127.0.0.1:8080" },
      token: { type: "string", default: process.env.BALLAST_TOKEN },
      out: { type: "string", default: "test-artifacts/screenshots" },
      prefix: { type: "string", default: "dashboard" },
      "per-kind": { type: "string", default: "1" },
    },
  });
  const perKind = Number(values["per-kind"]);
  if (!Number.isInteger(perKind) || perKind < 0 || perKind > 20) {
    console.error(`--per-kind must be an integer from 0 to 20, got '${values["per-kind"]}'`);
    process.exit(2);
  }
  try {
    const { files, problems } = await captureDashboard({
      server: values.server,
      out: values.out,
      prefix: values.prefix,
      token: values.token,
      perKind,
    });
    for (const f of files) console.log(f);
    for (const p of problems) console.error(p);
    process.exit(problems.length > 0 ? 1 : 0);
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    process.exit(1);
  }
}
