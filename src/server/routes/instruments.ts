/**
 * Market data over HTTP: instruments, their bars and the indicators after each bar
 * (`ballast instruments …` calls these). Writes need operator, reads viewer (access.ts).
 */
import type { FastifyPluginAsync } from "fastify";
import type { Ballast } from "../../ballast.js";
import { invalid } from "../../domain/errors.js";
import { isPlainObject } from "../../domain/json-value.js";
import { parseTime } from "../../markets/bar-input.js";
import type { StoredInstrument } from "../../markets/instrument-store.js";
import { MAX_BARS_READ } from "../../application/instruments.js";

type Query = Record<string, string | undefined>;

export function instrumentRoutes(ballast: Ballast): FastifyPluginAsync {
  const { instruments } = ballast;
  return async (app) => {
    app.get<{ Querystring: Query }>("/api/v1/instruments", async (request) => {
      const limit = limitOf(request.query, 1000);
      const { instruments: list, total } = await instruments.list(limit);
      return { instruments: list.map(view), total };
    });

    app.get<{ Params: { id: string } }>("/api/v1/instruments/:id", async (request) =>
      view(await instruments.get(request.params.id)),
    );

    app.put<{ Params: { id: string } }>("/api/v1/instruments/:id", async (request) => {
      const body = request.body ?? {};
      if (!isPlainObject(body)) throw invalid("the request body must be the instrument's config, an object");
      return view(await instruments.put(request.params.id, body));
    });

    app.post<{ Params: { id: string } }>("/api/v1/instruments/:id/bars", async (request) => {
      const body = request.body;
      if (!isPlainObject(body))
        throw invalid('the request body must be {"bars": [{"time": ..., "close": ...}, ...]}');
      const unknown = Object.keys(body).filter((k) => k !== "bars" && k !== "config");
      if (unknown.length > 0)
        throw invalid(
          `unknown field '${unknown[0]?.slice(0, 40)}'; the body has bars and an optional config`,
          {
            field: unknown[0]?.slice(0, 40),
          },
        );
      return instruments.appendBars(request.params.id, body.bars, body.config);
    });

    app.get<{ Params: { id: string }; Querystring: Query }>(
      "/api/v1/instruments/:id/bars",
      async (request) => {
        const page = await pageOf(request.params.id, request.query);
        return { instrument: request.params.id, bars: page.rows.map((r) => r.bar), next: page.next };
      },
    );

    // Stored with each bar when it was appended (recomputed for bars after a late one), so a
    // read is a range scan, not a replay.
    app.get<{ Params: { id: string }; Querystring: Query }>(
      "/api/v1/instruments/:id/indicators",
      async (request) => {
        const page = await pageOf(request.params.id, request.query);
        return {
          instrument: request.params.id,
          indicators: page.rows.map((r) => r.indicators),
          next: page.next,
        };
      },
    );
  };

  /** One page in time order; `next` is the `from` of the following page (null after the last). */
  async function pageOf(id: string, query: Query) {
    const from = query.from === undefined ? undefined : parseTime(numeric(query.from), "from").valueOf();
    const to = query.to === undefined ? undefined : parseTime(numeric(query.to), "to").valueOf();
    const limit = limitOf(query, 1000);
    const rows = await instruments.bars(id, {
      ...(from === undefined ? {} : { from }),
      ...(to === undefined ? {} : { to }),
      limit: Math.min(limit + 1, MAX_BARS_READ),
    });
    const more = rows.length > limit;
    return { rows: rows.slice(0, limit), next: more ? (rows[limit]?.bar.time ?? null) : null };
  }
}

function limitOf(query: Query, fallback: number): number {
  if (query.limit === undefined) return fallback;
  const n = Number(query.limit);
  if (!/^[0-9]+$/.test(query.limit) || n < 1 || n > MAX_BARS_READ - 1)
    throw invalid(
      `limit must be an integer in [1, ${MAX_BARS_READ - 1}], got '${query.limit.slice(0, 20)}'`,
      {
        field: "limit",
      },
    );
  return n;
}

/** A query value is a string: a number in it is the number, anything else a date to parse. */
function numeric(raw: string): number | string {
  const n = Number(raw);
  return raw.trim() !== "" && Number.isFinite(n) ? n : raw;
}

function view(i: StoredInstrument) {
  return {
    id: i.id,
    config: i.config,
    bars: i.bars,
    lastTime: i.lastTime,
    last: i.last,
    createdAt: new Date(i.createdAt).toISOString(),
    updatedAt: new Date(i.updatedAt).toISOString(),
  };
}
