import { test } from "node:test";
import assert from "node:assert/strict";
import { checkBaseUrl, isAllowed, parseAllowList, ANYWHERE } from "../../src/domain/remote-access.js";

test("a base URL is http(s) with scheme, host, port and path only", () => {
  assert.equal(checkBaseUrl("https://models.internal:8443/", "url"), "https://models.internal:8443");
  assert.equal(checkBaseUrl("http://10.0.0.7/serving", "url"), "http://10.0.0.7/serving");
  const refused: [string, RegExp][] = [
    ["http://h/admin/keys?x=", /without a query/],
    ["http://h/?", /without a query/],
    ["http://h/#", /without a fragment/],
    ["http://u:p@h", /user info/],
    ["http://@h", /user info/],
    ["ftp://h", /http:\/\/ or https:\/\//],
    ["not a url", /http:\/\/ or https:\/\//],
  ];
  for (const [url, message] of refused) {
    assert.throws(() => checkBaseUrl(url, "spec.url"), { code: "invalid_argument", message }, url);
    assert.throws(() => checkBaseUrl(url, "spec.url"), { message: /^spec\.url: / }, url);
  }
});

test("--allow-remote: a host allows all its ports, host:port only that port (80/443 by default)", () => {
  const access = parseAllowList("models.internal, 10.0.0.7:8000,[::1]:9000,web:80");
  assert.equal(isAllowed(access, "http://models.internal:1234"), true);
  assert.equal(isAllowed(access, "https://MODELS.internal"), true);
  assert.equal(isAllowed(access, "http://10.0.0.7:8000/x"), true);
  assert.equal(isAllowed(access, "http://10.0.0.7:8001"), false);
  assert.equal(isAllowed(access, "http://10.0.0.7"), false);
  assert.equal(isAllowed(access, "http://[::1]:9000"), true);
  assert.equal(isAllowed(access, "http://web"), true);
  assert.equal(isAllowed(access, "https://web"), false);
  assert.equal(isAllowed(access, "http://127.0.0.1:8000"), false);
  assert.equal(isAllowed(ANYWHERE, "http://127.0.0.1:8000"), true);
  for (const bad of ["", ",", "http://h", "h/path", "u@h", "h:99999"]) {
    assert.throws(() => parseAllowList(bad), { code: "invalid_argument", message: /--allow-remote/ }, bad);
  }
});
