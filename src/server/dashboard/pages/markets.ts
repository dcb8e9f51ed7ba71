/**
 * Markets and regime routers: the place for the router pages (regime timeline over the price,
 * probabilities, weights, per-regime loss, champion and challenger, transition matrix). The
 * routers are being built on other branches; until they are merged there is nothing to show.
 */
import { html, type Html } from "../html.js";
import { page, type PageContext } from "../layout.js";

export function marketsPage(ctx: PageContext): Html {
  return page(
    ctx,
    "Markets",
    "/markets",
    html`<h1>Markets</h1>
      <p>No routers. Regime routers will be listed here once this server runs any.</p>`,
  );
}
