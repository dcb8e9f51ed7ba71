/**
 * Server-sent events over the event log for open dashboards. One poller reads new events for
 * every client (not one query per client) and runs only while someone listens. Clients are
 * bounded (refused beyond, and counted), each gets a heartbeat comment so proxies keep the
 * connection, and all are closed when the server shuts down.
 */
import type { ServerResponse } from "node:http";
import type { BallastEvent, EventLog } from "../../events/event-log.js";

export interface StreamOptions {
  readonly pollMs?: number;
  readonly heartbeatMs?: number;
  readonly maxClients?: number;
}

export class EventStream {
  private readonly clients = new Set<ServerResponse>();
  private timer: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private lastAt = -Infinity;
  private seenAtLast = new Set<string>();
  private polling = false;
  refused = 0;
  closed = false;

  constructor(
    private readonly events: EventLog,
    private readonly now: () => number,
    private readonly options: StreamOptions = {},
  ) {}

  get listeners(): number {
    return this.clients.size;
  }

  /** Takes over the response; false when the stream is full or closed (the caller answers 503). */
  attach(res: ServerResponse): boolean {
    if (this.closed || this.clients.size >= (this.options.maxClients ?? 50)) {
      this.refused++;
      return false;
    }
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    });
    res.write(`retry: 5000\n: connected\n\n`);
    this.clients.add(res);
    res.on("close", () => {
      this.clients.delete(res);
      if (this.clients.size === 0) this.stop();
    });
    if (this.timer === undefined) this.start();
    return true;
  }

  private start(): void {
    // Only events after the first listener arrived are news.
    if (this.lastAt === -Infinity) this.lastAt = this.now();
    this.timer = setInterval(() => void this.poll(), this.options.pollMs ?? 1000);
    this.heartbeat = setInterval(() => this.broadcast(`: heartbeat\n\n`), this.options.heartbeatMs ?? 15_000);
    this.timer.unref();
    this.heartbeat.unref();
  }

  private stop(): void {
    clearInterval(this.timer);
    clearInterval(this.heartbeat);
    this.timer = undefined;
    this.heartbeat = undefined;
  }

  /** Reads what was recorded since the last poll and sends it; public so tests need no timer. */
  async poll(): Promise<number> {
    if (this.polling) return 0;
    this.polling = true;
    try {
      const fresh = (await this.events.list({ since: this.lastAt, limit: 200 })).filter(
        (e) => !(e.at === this.lastAt && this.seenAtLast.has(e.id)),
      );
      for (const e of fresh) this.send(e);
      const last = fresh.at(-1);
      if (last !== undefined) {
        if (last.at !== this.lastAt) this.seenAtLast = new Set();
        this.lastAt = last.at;
        for (const e of fresh) if (e.at === last.at) this.seenAtLast.add(e.id);
      }
      return fresh.length;
    } finally {
      this.polling = false;
    }
  }

  private send(e: BallastEvent): void {
    const data = JSON.stringify({
      id: e.id,
      at: e.at,
      kind: e.kind,
      name: e.name,
      type: e.type,
      reason: e.reason,
      message: e.message,
    });
    this.broadcast(`event: ballast\nid: ${e.id}\ndata: ${data}\n\n`);
  }

  private broadcast(text: string): void {
    for (const res of this.clients) res.write(text);
  }

  close(): void {
    this.closed = true;
    this.stop();
    for (const res of this.clients) res.end();
    this.clients.clear();
  }
}
