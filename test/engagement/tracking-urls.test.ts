// Tracking URLs cannot be forged or used as open redirects: a click URL leads to exactly the target it
// signed, and a changed target, a garbled or forged signature, or a token of another kind or tenant
// gets an error page, no redirect and no event. Share links redirect only to URLs we build.
import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { claimToken, emailTracking, signToken, verifyToken } from "../../src/modules/engagement/tracking.js";
import { parseKeks } from "../../src/config.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { eventsOf, hit, humanClick, settle, tenantWithTemplate, type EngagementTenant, type Issued } from "./setup.js";

let app: TestApp;
let a: EngagementTenant;
let b: EngagementTenant;
let credential: Issued;
let tracking: ReturnType<typeof emailTracking>;
const settings = () => ({ publicUrl: app.config.publicUrl, keks: app.config.keks });

beforeAll(async () => {
  app = await startTestApp();
  a = await tenantWithTemplate(app, "Redirect University");
  b = await tenantWithTemplate(app, "Other College");
  credential = await a.issue();
  tracking = emailTracking(settings(), { tenantId: a.tenantId, credentialId: credential.credentialId });
});
afterAll(() => app.close());

const tokenOf = (url: string) => new URL(url).pathname.split("/").pop()!.replace(/\.gif$/, "");

describe("tracking tokens", () => {
  it("verify for what they were signed for and nothing else", () => {
    const s = settings();
    const ref = { tenantId: a.tenantId, credentialId: credential.credentialId, messageId: randomUUID() };
    const click = signToken(s, "click:view", ref, "https://example.test/a");
    expect(verifyToken(s, click, "https://example.test/a")).toMatchObject({ kind: "click", purpose: "view", ...ref });
    expect(verifyToken(s, click, "https://example.test/b")).toBeNull();
    expect(verifyToken(s, click)).toBeNull();
    const flipped = Buffer.from(click, "base64url");
    flipped[12]! ^= 1; // one bit of the tenant id
    expect(verifyToken(s, flipped.toString("base64url"), "https://example.test/a")).toBeNull();
    expect(verifyToken(s, click.slice(0, -2), "https://example.test/a")).toBeNull();
    expect(verifyToken(s, "not a token!")).toBeNull();
    expect(verifyToken(s, "")).toBeNull();
    // Signed with a key we do not hold: a forgery.
    const stranger = { keks: parseKeks(`1:${randomBytes(32).toString("base64")}`) };
    expect(verifyToken(s, signToken(stranger, "open", ref))).toBeNull();
  });

  it("keep working after a KEK rotation while the old key is kept", () => {
    const old = parseKeks(`1:${randomBytes(32).toString("base64")}`);
    const rotated = new Map([...old, [2, randomBytes(32)]]);
    const ref = { tenantId: a.tenantId, credentialId: credential.credentialId };
    const before = claimToken({ keks: old }, ref);
    expect(verifyToken({ keks: rotated }, before)).toMatchObject({ kind: "claim", ...ref, messageId: null });
    expect(Buffer.from(claimToken({ keks: rotated }, ref), "base64url").readUInt16BE(2)).toBe(2);
    expect(verifyToken({ keks: new Map([[2, rotated.get(2)!]]) }, before)).toBeNull(); // once the old KEK is gone
  });

  it("make short URLs and refuse to sign anything but absolute http(s) targets", () => {
    const ref = { tenantId: a.tenantId, credentialId: credential.credentialId, messageId: randomUUID() };
    const t = emailTracking(settings(), ref);
    expect(t.pixelUrl.length).toBeLessThan(app.config.publicUrl.length + 110);
    for (const bad of ["javascript:alert(1)", "/relative", "//evil.test/x", "https://evil.test/\r\nset-cookie: x", "data:text/html,hi"]) {
      expect(() => t.link(bad)).toThrow();
    }
  });
});

describe("the click endpoint", () => {
  it("redirects to exactly the signed target and records the click", async () => {
    const target = "https://example.test/path?q=1&r=a%20b#frag";
    const res = await hit(app, tracking.link(target, "other"));
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe(target);
    // Clicked the moment it was made: a gateway scanning the message, not the reader.
    const [scan] = await eventsOf(app, a.tenantId);
    expect(scan).toMatchObject({ type: "link_clicked", channel: "email", credential_id: credential.credentialId, ua_class: "link_scanner", machine: true });
    const later = await hit(app, humanClick(app, { tenantId: a.tenantId, credentialId: credential.credentialId }, target));
    expect(later.headers.get("location")).toBe(target);
    const [, person] = await eventsOf(app, a.tenantId, 2);
    expect(person).toMatchObject({ type: "link_clicked", ua_class: "desktop", machine: false });
  });

  it("gets no redirect and records nothing for a modified target, a garbled signature or a forged token", async () => {
    const c = await b.issue();
    const t = emailTracking(settings(), { tenantId: b.tenantId, credentialId: c.credentialId });
    const good = new URL(t.link("https://example.test/mine"));
    const token = tokenOf(good.toString());
    const garbled = token.slice(0, -3) + (token.endsWith("AAA") ? "BBB" : "AAA");
    const forged = signToken({ keks: parseKeks(`1:${randomBytes(32).toString("base64")}`) }, "click:other", { tenantId: b.tenantId, credentialId: c.credentialId }, "https://evil.test/");
    const attempts = [
      `/t/c/${token}?u=${encodeURIComponent("https://evil.test/")}`,
      `/t/c/${token}?u=${encodeURIComponent("https://example.test/mine/")}`,
      `/t/c/${token}?u=${encodeURIComponent("https://evil.test/")}&u=${encodeURIComponent("https://example.test/mine")}`,
      `/t/c/${token}`,
      `/t/c/${garbled}${good.search}`,
      `/t/c/${forged}?u=${encodeURIComponent("https://evil.test/")}`,
      `/t/c/${tokenOf(t.pixelUrl)}?u=${encodeURIComponent("https://evil.test/")}`, // a pixel token is not a click token
      `/t/c/${claimToken(settings(), { tenantId: b.tenantId, credentialId: c.credentialId })}?u=${encodeURIComponent("https://evil.test/")}`,
      `/t/c/${token}/..%2F..%2Fevil${good.search}`,
    ];
    for (const path of attempts) {
      const res = await hit(app, path);
      expect([400, 404], path).toContain(res.status);
      expect(res.headers.get("location"), path).toBeNull();
    }
    await settle();
    expect(await app.db.admin`select 1 from engagement_events where tenant_id = ${b.tenantId}`).toHaveLength(0);
  });

  it("records a LinkedIn add-to-profile link as linkedin_added", async () => {
    const c = await b.issue();
    const t = emailTracking(settings(), { tenantId: b.tenantId, credentialId: c.credentialId });
    const res = await hit(app, t.link("https://www.linkedin.com/profile/add?startTask=CERTIFICATION_NAME&name=X", "linkedin"));
    expect(res.headers.get("location")).toBe("https://www.linkedin.com/profile/add?startTask=CERTIFICATION_NAME&name=X");
    const [event] = await eventsOf(app, b.tenantId, 1, (e) => e.credential_id === c.credentialId);
    expect(event).toMatchObject({ type: "linkedin_added", network: "linkedin" });
  });
});

describe("the share endpoint", () => {
  it("redirects only to the URLs it builds from the credential, whatever the query says", async () => {
    const c = await a.issue();
    const base = `${c.pagePath}/share`;
    const add = await hit(app, `${base}/linkedin-add?url=https://evil.test/&u=https://evil.test/`);
    expect(add.status).toBe(302);
    const linkedIn = new URL(add.headers.get("location")!);
    expect(linkedIn.origin + linkedIn.pathname).toBe("https://www.linkedin.com/profile/add");
    expect(linkedIn.searchParams.get("certUrl")).toBe(`${app.config.publicUrl}${c.pagePath}`);
    expect(linkedIn.searchParams.get("certId")).toBe(c.credentialId);
    const expected: Record<string, string> = {
      linkedin: "https://www.linkedin.com/sharing/share-offsite/",
      x: "https://twitter.com/intent/tweet",
      facebook: "https://www.facebook.com/sharer/sharer.php",
      copy: `${app.config.publicUrl}${c.pagePath}`,
    };
    for (const [network, prefix] of Object.entries(expected)) {
      const res = await hit(app, `${base}/${network}?u=https://evil.test/`);
      expect(res.headers.get("location")!.startsWith(prefix), network).toBe(true);
      expect(res.headers.get("location")).not.toContain("evil.test");
    }
    expect((await hit(app, `${base}/email`)).headers.get("location")).toMatch(/^mailto:\?subject=/);
    expect((await hit(app, `${base}/myspace`)).status).toBe(404);
    expect((await hit(app, `/issuers/${a.tenantId}/credentials/${randomUUID()}/share/x`)).status).toBe(404);
    // Tenant B's path with tenant A's credential: not found.
    expect((await hit(app, `/issuers/${b.tenantId}/credentials/${c.credentialId}/share/x`)).status).toBe(404);
    const events = await eventsOf(app, a.tenantId, 6, (e) => e.credential_id === c.credentialId);
    expect(events.map((e) => `${e.type}:${e.network}`).sort()).toEqual(
      ["linkedin_added:linkedin", "shared:copy", "shared:email", "shared:facebook", "shared:linkedin", "shared:x"].sort(),
    );
  });
});

describe("the claim link", () => {
  it("claims only with the credential's own token, by POST", async () => {
    const c = await a.issue();
    const other = await b.issue();
    const ref = { tenantId: a.tenantId, credentialId: c.credentialId };
    const token = claimToken(settings(), ref);
    const page = await hit(app, `${c.pagePath}/claim?token=${token}`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain(`name="token" value="${token}"`);
    const post = (path: string, t: string) =>
      hit(app, path, { method: "POST", body: `token=${t}`, headers: { "content-type": "application/x-www-form-urlencoded" } });
    expect((await post(`/issuers/${b.tenantId}/credentials/${other.credentialId}/claim`, token)).status).toBe(404);
    expect((await post(`${c.pagePath}/claim`, claimToken(settings(), { tenantId: b.tenantId, credentialId: other.credentialId }))).status).toBe(404);
    // One character changed in the middle (the last one may only carry base64 padding bits).
    const tampered = token.slice(0, 20) + (token[20] === "A" ? "B" : "A") + token.slice(21);
    expect((await post(`${c.pagePath}/claim`, tampered)).status).toBe(404);
    expect((await hit(app, `${c.pagePath}/claim?token=${token.slice(0, -2)}`)).status).toBe(404);
    const claimed = await post(`${c.pagePath}/claim`, token);
    expect(claimed.status).toBe(303);
    expect(claimed.headers.get("location")).toBe(c.pagePath);
    const events = await eventsOf(app, a.tenantId, 1, (e) => e.type === "claimed");
    expect(events.map((e) => e.credential_id)).toEqual([c.credentialId]);
    await settle();
    expect(await app.db.admin`select 1 from engagement_events where tenant_id = ${b.tenantId} and type = 'claimed'`).toHaveLength(0);
    const [row] = await app.db.admin`select claimed_at from credentials where id = ${c.credentialId}`;
    expect(row!.claimed_at).toBeInstanceOf(Date);
  });
});
