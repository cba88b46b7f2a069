// Certificate designs through the API: a template's design is set, read and previewed with typed
// errors for every rule; the public certificate draws it for credentials already issued; and nothing
// crosses tenants (another tenant's images, templates and designs are simply not there).
import { shortCredentialUrl } from "../../src/modules/credentials/short-url.js";
import { viewerOf } from "./viewer.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CertificateDesignDocument,
  CertificatePreviewDocument,
  SetCertificateDesignDocument,
  UploadImageDocument,
  type CertificateDesignInput,
} from "../../src/sdk/generated.js";
import { LaurelRequestError, type LaurelClient } from "../../src/sdk/index.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { hit, tenantWithTemplate, type EngagementTenant } from "../engagement/setup.js";
import { pdfText, pdfWords } from "../credentials/pdf-tools.js";
import { decodeQr } from "./qr.js";
import { LOGO_SVG, SIGNATURE_SVGS, samplePng } from "./samples.js";

let app: TestApp;
let a: EngagementTenant;
let b: EngagementTenant;
let logoA: string;
let signatureA: string;
let logoB: string;

async function upload(client: LaurelClient, bytes: Buffer, name: string, type: string): Promise<string> {
  const file = new File([new Uint8Array(bytes)], name, { type });
  const res = (await client.upload(UploadImageDocument, { file: null }, { file })).uploadImage as { __typename: string; id: string };
  expect(res.__typename).toBe("Image");
  return res.id;
}


const set = (t: EngagementTenant, design: CertificateDesignInput, client: LaurelClient = t.owner) =>
  client.request(SetCertificateDesignDocument, { templateId: t.templateNodeId, design }).then((r) => r.setCertificateDesign);

async function certificate(path: string): Promise<Buffer> {
  const response = await hit(app, `${path}/certificate.pdf`);
  expect(response.status).toBe(200);
  return Buffer.from(await response.arrayBuffer());
}

beforeAll(async () => {
  app = await startTestApp();
  a = await tenantWithTemplate(app, "Alpha Institute");
  b = await tenantWithTemplate(app, "Beta Academy");
  logoA = await upload(a.owner, Buffer.from(LOGO_SVG), "logo.svg", "image/svg+xml");
  signatureA = await upload(a.owner, samplePng(200, 60), "signature.png", "image/png");
  logoB = await upload(b.owner, Buffer.from(SIGNATURE_SVGS[0]!), "b.svg", "image/svg+xml");
});
afterAll(async () => app?.close());

describe("a template's certificate design", () => {
  it("is classic by default, and is drawn so for a credential issued before any design was chosen", async () => {
    const issued = await a.issue();
    const read = (await a.owner.request(CertificateDesignDocument, { templateId: a.templateNodeId })).certificateDesign;
    expect(read).toMatchObject({ __typename: "CertificateDesign", layout: "classic", isDefault: true, signatures: [] });
    const before = await pdfWords(await certificate(issued.pagePath));
    expect(before.width).toBeGreaterThan(before.height);

    const saved = await set(a, {
      layout: "Minimal",
      primaryColor: "#AA3300",
      logoImageId: logoA,
      signatures: [{ imageId: signatureA, name: "  Dr. Ines Ortega ", title: "Dean" }, { name: "Kwame Mensah", title: "" }],
    });
    expect(saved).toMatchObject({
      __typename: "CertificateDesign",
      layout: "minimal",
      primaryColor: "#aa3300",
      accentColor: "#2563eb",
      logoImageId: logoA,
      backgroundImageId: null,
      isDefault: false,
      signatures: [{ imageId: signatureA, name: "Dr. Ines Ortega", title: "Dean" }, { imageId: null, name: "Kwame Mensah", title: "" }],
    });
    expect((await a.owner.request(CertificateDesignDocument, { templateId: a.templateNodeId })).certificateDesign).toEqual(saved);

    // The same credential's certificate now comes in the chosen design: portrait, signed, its images drawn.
    const pdf = await certificate(issued.pagePath);
    const after = await pdfWords(pdf);
    expect(after.width).toBeLessThan(after.height);
    const text = await pdfText(pdf);
    expect(text).toContain("Rae Recipient");
    // Printed under "Verify at": the credential's short link, which redirects to its page.
    const short = shortCredentialUrl(app.config.publicUrl, a.tenantId, issued.credentialId).replace(/^https?:\/\//, "");
    for (const words of ["Dr. Ines Ortega", "Dean", "Kwame Mensah", `Verify at ${short} Credential ID ${issued.credentialId}`]) expect(text).toContain(words);
    expect(await decodeQr(pdf)).toBe((issued.verifiableCredential as { id: string }).id);
    expect(pdf.toString("latin1")).toMatch(/\/Subtype \/Image/); // the PNG signature
    const [audit] = await app.db.admin`select action, details from audit_log where tenant_id = ${a.tenantId} and action = 'template.certificate_design_set'`;
    expect(audit).toMatchObject({ details: { layout: "minimal", images: 2, signatures: 2 } });
  });

  it("answers each broken rule with its own typed error, and stores nothing", async () => {
    await set(a, { layout: "modern" });
    expect(await set(a, { layout: "baroque" })).toMatchObject({ __typename: "UnknownLayoutError", layout: "baroque", layouts: ["classic", "modern", "minimal", "custom"] });
    expect(await set(a, { layout: "classic", accentColor: "#abc" })).toMatchObject({ __typename: "InvalidColorError", field: "accentColor", value: "#abc" });
    expect(await set(a, { layout: "classic", primaryColor: "red" })).toMatchObject({ __typename: "InvalidColorError", field: "primaryColor" });
    const four = Array.from({ length: 4 }, (_, i) => ({ name: `Signer ${i}`, title: "Board" }));
    expect(await set(a, { layout: "classic", signatures: four })).toMatchObject({ __typename: "TooManySignaturesError", max: 3, given: 4 });
    expect(await set(a, { layout: "classic", signatures: [{ name: "N".repeat(81), title: "" }] })).toMatchObject({ __typename: "DesignTextTooLongError", field: "signatures.0.name", maxLength: 80 });
    expect(await set(a, { layout: "classic", signatures: [{ name: "Ok", title: "T".repeat(121) }] })).toMatchObject({ __typename: "DesignTextTooLongError", field: "signatures.0.title", maxLength: 120 });
    expect(await set(a, { layout: "classic", signatures: [{ name: "\u200B", title: "" }] })).toMatchObject({ __typename: "ValidationError" });
    expect(await set(a, { layout: "classic", signatures: [{ name: "Private \u{E000}", title: "" }] })).toMatchObject({ __typename: "ValidationError" });
    expect(await set(a, { layout: "classic", backgroundImageId: "00000000-0000-4000-8000-000000000001" })).toMatchObject({ __typename: "DesignImageNotFoundError", field: "backgroundImageId" });
    expect(await set(a, { layout: "classic", logoImageId: "not-a-uuid" })).toMatchObject({ __typename: "DesignImageNotFoundError", field: "logoImageId" });
    expect((await a.owner.request(CertificateDesignDocument, { templateId: a.templateNodeId })).certificateDesign).toMatchObject({ layout: "modern" });
  });

  it("previews with sample data in an unsaved design, as a PDF data URL", async () => {
    const res = (await a.owner.request(CertificatePreviewDocument, { templateId: a.templateNodeId, design: { layout: "classic", logoImageId: logoA }, recipientName: "Γιώργος Παπαδόπουλος" })).certificatePreview;
    if (res.__typename !== "CertificatePreview") throw new Error(JSON.stringify(res));
    expect(res.dataUrl).toMatch(/^data:application\/pdf;base64,/);
    const pdf = Buffer.from(res.dataUrl.split(",")[1]!, "base64");
    expect(pdf.length).toBe(res.byteSize);
    const text = await pdfText(pdf);
    expect(text).toContain("Γιώργος Παπαδόπουλος");
    expect(text).toContain("Event Tracking");
    expect((await pdfWords(pdf)).width).toBeGreaterThan((await pdfWords(pdf)).height); // classic, not the stored modern
    expect((await a.owner.request(CertificatePreviewDocument, { templateId: a.templateNodeId, design: { layout: "classic", primaryColor: "#12345" } })).certificatePreview)
      .toMatchObject({ __typename: "InvalidColorError" });
    expect((await a.owner.request(CertificatePreviewDocument, { templateId: a.templateNodeId, recipientName: "x".repeat(201) })).certificatePreview)
      .toMatchObject({ __typename: "DesignTextTooLongError", field: "recipientName" });
  });
});

describe("between tenants", () => {
  it("a design cannot use another tenant's image, even by its exact id", async () => {
    expect(await set(a, { layout: "classic", logoImageId: logoB })).toMatchObject({ __typename: "DesignImageNotFoundError", field: "logoImageId", imageId: logoB });
    expect(await set(a, { layout: "classic", signatures: [{ imageId: logoB, name: "Eve", title: "" }] })).toMatchObject({ __typename: "DesignImageNotFoundError", field: "signatures.0.imageId" });
  });

  it("another tenant can neither read, set nor preview my template's design", async () => {
    const mine = a.templateNodeId;
    expect((await b.owner.request(CertificateDesignDocument, { templateId: mine })).certificateDesign).toMatchObject({ __typename: "NotFoundError" });
    expect((await b.owner.request(SetCertificateDesignDocument, { templateId: mine, design: { layout: "classic", logoImageId: logoB } })).setCertificateDesign).toMatchObject({ __typename: "NotFoundError" });
    expect((await b.owner.request(CertificatePreviewDocument, { templateId: mine })).certificatePreview).toMatchObject({ __typename: "NotFoundError" });
    const [row] = await app.db.admin`select count(*)::int as n from certificate_designs where tenant_id = ${b.tenantId}`;
    expect(row!.n).toBe(0);
  });

  it("the database itself refuses a design naming another tenant's image", async () => {
    const [template] = await app.db.admin`select template_id from credentials where tenant_id = ${a.tenantId} limit 1`;
    await expect(app.db.admin`insert into certificate_designs (tenant_id, template_id, layout, primary_color, accent_color, logo_image_id)
      values (${a.tenantId}, ${template!.template_id}, 'classic', '#000000', '#ffffff', ${logoB}) on conflict (tenant_id, template_id) do update set logo_image_id = excluded.logo_image_id`).rejects.toThrow(/foreign key/);
  });
});

describe("permissions", () => {
  it("a viewer can read a design but not set or preview one", async () => {
    const viewer = await viewerOf(app, a);
    expect((await viewer.request(CertificateDesignDocument, { templateId: a.templateNodeId })).certificateDesign).toMatchObject({ __typename: "CertificateDesign" });
    for (const attempt of [set(a, { layout: "classic" }, viewer), viewer.request(CertificatePreviewDocument, { templateId: a.templateNodeId })]) {
      const error = await attempt.then(() => null, (e: unknown) => e);
      expect(error).toBeInstanceOf(LaurelRequestError);
      expect((error as LaurelRequestError).code).toBe("FORBIDDEN");
    }
    expect((await a.owner.request(CertificateDesignDocument, { templateId: a.templateNodeId })).certificateDesign).toMatchObject({ layout: "modern" });
  });
});
