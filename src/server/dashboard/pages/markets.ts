/**
 * Markets and regime routers: the routers (their regime now, mode, specialists, instrument)
 * and instruments, and per router the regime timeline shaded over the instrument's price, the
 * regime probabilities and the specialists' weights over its logged answers, the per-regime
 * loss of every model with Diebold–Mariano p-values against the regime's champion, and the
 * classifier's transition matrix with each regime's expected duration. Every read is bounded.
 */
import type { Ballast } from "../../../ballast.js";
import type { RouterAnswerRow } from "../../../application/router-log.js";
import type { RegimeModel } from "../../../markets/regime-classifier.js";
import { html, type Html } from "../html.js";
import { badge, page, type PageContext } from "../layout.js";
import { chart } from "../chart.js";
import { num, percent, when } from "../format.js";

/** Answers and bars drawn on a router's page. */
export const POINTS_SHOWN = 500;
const INSTRUMENTS_LISTED = 100;

export async function marketsPage(b: Ballast, ctx: PageContext): Promise<Html> {
  const { routers } = await b.routers.list();
  const probability = await Promise.all(
    routers.map(async (r) => {
      const view = await b.routers.describe(r.name).catch(() => undefined);
      return view?.live === null || view?.live === undefined
        ? null
        : view.live.probabilities[view.live.regime];
    }),
  );
  const { instruments, total } = await b.instruments.list(INSTRUMENTS_LISTED);
  return page(
    ctx,
    "Markets",
    "/markets",
    html`<h1>Markets</h1>
      <h2>Routers</h2>
      ${
        routers.length === 0
          ? html`<p class="muted">No routers.</p>`
          : html`<table>
              <thead>
                <tr>
                  <th scope="col">Router</th>
                  <th scope="col">Regime now</th>
                  <th scope="col" class="num">Probability</th>
                  <th scope="col">Mode</th>
                  <th scope="col">Specialists</th>
                  <th scope="col">Instrument</th>
                  <th scope="col" class="num">Answers</th>
                </tr>
              </thead>
              <tbody>
                ${routers.map(
                  (r, i) =>
                    html`<tr>
                      <td><a href="/markets/routers/${encodeURIComponent(r.name)}">${r.name}</a></td>
                      <td>${r.regime ?? "—"}</td>
                      <td class="num">${percent(probability[i])}</td>
                      <td>${r.mode ?? "—"}</td>
                      <td>${r.specialists.join(", ")}</td>
                      <td>${r.instrument ?? "—"}</td>
                      <td class="num">${r.answers}</td>
                    </tr>`,
                )}
              </tbody>
            </table>`
      }
      <h2>Instruments</h2>
      ${
        instruments.length === 0
          ? html`<p class="muted">no instruments</p>`
          : html`<table>
                <thead>
                  <tr>
                    <th scope="col">Instrument</th>
                    <th scope="col" class="num">Bars</th>
                    <th scope="col">Last bar</th>
                    <th scope="col" class="num">Last close</th>
                  </tr>
                </thead>
                <tbody>
                  ${instruments.map(
                    (x) =>
                      html`<tr>
                        <td>${x.id}</td>
                        <td class="num">${x.bars}</td>
                        <td>${when(x.lastTime)}</td>
                        <td class="num">${num(x.last?.bar.close ?? null, 6)}</td>
                      </tr>`,
                  )}
                </tbody>
              </table>
              ${total > instruments.length ? html`<p class="muted">${instruments.length} of ${total} shown</p>` : ""}`
      }`,
  );
}

/** Consecutive answers in one regime make one band, from its first bar to the next regime's. */
export function regimeBands(answers: readonly RouterAnswerRow[], labels: readonly string[]) {
  const timed = answers.filter((a): a is RouterAnswerRow & { origin: number } => a.origin !== null);
  const bands: Array<{ from: number; to: number; label: string }> = [];
  for (const a of timed) {
    const label = labels[a.regime] ?? `regime ${a.regime}`;
    const last = bands.at(-1);
    if (last !== undefined && last.label === label) last.to = a.origin / 1000;
    else {
      if (last !== undefined) last.to = a.origin / 1000;
      bands.push({ from: a.origin / 1000, to: a.origin / 1000, label });
    }
  }
  return bands;
}

/**
 * Where the answers' charts put each answer: at its origin (the bar it forecast from) when every
 * answer has one and they run forward, so probabilities and weights line up with the price over
 * the same dates (a replay answers years of bars in a minute); else at the time it was answered.
 */
export function answerAxis(answers: readonly RouterAnswerRow[]): { x: number[]; over: "bars" | "answers" } {
  const origins = answers.map((a) => a.origin);
  const forward = origins.every((o, i) => o !== null && (i === 0 || o >= (origins[i - 1] as number)));
  return forward && answers.length > 0
    ? { x: origins.map((o) => (o as number) / 1000), over: "bars" }
    : { x: answers.map((a) => a.at / 1000), over: "answers" };
}

/** E[duration of regime i] = 1 / (1 - p_ii) bars. */
export function expectedDuration(stay: number): number | null {
  return stay >= 1 ? null : 1 / (1 - stay);
}

function transitionTable(model: RegimeModel): Html {
  if (model.method === "rules")
    return html`<p class="muted">a rules classifier: thresholds, no transition matrix</p>`;
  return html`<table>
    <caption class="muted">
      P(next regime | regime now) and expected duration in bars
    </caption>
    <thead>
      <tr>
        <th scope="col">From \\ to</th>
        ${model.labels.map((l) => html`<th scope="col" class="num">${l}</th>`)}
        <th scope="col" class="num">Expected duration</th>
      </tr>
    </thead>
    <tbody>
      ${model.transition.map(
        (row, i) =>
          html`<tr>
            <th scope="row">${model.labels[i]}</th>
            ${row.map((p) => html`<td class="num">${num(p, 4)}</td>`)}
            <td class="num">${((d) => (d === null ? "∞" : num(d, 4)))(expectedDuration(row[i] ?? 0))}</td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

export async function routerPage(b: Ballast, ctx: PageContext, name: string): Promise<Html> {
  const view = await b.routers.describe(name);
  const [performance, answers, classifier] = await Promise.all([
    b.routers.performance(name),
    b.routers.recentAnswers(name, POINTS_SHOWN),
    b.routers.classifierOf(name),
  ]);
  const instrument = view.spec.instrument;
  const bars =
    instrument === undefined || instrument === null
      ? []
      : await b.instruments.latestBars(instrument, POINTS_SHOWN).catch(() => []);
  const regimes = view.spec.regimes;
  const specialists = view.spec.specialists.map((s) => s.name);
  const { x, over } = answerAxis(answers);
  const challenger = (regime: string) =>
    (performance.regimes[regime] ?? [])
      .filter((m) => m.model !== view.champions[regime] && m.model !== "router" && m.qlike !== null)
      .sort((p, q) => (p.qlike as number) - (q.qlike as number))[0];
  const body = html`<h1>Router ${name}</h1>
    <p>
      Mode ${view.spec.mode} · instrument ${instrument ?? "—"} · regime now
      <strong>${view.live?.regime ?? "—"}</strong>
      ${view.live === null ? "" : html`(${percent(view.live.probabilities[view.live.regime])})`} ·
      ${view.answers} answers
    </p>
    <div class="grid">
      ${chart({
        title: `Regime over the price of ${instrument ?? "(no instrument)"} (last ${POINTS_SHOWN} bars)`,
        x: bars.map((r) => r.bar.time / 1000),
        series: [{ label: "close", values: bars.map((r) => r.bar.close) }],
        bands: regimeBands(answers, regimes),
      })}
      ${chart({ title: `Regime probabilities over ${over}`, x, series: regimes.map((g, k) => ({ label: g, values: answers.map((a) => a.probabilities[k] ?? null) })) })}
      ${chart({ title: `Router weights per specialist over ${over}`, x, series: specialists.map((s) => ({ label: s, values: answers.map((a) => a.weights[s] ?? null) })) })}
    </div>
    <h2>Regime legend</h2>
    <p>${regimes.map((g) => html`${badge(g, g === view.live?.regime ? "warn" : "")} `)}</p>
    <h2>Champion and challenger per regime</h2>
    <table>
      <thead>
        <tr>
          <th scope="col">Regime</th>
          <th scope="col">Champion</th>
          <th scope="col">Challenger</th>
          <th scope="col">Live weights</th>
        </tr>
      </thead>
      <tbody>
        ${regimes.map(
          (g) =>
            html`<tr>
              <td>${g}</td>
              <td>${view.champions[g]}</td>
              <td>${challenger(g)?.model ?? "—"}</td>
              <td>
                ${Object.entries(view.weights.live[g] ?? {}).map(([s, w]) => html`<div>${s} = ${num(w)}</div>`)}
              </td>
            </tr>`,
        )}
      </tbody>
    </table>
    <h2>Loss per regime and model</h2>
    ${
      Object.keys(performance.regimes).length === 0
        ? html`<p class="muted">no outcomes yet</p>`
        : html`<table>
            <thead>
              <tr>
                <th scope="col">Regime</th>
                <th scope="col">Model</th>
                <th scope="col" class="num">n</th>
                <th scope="col" class="num">QLIKE</th>
                <th scope="col" class="num">MSE</th>
                <th scope="col" class="num">DM p vs champion</th>
                <th scope="col" class="num">DM p vs router</th>
              </tr>
            </thead>
            <tbody>
              ${Object.entries(performance.regimes).flatMap(([g, rows]) =>
                rows.map(
                  (m) =>
                    html`<tr>
                      <td>${g}</td>
                      <td>
                        ${m.model}${m.model === view.champions[g] ? html` ${badge("champion", "ok")}` : ""}
                      </td>
                      <td class="num">${m.n}</td>
                      <td class="num">${num(m.qlike, 4)}</td>
                      <td class="num">${num(m.mse, 4)}</td>
                      <td class="num">${num(m.dmVsChampion, 3)}</td>
                      <td class="num">${num(m.dmVsRouter, 3)}</td>
                    </tr>`,
                ),
              )}
            </tbody>
          </table>`
    }
    <h2>Classifier (${classifier.method})</h2>
    ${transitionTable(classifier)}`;
  return page(ctx, `Router ${name}`, "/markets", body, true);
}
