// Protection in transit (lib/transit.ts): every kind of response carries the security headers; HSTS goes
// out where the public address is https, never on a plain-HTTP demo on this machine; in production a
// password, key or signed link that arrives over plain HTTP is refused and never echoed, unless a proxy we
// trust says it came over https (a client saying so itself is ignored). Pages still work under their CSP.
import { createServer } from "node:http";
import { connect, type AddressInfo } from "node:net";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Config } from "../../src/config.js";
import { startServer, type RunningServer } from "../../src/server.js";
import { createTransit } from "../../src/lib/transit.js";
import { LogInDocument } from "../../src/sdk/generated.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { launchBrowser, shot } from "../helpers/browser.js";
import { createKey } from "../helpers/factories.js";
import { tenantWithTemplate, type EngagementTenant, type Issued } from "../engagement/setup.js";

const PUBLIC_URL = "https://credentials.example.test";
let app: TestApp;
let t: EngagementTenant;
let issued: Issued;
let apiKey: string;
const servers: RunningServer[] = [];

beforeAll(async () => {
  app = await startTestApp({ publicUrl: PUBLIC_URL });
  t = await tenantWithTemplate(app, "Transit College");
  issued = await t.issue();
  apiKey = (await createKey(app, t.owner, ["read"])).secret;
}, 60_000);
afterAll(async () => {
  for (const s of servers) await s.close();
  await app?.close();
});

/** Another server on the test app's database, with these settings. */
async function serverWith(overrides: Partial<Config>): Promise<string> {
  const running = await startServer({ config: { ...app.config, ...overrides }, database: app.database }, 0, "127.0.0.1");
  servers.push(running);
  return running.url;
}

const VIEWER = JSON.stringify({ query: "{ viewer { kind } }" });
const json = { "content-type": "application/json" };

function expectProtected(res: Response, what: string, hsts = true) {
  const h = res.headers;
  expect(h.get("x-content-type-options"), what).toBe("nosniff");
  expect(h.get("x-frame-options"), what).toBe("DENY");
  expect(h.get("referrer-policy"), what).toBe("no-referrer");
  expect(h.get("cross-origin-opener-policy"), what).toBe("same-origin");
  expect(h.get("permissions-policy"), what).toContain("camera=()");
  expect(h.get("content-security-policy"), what).toContain("frame-ancestors 'none'");
  expect(h.get("strict-transport-security"), what).toBe(hsts ? "max-age=63072000; includeSubDomains" : null);
}

describe("security headers", () => {
  it("are on every kind of response: GraphQL, its errors, pages, documents, images, PDFs, redirects, refusals, preflights", async () => {
    const base = app.server.url;
    const page = `${base}${issued.pagePath}`;
    const cases: [string, string, RequestInit, number][] = [
      ["GraphQL POST", "/graphql", { method: "POST", headers: { ...json, authorization: `Bearer ${apiKey}` }, body: VIEWER }, 200],
      ["GraphQL syntax error", "/graphql", { method: "POST", headers: { ...json, accept: "application/graphql-response+json" }, body: JSON.stringify({ query: "{ viewer {" }) }, 400],
      ["GraphQL preflight", "/graphql", { method: "OPTIONS", headers: { origin: "https://elsewhere.example", "access-control-request-method": "POST" } }, 204],
      ["credential page", issued.pagePath, { headers: { accept: "text/html" } }, 200],
      ["credential JSON", issued.pagePath, {}, 200],
      ["badge PNG", `${issued.pagePath}/badge.png`, {}, 200],
      ["certificate PDF", `${issued.pagePath}/certificate.pdf`, {}, 200],
      ["public preflight", "/verify", { method: "OPTIONS" }, 204],
      ["verify page", "/verify", { headers: { accept: "text/html" } }, 200],
      ["share redirect", `${issued.pagePath}/share/linkedin-add`, { redirect: "manual" }, 302],
      ["email pixel", "/t/o/not-a-token.gif", {}, 200],
      ["404 page", "/nothing-here", { headers: { accept: "text/html" } }, 404],
      ["404 JSON", "/nothing-here", {}, 404],
      ["405", "/verify", { method: "PUT" }, 405],
      ["password reset page", "/password-reset", { headers: { accept: "text/html" } }, 200],
      ["health check", "/healthz", {}, 200],
    ];
    for (const [what, path, init, status] of cases) {
      const res = await fetch(`${base}${path}`, init);
      expect(res.status, what).toBe(status);
      expectProtected(res, what);
      await res.arrayBuffer();
    }
    // Pages keep their own nonce'd policy; a PDF's keeps its viewer working; JSON loads nothing.
    const pageRes = await fetch(page, { headers: { accept: "text/html" } });
    expect(pageRes.headers.get("content-security-policy")).toMatch(/script-src 'nonce-[^']+'/);
    const pdf = await fetch(`${page}/certificate.pdf`);
    expect(pdf.headers.get("content-security-policy")).toBe("frame-ancestors 'none'");
    expect((await fetch(page)).headers.get("content-security-policy")).toBe("default-src 'none'; frame-ancestors 'none'");
  });

  it("are on the answer Node itself gives a request it cannot parse", async () => {
    const { port } = new URL(app.server.url);
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), "127.0.0.1", () => socket.write("NOT HTTP AT ALL\r\n\r\n"));
      let text = "";
      socket.on("data", (d) => (text += d));
      socket.on("end", () => resolve(text));
      socket.on("error", reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(answer).toMatch(/\r\nx-frame-options: DENY\r\n/);
    expect(answer).toMatch(/\r\nstrict-transport-security: max-age=63072000; includeSubDomains\r\n/);
  });

  it("leave HSTS out on a plain-HTTP demo on this machine, and for a public URL on localhost", async () => {
    for (const publicUrl of ["http://127.0.0.1:4000", "https://localhost:4443", "http://credentials.example.test"]) {
      const url = await serverWith({ publicUrl });
      const res = await fetch(`${url}/nothing-here`);
      expectProtected(res, publicUrl, false);
    }
  });

  it("answer GraphiQL (development) with a policy under which it loads and runs", async () => {
    const res = await fetch(`${app.server.url}/graphql`, { headers: { accept: "text/html" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-security-policy")).toContain("'unsafe-inline'");
    expectProtected(res, "GraphiQL");
  });
});

describe("plain HTTP in production", () => {
  let production: string;
  let trusting: string;
  beforeAll(async () => {
    production = await serverWith({ production: true });
    trusting = await serverWith({ production: true, trustedProxies: ["127.0.0.1"] });
  });

  async function refused(res: Response, ...secrets: string[]) {
    expect(res.status).toBe(403);
    const text = await res.text();
    expect(text).toMatch(/HTTPS_REQUIRED|<h1>Use HTTPS<\/h1>/); // a program reads the code, a person the page
    for (const secret of secrets) expect(text).not.toContain(secret);
    expectProtected(res, "refusal");
    return text;
  }

  it("refuses an API-key request, and does not echo the key", async () => {
    const res = await fetch(`${production}/graphql`, { method: "POST", headers: { ...json, authorization: `Bearer ${apiKey}` }, body: VIEWER });
    const body = JSON.parse(await refused(res, apiKey));
    expect(body.errors[0].extensions.code).toBe("HTTPS_REQUIRED");
    expect(body.errors[0].message).toContain(PUBLIC_URL);
    // The same key outside GraphQL (a bulk job's CSV) is refused the same way.
    await refused(await fetch(`${production}/bulk-jobs/00000000-0000-4000-8000-000000000000/result.csv`, { headers: { authorization: `Bearer ${apiKey}` } }), apiKey);
  });

  it("refuses a login and the password-reset and invitation forms, and echoes no password", async () => {
    const password = "a password sent in clear";
    const login = JSON.stringify({ query: LogInDocument.toString(), variables: { input: { email: t.email, password } } });
    await refused(await fetch(`${production}/graphql`, { method: "POST", headers: json, body: login }), password, t.email);
    const form = new URLSearchParams({ token: "lrp_secret-token", password, passwordAgain: password });
    const reset = await fetch(`${production}/password-reset`, { method: "POST", headers: { accept: "application/json" }, body: form });
    expect(JSON.parse(await refused(reset, password, "lrp_secret-token")).error.code).toBe("HTTPS_REQUIRED");
    const page = await fetch(`${production}/invitations/accept`, { headers: { accept: "text/html" } });
    expect(await refused(page)).toContain("Use HTTPS");
  });

  it("still serves what carries no secret: public pages, documents, preflights", async () => {
    expect((await fetch(`${production}${issued.pagePath}`, { headers: { accept: "text/html" } })).status).toBe(200);
    expect((await fetch(`${production}${issued.pagePath}/badge.png`)).status).toBe(200);
    expect((await fetch(`${production}/graphql`, { method: "OPTIONS", headers: { origin: "https://app.example", "access-control-request-method": "POST" } })).status).toBe(204);
  });

  it("ignores X-Forwarded-Proto from a client that is not a trusted proxy", async () => {
    const res = await fetch(`${production}/graphql`, { method: "POST", headers: { ...json, authorization: `Bearer ${apiKey}`, "x-forwarded-proto": "https" }, body: VIEWER });
    await refused(res, apiKey);
  });

  it("believes a trusted proxy's X-Forwarded-Proto: https, and only its own (last) value", async () => {
    const viaProxy = (proto: string) =>
      fetch(`${trusting}/graphql`, { method: "POST", headers: { ...json, authorization: `Bearer ${apiKey}`, "x-forwarded-proto": proto }, body: VIEWER });
    const ok = await viaProxy("https");
    expect(ok.status).toBe(200);
    expect((await ok.json()).data.viewer.kind).toBe("API_KEY");
    expect((await viaProxy("http, https")).status).toBe(200); // the client said http, the proxy https
    await refused(await viaProxy("https, http"), apiKey); // the client claimed https; the proxy saw http
    await refused(await fetch(`${trusting}/graphql`, { method: "POST", headers: { ...json, authorization: `Bearer ${apiKey}` }, body: VIEWER }), apiKey);
  });

  it("is allowed in development: the same API-key request answers", async () => {
    const res = await fetch(`${app.server.url}/graphql`, { method: "POST", headers: { ...json, authorization: `Bearer ${apiKey}` }, body: VIEWER });
    expect(res.status).toBe(200);
    expect((await res.json()).data.viewer.kind).toBe("API_KEY");
  });
});

describe("cookies", () => {
  it("get Secure on a response that goes out over https (Laurel sets none today: a future one cannot forget)", async () => {
    const transit = createTransit({ ...app.config, trustedProxies: ["127.0.0.1"] });
    const server = createServer((req, res) => {
      transit.protect(req, res);
      res.setHeader("set-cookie", ["session=s3cret; HttpOnly; SameSite=Lax", "already=1; Secure"]);
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    try {
      const viaTls = await fetch(url, { headers: { "x-forwarded-proto": "https" } });
      expect(viaTls.headers.getSetCookie()).toEqual(["session=s3cret; HttpOnly; SameSite=Lax; Secure", "already=1; Secure"]);
      const plain = await fetch(url);
      expect(plain.headers.getSetCookie()).toEqual(["session=s3cret; HttpOnly; SameSite=Lax", "already=1; Secure"]);
    } finally {
      server.close();
    }
  });
});

describe("pages under their policies, in Chromium", () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
  });

  /** Opens `path`, runs `act`, and returns every Content-Security-Policy violation the browser reported. */
  async function violations(path: string, act: (tab: import("playwright-core").Page) => Promise<void>, name: string): Promise<string[]> {
    const tab = await browser.newPage();
    const seen: string[] = [];
    tab.on("console", (m) => /Content Security Policy|Refused to/i.test(m.text()) && seen.push(m.text()));
    await tab.goto(`${app.server.url}${path}`);
    await act(tab);
    await shot(tab, `transit-${name}`);
    await tab.close();
    return seen;
  }

  it("the credential page shows, verifies and offers its share links with no violation", async () => {
    const seen = await violations(issued.pagePath, async (tab) => {
      await tab.locator("#verify").click();
      await tab.locator("[data-verified]").waitFor({ timeout: 15_000 }); // the report came back: connect-src allows /verify
      expect(await tab.locator("#share-linkedin").getAttribute("href")).toContain("/share/linkedin-add");
      expect(await tab.evaluate(() => (document.querySelector(".badge") as HTMLImageElement | null)?.naturalWidth ?? 0)).toBeGreaterThan(0);
    }, "credential-page");
    expect(seen).toEqual([]);
  });

  it("the password-reset form runs its nonce'd script (the token field hides) with no violation", async () => {
    const seen = await violations("/password-reset#lrp_example", async (tab) => {
      await tab.locator("#token-field").waitFor({ state: "hidden" });
    }, "password-reset");
    expect(seen).toEqual([]);
  });

  it("GraphiQL loads its editor with no violation", async () => {
    const seen = await violations("/graphql", async (tab) => {
      await tab.locator(".graphiql-container").first().waitFor({ timeout: 20_000 });
      await tab.waitForTimeout(1_000); // editors start their workers after the first paint
    }, "graphiql");
    expect(seen).toEqual([]);
  });
});
