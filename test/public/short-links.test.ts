// The short verification address a certificate prints: /v/<43 characters> redirects to the credential's
// page, and anything else under /v/ (garbled, unknown, one tenant's id with another's credential) gets
// exactly the answer an unknown credential's long address gets: nothing to learn from a guess.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseShortCode, shortCredentialCode, shortCredentialUrl, SHORT_CODE_LENGTH } from "../../src/modules/credentials/short-url.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { hit, tenantWithTemplate, type EngagementTenant, type Issued } from "../engagement/setup.js";

let app: TestApp;
let a: EngagementTenant;
let b: EngagementTenant;
let issued: Issued;

beforeAll(async () => {
  app = await startTestApp();
  a = await tenantWithTemplate(app, "Short Link College");
  b = await tenantWithTemplate(app, "Other College");
  issued = await a.issue();
}, 60_000);
afterAll(async () => {
  await app?.close();
});

/** Status, content type and body of an answer, to compare two refusals whole. */
async function answer(res: Response) {
  return { status: res.status, type: res.headers.get("content-type"), location: res.headers.get("location"), body: await res.text() };
}

describe("the short code", () => {
  it("is 43 base64url characters that give back both ids, and a URL far shorter than the page's", () => {
    const tenantId = randomUUID();
    const credentialId = randomUUID();
    const code = shortCredentialCode(tenantId, credentialId);
    expect(code).toMatch(new RegExp(`^[A-Za-z0-9_-]{${SHORT_CODE_LENGTH}}$`));
    expect(parseShortCode(code)).toEqual([tenantId, credentialId]);
    expect(parseShortCode(shortCredentialCode(tenantId.toUpperCase(), credentialId))).toEqual([tenantId, credentialId]);
    const short = shortCredentialUrl("https://laurel.example", tenantId, credentialId);
    expect(short).toBe(`https://laurel.example/v/${code}`);
    expect(short.length).toBeLessThan(`https://laurel.example/issuers/${tenantId}/credentials/${credentialId}`.length - 40);
  });

  it("refuses ids that are not UUIDs", () => {
    expect(() => shortCredentialCode("t", randomUUID())).toThrow(TypeError);
    expect(() => shortCredentialUrl("https://x", randomUUID(), `${randomUUID()}x`)).toThrow(TypeError);
  });

  it("accepts only the canonical spelling: wrong length, other alphabets, padding or stray low bits are no code", () => {
    const code = shortCredentialCode(randomUUID(), randomUUID());
    const last = code.at(-1)!;
    // The last character carries 4 bits and 2 unused ones: a sibling with those set decodes alike.
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const sibling = code.slice(0, -1) + alphabet[alphabet.indexOf(last) ^ 1];
    for (const bad of ["", code.slice(1), `${code}A`, `${code}=`, code.replace(/.$/, "+"), code.replace(/^./, "/"), sibling, `${code.slice(0, 40)}%41A`]) {
      expect(parseShortCode(bad), bad).toBeNull();
    }
  });
});

describe("GET /v/<code>", () => {
  it("redirects (302) to the credential's page, which then opens", async () => {
    const res = await hit(app, `/v/${shortCredentialCode(issued.tenantId, issued.credentialId)}`);
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe(`${app.config.publicUrl}${issued.pagePath}`);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const page = await hit(app, res.headers.get("location")!);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("Event Tracking");
    // The code an API returns (shortCredentialUrl) is the same address.
    expect(shortCredentialUrl(app.config.publicUrl, issued.tenantId, issued.credentialId).replace(app.config.publicUrl, "")).toBe(new URL(res.url).pathname);
  });

  it("answers an unknown, garbled or cross-tenant code exactly as it answers an unknown credential, for browsers and programs", async () => {
    const other = await b.issue();
    const codes = [
      shortCredentialCode(randomUUID(), randomUUID()), // nobody's
      shortCredentialCode(issued.tenantId, randomUUID()), // our tenant, no such credential
      shortCredentialCode(b.tenantId, issued.credentialId), // a's credential under b's id
      shortCredentialCode(issued.tenantId, other.credentialId), // b's credential under a's id
      "garbled",
      `${shortCredentialCode(issued.tenantId, issued.credentialId)}x`,
      "",
    ];
    for (const ua of [undefined, "curl/8.5"]) {
      const unknown = await answer(await hit(app, `/issuers/${issued.tenantId}/credentials/${randomUUID()}`, { ua }));
      expect(unknown.status).toBe(404);
      for (const code of codes) expect(await answer(await hit(app, `/v/${code}`, { ua })), code).toEqual(unknown);
    }
  });

  it("answers 405 to anything but GET and HEAD, and HEAD redirects too", async () => {
    const code = shortCredentialCode(issued.tenantId, issued.credentialId);
    expect((await hit(app, `/v/${code}`, { method: "POST" })).status).toBe(405);
    const head = await hit(app, `/v/${code}`, { method: "HEAD" });
    expect([head.status, head.headers.get("location")]).toEqual([302, `${app.config.publicUrl}${issued.pagePath}`]);
  });
});
