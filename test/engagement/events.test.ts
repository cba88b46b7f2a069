// What lands in engagement_events for each kind of engagement: the pixel (hashed IP, device class,
// machine traffic), page views, downloads and verifications, consent and restriction honoured by the
// database, and rows in their month's partition. Ingestion answers even while the database is stuck.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { emailTracking } from "../../src/modules/engagement/tracking.js";
import { classifyRequest, hashIp } from "../../src/modules/engagement/classify.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { eventsOf, hit, PHONE, tenantWithTemplate, type EngagementTenant } from "./setup.js";

let app: TestApp;
let t: EngagementTenant;
const pixelOf = (tenantId: string, credentialId: string, messageId?: string) =>
  emailTracking({ publicUrl: app.config.publicUrl, keks: app.config.keks }, { tenantId, credentialId, messageId }).pixelUrl;

beforeAll(async () => {
  app = await startTestApp();
  t = await tenantWithTemplate(app);
});
afterAll(() => app.close());

describe("the open pixel", () => {
  it("answers a GIF and records email_opened with a hashed IP, never the raw one", async () => {
    const c = await t.issue();
    const res = await hit(app, pixelOf(t.tenantId, c.credentialId), { ua: PHONE });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/gif");
    expect(res.headers.get("cache-control")).toContain("no-store");
    expect(Buffer.from(await res.arrayBuffer()).subarray(0, 6).toString()).toBe("GIF89a");
    const [event] = await eventsOf(app, t.tenantId, 1, (e) => e.credential_id === c.credentialId);
    expect(event).toMatchObject({ type: "email_opened", channel: "email", ua_class: "mobile", machine: false, recipient_id: c.recipientId });
    expect(event!.ip_hash).toMatch(/^[A-Za-z0-9_-]{22}$/);
    const [raw] = await app.db.admin`select row_to_json(e)::text as json from engagement_events e where credential_id = ${c.credentialId}`;
    expect(raw!.json).not.toContain("127.0.0.1");
  });

  it("still answers a GIF for a bad token, and records nothing", async () => {
    const before = await app.db.admin`select count(*)::int as n from engagement_events`;
    for (const path of ["/t/o/garbage.gif", "/t/o/AAAA.gif", "/t/o/x"]) {
      const res = await hit(app, path);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("image/gif");
    }
    await new Promise((r) => setTimeout(r, 300));
    expect(await app.db.admin`select count(*)::int as n from engagement_events`).toEqual(before);
  });

  it("flags mail privacy proxies, link scanners and HEAD requests as machine traffic", async () => {
    const c = await t.issue();
    const pixel = pixelOf(t.tenantId, c.credentialId);
    await hit(app, pixel, { ua: "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)" });
    await hit(app, pixel, { ua: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)" });
    await hit(app, pixel, { method: "HEAD" });
    const all = await eventsOf(app, t.tenantId, 3, (e) => e.credential_id === c.credentialId);
    expect(all.map((e) => [e.ua_class, e.machine]).sort()).toEqual([["link_scanner", true], ["mail_proxy", true], ["mail_proxy", true]]);
    // Machines' opens do not count as the recipient engaging (reminders still go out).
    const [row] = await app.db.admin`select engaged_at from credentials where id = ${c.credentialId}`;
    expect(row!.engaged_at).toBeNull();
  });

  it("classifies without a request too", () => {
    expect(classifyRequest({ userAgent: "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", method: "GET" })).toEqual({ uaClass: "bot", machine: true });
    expect(classifyRequest({ userAgent: "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1", method: "GET" }).uaClass).toBe("tablet");
    expect(classifyRequest({ userAgent: "Proofpoint URL Defense", method: "GET" })).toEqual({ uaClass: "link_scanner", machine: true });
    expect(classifyRequest({ userAgent: PHONE, method: "GET", sentAt: new Date(), now: Date.now() + 500 })).toEqual({ uaClass: "link_scanner", machine: true });
    expect(classifyRequest({ userAgent: "", method: "GET" }).machine).toBe(true);
  });

  it("hashes an address the same within a UTC day and differently the next", () => {
    const keks = app.config.keks;
    const morning = Date.parse("2026-03-01T00:10:00Z");
    expect(hashIp(keks, "203.0.113.9", morning)).toBe(hashIp(keks, "203.0.113.9", morning + 20 * 3_600_000));
    expect(hashIp(keks, "::ffff:203.0.113.9", morning)).toBe(hashIp(keks, "203.0.113.9", morning));
    expect(hashIp(keks, "203.0.113.9", morning)).not.toBe(hashIp(keks, "203.0.113.9", morning + 24 * 3_600_000));
    expect(hashIp(keks, "203.0.113.9", morning)).not.toBe(hashIp(keks, "203.0.113.10", morning));
    expect(hashIp(keks, "203.0.113.9", morning)).not.toContain("203");
  });
});

describe("the credential's own pages", () => {
  it("records page views, downloads and verification of our credentials", async () => {
    const c = await t.issue();
    await hit(app, c.pagePath, { headers: { accept: "text/html" } });
    await hit(app, `${c.pagePath}?format=json`, { headers: { accept: "text/html" } });
    await hit(app, `${c.pagePath}/badge.png`);
    await hit(app, `${c.pagePath}/badge.svg`);
    const verified = await hit(app, "/verify", { method: "POST", body: JSON.stringify(c.verifiableCredential), headers: { "content-type": "application/json" } });
    expect((await verified.json()).verified).toBe(true);
    const forged = { ...(c.verifiableCredential as object), name: "Forged" };
    await hit(app, "/verify", { method: "POST", body: JSON.stringify(forged), headers: { "content-type": "application/json" } });
    const rows = await eventsOf(app, t.tenantId, 5, (e) => e.credential_id === c.credentialId);
    await new Promise((r) => setTimeout(r, 200)); // time for the forged one to show up, were it counted
    expect((await eventsOf(app, t.tenantId, 5, (e) => e.credential_id === c.credentialId)).length).toBe(5);
    expect(rows.map((e) => `${e.type}/${e.channel}/${e.format ?? ""}`).sort()).toEqual(
      ["downloaded/web/json", "downloaded/web/png", "downloaded/web/svg", "page_viewed/web/", "verified/verifier/"].sort(),
    );
  });
});

describe("consent and restriction", () => {
  it("stores a recipient without tracking consent anonymously: no credential, recipient or IP hash", async () => {
    const c = await t.issue();
    await app.db.admin`update recipients set tracking_consent = false where id = ${c.recipientId}`;
    const r = await t.issue();
    await app.db.admin`update recipients set restricted_at = now() where id = ${r.recipientId}`;
    await hit(app, pixelOf(t.tenantId, c.credentialId));
    await hit(app, c.pagePath, { headers: { accept: "text/html" } });
    await hit(app, r.pagePath, { headers: { accept: "text/html" } });
    const anonymous = await eventsOf(app, t.tenantId, 3, (e) => e.credential_id === null);
    for (const e of anonymous) {
      expect(e).toMatchObject({ credential_id: null, recipient_id: null, ip_hash: null, message_id: null });
      expect(e.occurred_at.getUTCMinutes()).toBe(0); // the time is coarsened to the hour
    }
    expect(anonymous.map((e) => e.type).sort()).toEqual(["email_opened", "page_viewed", "page_viewed"]);
    expect(await app.db.admin`select 1 from engagement_events where credential_id in ${app.db.admin([c.credentialId, r.credentialId])}`).toHaveLength(0);
  });
});

describe("storage", () => {
  it("puts each event in its month's partition", async () => {
    const events = await eventsOf(app, t.tenantId);
    for (const e of events) {
      const month = e.occurred_at.toISOString().slice(0, 7).replace("-", "_");
      expect(e.partition).toBe(`engagement_partitions.engagement_events_${month}`);
    }
  });

  it("answers the pixel at once while the database is stuck, and writes the event when it frees up", async () => {
    const c = await t.issue();
    const locked = app.db.admin.begin(async (tx) => {
      await tx`lock table engagement_events in access exclusive mode`;
      const started = performance.now();
      const res = await hit(app, pixelOf(t.tenantId, c.credentialId));
      const elapsed = performance.now() - started;
      expect(res.status).toBe(200);
      expect(elapsed).toBeLessThan(200);
      await new Promise((r) => setTimeout(r, 200)); // the flush is now waiting on the lock
    });
    await locked;
    await eventsOf(app, t.tenantId, 1, (e) => e.credential_id === c.credentialId && e.type === "email_opened");
  });
});
