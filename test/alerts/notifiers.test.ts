import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { SMTPServer } from "smtp-server";
import { alertIdentity } from "../../src/alerts/alert-book.js";
import { Dispatcher } from "../../src/alerts/dispatcher.js";
import type { AlertNotification } from "../../src/alerts/notifier.js";
import { createNotifier, createNotifiers, parseNotifierConfig } from "../../src/alerts/notifiers/index.js";
import { BallastError } from "../../src/domain/errors.js";
import { FakeScheduler } from "./fake-scheduler.js";

const labels = {
  alertname: "FeatureDrift",
  deployment: "fraud",
  feature: "amount",
  severity: "warning",
  monitor: "fraud-drift",
  test: "psi",
};
const firing: AlertNotification = {
  status: "firing",
  identity: alertIdentity(labels),
  labels,
  annotations: {
    summary: "amount drifted",
    description: "PSI 0.31 is above 0.2",
    score: "0.31",
    threshold: "0.2",
    link: "http://127.0.0.1:8080/monitors/fraud-drift",
  },
  startsAt: Date.UTC(2026, 0, 5, 10, 0, 0),
  generatorUrl: "http://127.0.0.1:8080/api/v1/monitors/fraud-drift",
};
const resolved: AlertNotification = {
  ...firing,
  status: "resolved",
  endsAt: Date.UTC(2026, 0, 5, 11, 30, 0),
};

interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: unknown;
}

/** A real HTTP receiver on a free port; `answer` decides each response. */
class Receiver {
  readonly received: Received[] = [];
  answer: (response: ServerResponse) => void = (response) => response.end("ok");
  readonly #server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      this.received.push({
        method: request.method ?? "",
        url: request.url ?? "",
        headers: request.headers,
        body: text ? (JSON.parse(text) as unknown) : undefined,
      });
      this.answer(response);
    });
  });
  url = "";

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

const live = () => new AbortController().signal;

describe("notifiers against a real HTTP receiver", () => {
  const receiver = new Receiver();
  before(() => receiver.start());
  after(() => receiver.stop());

  test("webhook posts the documented JSON body with the configured headers", async () => {
    receiver.received.length = 0;
    const notifier = createNotifier({
      kind: "webhook",
      name: "ops-hook",
      url: `${receiver.url}/hooks/ballast`,
      headers: { authorization: "Bearer s3cret" },
    });
    assert.equal(notifier.kind, "webhook");
    await notifier.send(firing, live());
    await notifier.send(resolved, live());
    const [first, second] = receiver.received;
    assert.equal(first?.method, "POST");
    assert.equal(first?.url, "/hooks/ballast");
    assert.equal(first?.headers["content-type"], "application/json");
    assert.equal(first?.headers.authorization, "Bearer s3cret");
    assert.deepEqual(first?.body, {
      version: "ballast.alert/v1",
      status: "firing",
      identity: firing.identity,
      labels,
      annotations: firing.annotations,
      startsAt: "2026-01-05T10:00:00.000Z",
      generatorUrl: "http://127.0.0.1:8080/api/v1/monitors/fraud-drift",
    });
    assert.deepEqual(second?.body, {
      version: "ballast.alert/v1",
      status: "resolved",
      identity: firing.identity,
      labels,
      annotations: firing.annotations,
      startsAt: "2026-01-05T10:00:00.000Z",
      endsAt: "2026-01-05T11:30:00.000Z",
      generatorUrl: "http://127.0.0.1:8080/api/v1/monitors/fraud-drift",
    });
  });

  test("slack posts text plus one coloured attachment (severity colour, green on resolve)", async () => {
    receiver.received.length = 0;
    const notifier = createNotifier({
      kind: "slack",
      name: "team",
      url: `${receiver.url}/services/T0/B0/x`,
      channel: "#ml-alerts",
    });
    await notifier.send(firing, live());
    await notifier.send(resolved, live());
    const fields = [
      { title: "deployment", value: "fraud", short: true },
      { title: "feature", value: "amount", short: true },
      { title: "severity", value: "warning", short: true },
      { title: "monitor", value: "fraud-drift", short: true },
      { title: "test", value: "psi", short: true },
      { title: "score", value: "0.31", short: true },
      { title: "threshold", value: "0.2", short: true },
    ];
    const firingText = "[FIRING] FeatureDrift fraud/amount/psi: amount drifted";
    assert.deepEqual(receiver.received[0]?.body, {
      text: firingText,
      channel: "#ml-alerts",
      attachments: [
        {
          color: "#daa038",
          fallback: firingText,
          title: firingText,
          title_link: "http://127.0.0.1:8080/monitors/fraud-drift",
          text: "PSI 0.31 is above 0.2",
          fields,
          ts: 1767607200, // date -u -d 2026-01-05T10:00:00Z +%s
        },
      ],
    });
    const resolvedText = "[RESOLVED] FeatureDrift fraud/amount/psi: amount drifted";
    assert.deepEqual(receiver.received[1]?.body, {
      text: resolvedText,
      channel: "#ml-alerts",
      attachments: [
        {
          color: "#2eb886",
          fallback: resolvedText,
          title: resolvedText,
          title_link: "http://127.0.0.1:8080/monitors/fraud-drift",
          text: "PSI 0.31 is above 0.2",
          fields,
          ts: 1767607200 + 90 * 60,
        },
      ],
    });
  });

  test("slack colours critical alerts red", async () => {
    receiver.received.length = 0;
    const notifier = createNotifier({ kind: "slack", name: "team", url: receiver.url });
    await notifier.send({ ...firing, labels: { ...labels, severity: "critical" } }, live());
    const body = receiver.received[0]?.body as { attachments: Array<{ color: string }>; channel?: string };
    assert.equal(body.attachments[0]?.color, "#d00000");
    assert.equal("channel" in body, false);
  });

  test("a 5xx answer is a retryable failure, a 4xx one is not, a 429 is", async () => {
    const notifier = createNotifier({ kind: "webhook", name: "hook", url: receiver.url });
    const cases: Array<[number, boolean]> = [
      [503, true],
      [400, false],
      [429, true],
    ];
    try {
      for (const [status, retryable] of cases) {
        receiver.answer = (response) => {
          response.statusCode = status;
          response.end("nope");
        };
        await assert.rejects(
          notifier.send(firing, live()),
          (error: unknown) =>
            error instanceof BallastError &&
            error.code === "upstream" &&
            error.details?.retryable === retryable &&
            error.details?.status === status &&
            error.message.includes(`answered ${status}`) &&
            error.message.includes("nope"),
        );
      }
    } finally {
      receiver.answer = (response) => response.end("ok");
    }
  });

  test("the caller's signal stops a request the receiver never answers", async () => {
    const controller = new AbortController();
    receiver.answer = () => controller.abort(new BallastError("timeout", "dispatcher deadline passed"));
    try {
      const notifier = createNotifier({ kind: "alertmanager", name: "am", url: receiver.url });
      await assert.rejects(notifier.send(firing, controller.signal), /dispatcher deadline passed/);
    } finally {
      receiver.answer = (response) => response.end("ok");
    }
  });

  test("the notifier's own timeout ends a request the receiver never answers", async () => {
    receiver.answer = () => {};
    try {
      const notifier = createNotifier({ kind: "webhook", name: "hook", url: receiver.url, timeoutMs: 1 });
      await assert.rejects(
        notifier.send(firing, live()),
        (error: unknown) =>
          error instanceof BallastError && error.code === "timeout" && /within 1 ms/.test(error.message),
      );
    } finally {
      receiver.answer = (response) => response.end("ok");
    }
  });

  test("an unreachable receiver is a retryable 'unavailable'", async () => {
    const closed = new Receiver();
    await closed.start();
    const url = closed.url;
    await closed.stop();
    const notifier = createNotifier({ kind: "webhook", name: "hook", url });
    await assert.rejects(
      notifier.send(firing, live()),
      (error: unknown) =>
        error instanceof BallastError &&
        error.code === "unavailable" &&
        error.message.includes("could not reach"),
    );
  });
});

describe("dispatcher with real receivers", () => {
  test("a receiver that never answers does not hold back one that does", async () => {
    const stuck = new Receiver();
    const healthy = new Receiver();
    await Promise.all([stuck.start(), healthy.start()]);
    stuck.answer = () => {};
    let arrived: () => void = () => {};
    const healthyGotTwo = new Promise<void>((resolve) => (arrived = resolve));
    healthy.answer = (response) => {
      response.end("ok");
      if (healthy.received.length === 2) arrived();
    };
    const dispatcher = new Dispatcher({
      notifiers: createNotifiers([
        { kind: "webhook", name: "stuck", url: stuck.url },
        { kind: "slack", name: "healthy", url: healthy.url },
      ]),
      scheduler: new FakeScheduler(),
    });
    try {
      dispatcher.dispatch(firing);
      dispatcher.dispatch(resolved);
      await healthyGotTwo;
      assert.deepEqual(
        healthy.received.map((request) => (request.body as { text: string }).text.split(" ")[0]),
        ["[FIRING]", "[RESOLVED]"],
      );
      assert.equal(stuck.received.length, 1, "the stuck receiver has only the first, still unanswered");
      const idle = dispatcher.idle();
      dispatcher.close();
      await idle;
      assert.equal(dispatcher.stats().notifiers.stuck?.dropped, 2);
    } finally {
      await Promise.all([stuck.stop(), healthy.stop()]);
    }
  });
});

describe("e-mail notifier against a real SMTP server", () => {
  interface Mail {
    from: string | undefined;
    to: string[];
    raw: string;
  }
  const mails: Mail[] = [];
  let port = 0;
  const server = new SMTPServer({
    disabledCommands: ["STARTTLS"],
    allowInsecureAuth: true,
    onAuth(auth, _session, callback) {
      if (auth.username === "ballast" && auth.password === "pw") callback(null, { user: auth.username });
      else callback(new Error("Invalid username or password"));
    },
    onRcptTo(address, _session, callback) {
      if (address.address.endsWith("@nowhere.invalid")) {
        callback(Object.assign(new Error("No such mailbox"), { responseCode: 550 }));
      } else callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => {
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : undefined,
          to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
          raw: Buffer.concat(chunks).toString("utf8"),
        });
        callback();
      });
    },
  });
  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    port = (server.server.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const config = () => ({
    kind: "email",
    name: "oncall-mail",
    host: "127.0.0.1",
    port,
    auth: { user: "ballast", pass: "pw" },
    from: "ballast@example.test",
    to: ["oncall@example.test", "ml@example.test"],
  });

  test("delivers the alert with subject, a plain-text and an HTML body", async () => {
    mails.length = 0;
    await createNotifier(config()).send(firing, live());
    assert.equal(mails.length, 1);
    const mail = mails[0];
    assert.ok(mail);
    assert.equal(mail.from, "ballast@example.test");
    assert.deepEqual(mail.to, ["oncall@example.test", "ml@example.test"]);
    assert.match(mail.raw, /^Subject: \[FIRING\] FeatureDrift fraud\/amount\/psi: amount drifted\r$/m);
    assert.match(mail.raw, /^Content-Type: text\/plain/m);
    assert.match(mail.raw, /^Content-Type: text\/html/m);
    for (const line of [
      "feature: amount",
      "score: 0.31",
      "threshold: 0.2",
      "starts at: 2026-01-05T10:00:00.000Z",
    ]) {
      assert.ok(mail.raw.includes(`${line}\r\n`), `the text body has "${line}"`);
    }
    assert.ok(mail.raw.includes("<td>amount drifted</td>"), "the HTML body has the summary");
  });

  test("a resolve says so and carries the end time", async () => {
    mails.length = 0;
    await createNotifier(config()).send(resolved, live());
    assert.match(mails[0]?.raw ?? "", /^Subject: \[RESOLVED\] FeatureDrift/m);
    assert.ok(mails[0]?.raw.includes("ends at: 2026-01-05T11:30:00.000Z\r\n"));
  });

  test("wrong credentials and a refused mailbox fail; a refused mailbox is not retryable", async () => {
    await assert.rejects(
      createNotifier({ ...config(), auth: { user: "ballast", pass: "wrong" } }).send(firing, live()),
      (error: unknown) =>
        error instanceof BallastError && error.message.includes(`SMTP 127.0.0.1:${port} failed`),
    );
    await assert.rejects(
      createNotifier({ ...config(), to: ["ghost@nowhere.invalid"] }).send(firing, live()),
      (error: unknown) =>
        error instanceof BallastError &&
        error.details?.retryable === false &&
        error.details?.responseCode === 550,
    );
  });
});

describe("notifier configuration", () => {
  const fails = (raw: unknown, field: string, pattern: RegExp) =>
    assert.throws(
      () => createNotifiers(raw),
      (error: unknown) =>
        error instanceof BallastError &&
        error.code === "invalid_argument" &&
        error.details?.field === field &&
        pattern.test(error.message),
    );

  test("errors name the field that is wrong", () => {
    fails({}, "notifiers", /expected a list/);
    fails([{ kind: "pager", name: "x" }], "notifiers[0].kind", /one of webhook, slack, alertmanager, email/);
    fails([{ kind: "webhook", url: "http://x" }], "notifiers[0].name", /non-empty string/);
    fails([{ kind: "webhook", name: "x", url: "ftp://x" }], "notifiers[0].url", /http\(s\) URL/);
    fails([{ kind: "slack", name: "x", url: "not a url" }], "notifiers[0].url", /http\(s\) URL/);
    fails(
      [{ kind: "webhook", name: "x", url: "http://x", headers: { a: 1 } }],
      "notifiers[0].headers.a",
      /a string/,
    );
    fails(
      [{ kind: "alertmanager", name: "x", url: "http://x", timeoutMs: 0 }],
      "notifiers[0].timeoutMs",
      /> 0/,
    );
    const mail = { kind: "email", name: "m", host: "h", port: 25, from: "a@b", to: ["c@d"] };
    fails([{ ...mail, port: 70000 }], "notifiers[0].port", /TCP port/);
    fails([{ ...mail, to: [] }], "notifiers[0].to", /one or more/);
    fails([{ ...mail, to: ["ok@x", ""] }], "notifiers[0].to[1]", /non-empty/);
    fails([{ ...mail, auth: { user: "u" } }], "notifiers[0].auth.pass", /non-empty/);
    fails([{ ...mail, secure: "yes" }], "notifiers[0].secure", /true or false/);
    fails(
      [
        { kind: "webhook", name: "same", url: "http://a" },
        { kind: "slack", name: "same", url: "http://b" },
      ],
      "notifiers[1].name",
      /already named "same"/,
    );
  });

  test("valid configuration parses with defaults", () => {
    assert.deepEqual(parseNotifierConfig({ kind: "alertmanager", name: "am", url: "http://am:9093/" }), {
      kind: "alertmanager",
      name: "am",
      url: "http://am:9093/",
      headers: {},
      timeoutMs: 10_000,
    });
    assert.deepEqual(
      createNotifiers([
        { kind: "webhook", name: "a", url: "http://a" },
        { kind: "email", name: "b", host: "h", port: 587, from: "x@y", to: "z@y" },
      ]).map((n) => [n.name, n.kind]),
      [
        ["a", "webhook"],
        ["b", "email"],
      ],
    );
  });
});

test("Alertmanager: a firing alert ends after its next re-send is due (plus a margin), a resolve when it stopped", async () => {
  const { postableAlert } = await import("../../src/alerts/notifiers/alertmanager.js");
  const at = Date.UTC(2026, 0, 5, 10);
  const base = { identity: "x", labels: { alertname: "A" }, annotations: {}, startsAt: at };
  const firing = postableAlert({ ...base, status: "firing", renewBy: at + 4 * 3_600_000 });
  assert.equal(firing.endsAt, new Date(at + 4 * 3_600_000 + 15 * 60_000).toISOString());
  const resolved = postableAlert({ ...base, status: "resolved", endsAt: at + 60_000 });
  assert.equal(resolved.endsAt, new Date(at + 60_000).toISOString());
});
