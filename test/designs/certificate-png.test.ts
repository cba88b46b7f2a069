// The certificate as a PNG, publicly and in the design preview: the same route decisions as the PDF
// (404 for another tenant's pairing, 422 UNPRINTABLE_TEXT rather than boxes), a "downloaded" event in
// PNG format, and a picture of the A4 page at the width asked for.
import { PNG } from "pngjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CertificatePreviewDocument, IssueCredentialDocument } from "../../src/sdk/generated.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { uniqueEmail } from "../helpers/factories.js";
import { eventsOf, hit, settle, tenantWithTemplate, type EngagementTenant } from "../engagement/setup.js";

let app: TestApp;
let t: EngagementTenant;

beforeAll(async () => {
  app = await startTestApp();
  t = await tenantWithTemplate(app, "Picture College");
});
afterAll(async () => app?.close());

/** The fraction of a PNG's pixels that are not (near) white: a blank page would be 0. */
function ink(png: PNG): number {
  let n = 0;
  for (let i = 0; i < png.data.length; i += 4) if (png.data[i]! + png.data[i + 1]! + png.data[i + 2]! < 600) n++;
  return n / (png.width * png.height);
}

describe("GET .../certificate.png", () => {
  it("is a 1600-pixel-wide picture of the landscape A4 page, and counts as a PNG download", async () => {
    const c = await t.issue();
    const response = await hit(app, `${c.pagePath}/certificate.png`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("image/png");
    expect(response.headers.get("content-disposition")).toBe(`inline; filename="certificate-${c.credentialId}.png"`);
    const png = PNG.sync.read(Buffer.from(await response.arrayBuffer()));
    expect(png.width).toBe(1600);
    expect(png.height).toBe(Math.round((1600 * 595.28) / 841.89));
    expect(ink(png)).toBeGreaterThan(0.02);
    const events = await eventsOf(app, c.tenantId, 1, (e) => e.type === "downloaded" && e.credential_id === c.credentialId);
    expect(events[0]).toMatchObject({ format: "png", channel: "web", credential_id: c.credentialId });
  });

  it("is 404 for another tenant's id pairing", async () => {
    const c = await t.issue();
    const other = await tenantWithTemplate(app, "Other Picture College");
    expect((await hit(app, `/issuers/${other.tenantId}/credentials/${c.credentialId}/certificate.png`)).status).toBe(404);
  });

  it("answers 422 UNPRINTABLE_TEXT for a name no embedded font draws, and counts no download", async () => {
    const res = await t.owner.request(IssueCredentialDocument, { input: { templateId: t.templateNodeId, recipient: { email: uniqueEmail("cherokee"), name: "ᏣᎳᎩ Sequoyah" } } });
    if (res.issueCredential.__typename !== "Credential") throw new Error(JSON.stringify(res.issueCredential));
    const response = await hit(app, `${res.issueCredential.publicUrl}/certificate.png`);
    expect(response.status).toBe(422);
    const { error } = (await response.json()) as { error: { code: string; fields: { field: string }[] } };
    expect(error.code).toBe("UNPRINTABLE_TEXT");
    expect(error.fields.map((f) => f.field)).toContain("recipientName");
    await settle();
    const id = res.issueCredential.publicUrl.split("/").pop()!;
    const [row] = await app.db.admin<{ n: number }[]>`select count(*)::int as n from engagement_events where credential_id = ${id} and type = 'downloaded'`;
    expect(row!.n).toBe(0);
  });
});

describe("the design preview", () => {
  it("also returns the certificate as a PNG data URL, portrait for minimal", async () => {
    const res = (await t.owner.request(CertificatePreviewDocument, { templateId: t.templateNodeId, design: { layout: "minimal" }, recipientName: "王小明" })).certificatePreview;
    if (res.__typename !== "CertificatePreview") throw new Error(JSON.stringify(res));
    expect(res.png).toMatch(/^data:image\/png;base64,/);
    const png = PNG.sync.read(Buffer.from(res.png.split(",")[1]!, "base64"));
    expect(png.width).toBe(1200);
    expect(png.height).toBeGreaterThan(png.width);
    expect(ink(png)).toBeGreaterThan(0.01);
  });
});
