/**
 * The dashboard in a real browser (Debian's chromium driven by playwright-core): sign in through
 * the form, open every page, press the rollout buttons (by mouse and by keyboard) and see the
 * state change on the page and through the API, with no console error, no page error (a CSP
 * refusal shows as one) and no request leaving 127.0.0.1. Screenshots of each page go to
 * test-artifacts/screenshots/ (git-ignored).
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { launchChromium } from "../../examples/dashboard-shots.js";
import { hashToken, parseTokenFile } from "../../src/server/tokens.js";
import { seedDashboard, type SeededServer } from "../helpers/dashboard-seed.js";

const CHROMIUM = process.env.BALLAST_TEST_CHROMIUM ?? "/usr/bin/chromium";
const SHOTS = "test-artifacts/screenshots";
const skip = existsSync(CHROMIUM)
  ? false
  : `no chromium at ${CHROMIUM} (apt-get install chromium, or set BALLAST_TEST_CHROMIUM)`;

describe("dashboard in chromium", { skip }, () => {
  let s: SeededServer;
  let base: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const problems: string[] = [];
  const requested: string[] = [];

  before(async () => {
    const tokens = parseTokenFile(
      [
        `- {name: ops, role: operator, sha256: ${hashToken("op-t")}}`,
        `- {name: root, role: admin, sha256: ${hashToken("admin-t")}}`,
      ].join("\n"),
      "tokens.yaml",
    );
    s = await seedDashboard({ tokens }, "admin-t");
    // A second canary to abort: cart goes out like shop and waits at its first pause.
    await s.ballast.deployments.put({
      name: "cart",
      variants: [{ name: "stable", model: "fraud", ref: { version: 1 }, weight: 100 }],
      strategy: { canary: { steps: [{ setWeight: 30 }, { pause: {} }] } },
    });
    await s.ballast.endpoints.sync();
    await s.ballast.rollouts.start("cart", { ref: { version: 2 } });
    await s.ballast.rollouts.tick();
    await s.app.listen({ host: "127.0.0.1", port: 0 });
    base = `http://127.0.0.1:${(s.app.server.address() as AddressInfo).port}`;

    await mkdir(SHOTS, { recursive: true });
    browser = await launchChromium(CHROMIUM);
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    context.on("request", (r) => requested.push(r.url()));
    page = await context.newPage();
    page.setDefaultTimeout(10_000);
    page.on("console", (m) => {
      if (m.type() === "error") problems.push(`console: ${m.text()} (${m.location().url})`);
    });
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    page.on("requestfailed", (r) => {
      // The live event stream is cut when a page is left; that is not a fault.
      if (!r.url().endsWith("/events/stream")) problems.push(`failed: ${r.url()} ${r.failure()?.errorText}`);
    });
    page.on("response", (r) => {
      if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`);
    });
    // hx-confirm asks with window.confirm: say yes, as the operator would.
    page.on("dialog", (d) => void d.accept());
  });

  after(async () => {
    await browser?.close();
    await s?.close();
    s?.restore();
  });

  const phase = () => page.locator("[data-phase]");
  const apiPhase = async (name: string) => {
    const r = await fetch(`${base}/api/v1/deployments/${name}/rollout`, {
      headers: { authorization: "Bearer admin-t" },
    });
    assert.equal(r.status, 200);
    return ((await r.json()) as { rollout: { phase: string } | null }).rollout?.phase;
  };
  const shot = (name: string) => page.screenshot({ path: `${SHOTS}/${name}.png` });

  test("the form signs in and every page shows its content", async () => {
    await page.goto(`${base}/rollouts/shop`);
    assert.match(page.url(), /\/login\?next=%2Frollouts%2Fshop$/);
    await shot("login");
    await page.fill("#token", "op-t");
    await Promise.all([page.waitForURL(`${base}/rollouts/shop`), page.click("button[type=submit]")]);
    await page.getByText("signed in as ops").waitFor();

    const pages: Array<[string, string, string[]]> = [
      ["overview", "/", ["Deployments (3)", "fraud", "shop", "cart", "Rollouts in progress (2)"]],
      ["deployments", "/deployments", ["shop", "fraud", "cart"]],
      ["deployment", "/deployments/fraud", ["Variants", "Requests per second", "Recent predictions"]],
      ["rollouts", "/rollouts", ["shop", "cart", "Paused"]],
      ["rollout", "/rollouts/shop", ["Promote", "Abort", "Resume", "error_rate"]],
      ["monitors", "/monitors", ["fraud-drift"]],
      ["monitor", "/monitors/fraud-drift", ["Drift per feature over windows", "amount", "hour"]],
      ["models", "/models", ["fraud"]],
      ["model", "/models/fraud", ["v2", "Compare versions"]],
      ["compare", "/models/fraud?a=1&b=2", ["v1", "v2"]],
      ["pipelines", "/pipelines", ["retrain", "Succeeded"]],
      ["pipeline", "/pipelines/retrain", ["Run now", s.runId]],
      ["run", `/pipelines/retrain/runs/${s.runId}`, ["twice", "data"]],
      ["markets", "/markets", ["Markets"]],
    ];
    for (const [name, url, texts] of pages) {
      const r = await page.goto(`${base}${url}`, { waitUntil: "load" });
      assert.equal(r?.status(), 200, url);
      const body = await page.locator("main").innerText();
      for (const t of texts) assert.ok(body.includes(t), `${url} lacks ${t}: ${body.slice(0, 400)}`);
      // Charts are drawn by the page's own script: a drawn chart proves script-src 'self' let
      // uPlot and dashboard.js run.
      const charts = await page.locator("[data-chart]").count();
      if (charts > 0) await page.locator("[data-chart][data-drawn]").first().waitFor();
      await shot(name);
    }
    // The deployment page's charts really are uPlot canvases.
    await page.goto(`${base}/deployments/fraud`);
    await page.locator(".uplot canvas").first().waitFor();
  });

  test("resume, pause and promote a canary by mouse; the page and the API agree", async () => {
    await page.goto(`${base}/rollouts/shop`);
    await assertPhase("Paused");
    await clickAndSwap("Resume");
    await assertPhase("Progressing");
    await clickAndSwap("Pause");
    await assertPhase("Paused");
    assert.equal(await apiPhase("shop"), "Paused");
    await clickAndSwap("Promote");
    await assertPhase("Succeeded");
    assert.equal(await apiPhase("shop"), "Succeeded");
    // The buttons are gone once the rollout has ended; a reload shows the same.
    assert.equal(await page.getByRole("button", { name: "Promote" }).count(), 0);
    await page.reload();
    await assertPhase("Succeeded");
  });

  test("abort another canary with the keyboard alone", async () => {
    await page.goto(`${base}/rollouts/cart`);
    await assertPhase("Paused");
    const abort = page.getByRole("button", { name: "Abort" });
    let focused = false;
    for (let i = 0; i < 60 && !focused; i++) {
      await page.keyboard.press("Tab");
      // The callback runs in the page; `globalThis.document` because tsconfig has no DOM lib.
      focused = await abort.evaluate(
        (el) =>
          el === (globalThis as unknown as { document: { activeElement: unknown } }).document.activeElement,
      );
    }
    assert.ok(focused, "Tab never reached the Abort button");
    await Promise.all([
      page.waitForResponse((r) => r.url().endsWith("/rollouts/cart/abort")),
      page.keyboard.press("Enter"),
    ]);
    await assertPhase("Aborted");
    assert.equal(await apiPhase("cart"), "Aborted");
    await shot("rollout-aborted");
  });

  test("the run button starts a pipeline run", async () => {
    await page.goto(`${base}/pipelines/retrain`);
    await clickAndSwap("Run now");
    const status = page.locator("#run-control [role=status]");
    await status.waitFor();
    assert.match(await status.innerText(), /Started run \S+/);
  });

  test("no console or page errors, and every request stayed on 127.0.0.1", () => {
    assert.deepEqual(problems, []);
    assert.ok(requested.length > 20, `only ${requested.length} requests seen`);
    const hosts = new Set(requested.map((u) => new URL(u).hostname));
    assert.deepEqual([...hosts], ["127.0.0.1"]);
  });

  async function assertPhase(expected: string) {
    await page.locator(`[data-phase]:text-is("${expected}")`).waitFor();
    assert.equal(await phase().innerText(), expected);
  }

  async function clickAndSwap(label: string) {
    await Promise.all([
      page.waitForResponse((r) => r.request().method() === "POST" && r.status() === 200),
      page.getByRole("button", { name: label }).click(),
    ]);
  }
});
