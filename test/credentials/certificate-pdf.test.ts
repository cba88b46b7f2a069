// The printable certificate: a real PDF, the signed credential attached inside it (so the file carries
// its own proof), its status as of today, and a "downloaded" event in PDF format.
import { inflateSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RevokeCredentialDocument } from "../../src/sdk/generated.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { eventsOf, hit, tenantWithTemplate, type EngagementTenant } from "../engagement/setup.js";

let app: TestApp;
let t: EngagementTenant;

beforeAll(async () => {
  app = await startTestApp();
  t = await tenantWithTemplate(app, "Paper College");
});
afterAll(async () => app?.close());

/** The embedded file streams of a PDF (pdfkit deflates them). */
function attachments(pdf: Buffer): string[] {
  const text = pdf.toString("latin1");
  return [...text.matchAll(/\/Type \/EmbeddedFile[\s\S]*?stream\r?\n([\s\S]*?)\r?\nendstream/g)].map((m) => inflateSync(Buffer.from(m[1]!, "latin1")).toString("utf8"));
}

describe("GET .../certificate.pdf", () => {
  it("is a PDF carrying the signed credential, and counts as a PDF download", async () => {
    const c = await t.issue();
    const response = await hit(app, `${c.pagePath}/certificate.pdf`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/pdf");
    const pdf = Buffer.from(await response.arrayBuffer());
    expect(pdf.subarray(0, 5).toString()).toBe("%PDF-");
    expect(pdf.toString("latin1")).toContain("(credential.json)");
    const [attached] = attachments(pdf);
    expect(JSON.parse(attached!)).toEqual(c.verifiableCredential);
    const events = await eventsOf(app, c.tenantId, 1, (e) => e.type === "downloaded");
    expect(events[0]).toMatchObject({ format: "pdf", channel: "web", credential_id: c.credentialId });
  });

  it("is 404 for an unknown credential or another tenant's id pairing", async () => {
    const c = await t.issue();
    const other = await tenantWithTemplate(app, "Other College");
    expect((await hit(app, `/issuers/${other.tenantId}/credentials/${c.credentialId}/certificate.pdf`)).status).toBe(404);
  });

  it("still serves a revoked credential's certificate, marked as revoked", async () => {
    const c = await t.issue();
    const globalId = Buffer.from(`Credential:${c.credentialId}`).toString("base64");
    const { revokeCredential } = await t.owner.request(RevokeCredentialDocument, { id: globalId, input: { reason: "Withdrawn" } });
    expect(revokeCredential.__typename).toBe("Credential");
    const pdf = Buffer.from(await (await hit(app, `${c.pagePath}/certificate.pdf`)).arrayBuffer());
    const pages = [...pdf.toString("latin1").matchAll(/stream\r?\n([\s\S]*?)\r?\nendstream/g)]
      .map((m) => { try { return inflateSync(Buffer.from(m[1]!, "latin1")).toString("latin1"); } catch { return ""; } })
      .join("\n");
    // pdfkit writes text as <hex> runs of character codes (split where it kerns): decode and join them.
    const shown = [...pages.matchAll(/<([0-9a-f]+)>/g)].map((m) => Buffer.from(m[1]!, "hex").toString("latin1")).join("");
    expect(shown).toContain("REVOKED");
    expect(shown).toContain("Status: Revoked");
  });
});
