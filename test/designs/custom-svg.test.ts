// Custom certificate designs: a tenant's own SVG with merge fields is checked when it is set (a typed
// error naming each unsafe construct or unknown field), previewed, and drawn by the public certificate
// route with the recipient's name (Latin, Arabic, Chinese) in its box and a QR code of the credential.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PNG } from "pngjs";
import {
  CertificateDesignDocument,
  CertificatePreviewDocument,
  IssueCredentialDocument,
  SetCertificateDesignDocument,
  UploadImageDocument,
  type CertificateDesignInput,
} from "../../src/sdk/generated.js";
import { LaurelRequestError, type LaurelClient } from "../../src/sdk/index.js";
import { credentialFromPdf } from "../../src/modules/credentials/pdf-attachment.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { uniqueEmail } from "../helpers/factories.js";
import { hit, tenantWithTemplate, type EngagementTenant } from "../engagement/setup.js";
import { decodeQr, renderPage } from "./qr.js";
import { sampleCredential, samplePng } from "./samples.js";
import { customCertificatePng } from "../../src/modules/designs/custom.js";
import { certificatePdf } from "../../src/modules/credentials/certificate-pdf.js";
import { defaultRenderDesign } from "../../src/modules/designs/design.js";
import { pdfText } from "../credentials/pdf-tools.js";
import { PREVIEW_PNG_WIDTH } from "../../src/modules/designs/preview.js";
import { viewerOf } from "./viewer.js";

// A landscape certificate, 1123×794 units; the name's box is x 161.5-961.5, baseline 330 (72 units bold).
const GOOD_SVG = `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" viewBox="0 0 1123 794">
  <defs><linearGradient id="band"><stop offset="0" stop-color="#1f4e79"/><stop offset="1" stop-color="#b08d57"/></linearGradient></defs>
  <rect width="1123" height="794" fill="#fdf8ee"/>
  <rect x="30" y="30" width="1063" height="734" fill="none" stroke="url(#band)" stroke-width="8"/>
  <image xlink:href="data:image/png;base64,${samplePng(40, 40).toString("base64")}" x="60" y="60" width="80" height="80"/>
  <text x="561.5" y="130" font-size="36" text-anchor="middle" fill="#1f4e79">{{issuer.name}}</text>
  <text x="561.5" y="210" font-size="26" text-anchor="middle" fill="#555555">This certifies that</text>
  <text x="561.5" y="330" font-size="72" font-weight="bold" text-anchor="middle" data-width="800">{{recipient.name}}</text>
  <text x="561.5" y="430" font-size="34" text-anchor="middle"><tspan>{{achievement.name}}</tspan></text>
  <text x="561.5" y="480" font-size="20" text-anchor="middle" data-width="800" data-max-lines="2">{{achievement.description}}</text>
  <text x="80" y="660" font-size="18">{{issuedOn}}</text>
  <text x="80" y="690" font-size="18">{{expiresOn}}</text>
  <text x="80" y="720" font-size="14" fill="#555555">{{credential.id}}</text>
  <text x="80" y="740" font-size="12" fill="#555555">{{credential.url}}</text>
  <rect data-laurel="qr" x="900" y="560" width="170" height="170"/>
</svg>`;
const NAME_BOX = { x: 161.5, y: 250, width: 800, height: 100 };

let app: TestApp;
let a: EngagementTenant;
let b: EngagementTenant;
let goodA: string;
let goodB: string;

async function upload(client: LaurelClient, bytes: Buffer, name = "design.svg", type = "image/svg+xml"): Promise<string> {
  const file = new File([new Uint8Array(bytes)], name, { type });
  const res = (await client.upload(UploadImageDocument, { file: null }, { file })).uploadImage as { __typename: string; id: string; message?: string };
  expect(res.__typename, res.message).toBe("Image");
  return res.id;
}

const set = (t: EngagementTenant, design: CertificateDesignInput, client: LaurelClient = t.owner) =>
  client.request(SetCertificateDesignDocument, { templateId: t.templateNodeId, design }).then((r) => r.setCertificateDesign);

async function issueTo(t: EngagementTenant, name: string) {
  const res = await t.owner.request(IssueCredentialDocument, { input: { templateId: t.templateNodeId, recipient: { email: uniqueEmail("custom"), name } } });
  if (res.issueCredential.__typename !== "Credential") throw new Error(JSON.stringify(res.issueCredential));
  const id = res.issueCredential.publicUrl.split("/").pop()!;
  return { path: `/issuers/${t.tenantId}/credentials/${id}`, vc: res.issueCredential.verifiableCredential as { id: string } };
}

/** Dark pixels (each channel below 110) of `png` inside `box` given in SVG units, the SVG drawn at `scale` px per unit from (dx, dy). */
function darkIn(png: PNG, box: typeof NAME_BOX, scale: number, dx = 0, dy = 0): number {
  let dark = 0;
  for (let y = Math.floor(dy + box.y * scale); y < Math.ceil(dy + (box.y + box.height) * scale); y++) {
    for (let x = Math.floor(dx + box.x * scale); x < Math.ceil(dx + (box.x + box.width) * scale); x++) {
      const i = (y * png.width + x) * 4;
      if (png.data[i]! < 110 && png.data[i + 1]! < 110 && png.data[i + 2]! < 110) dark++;
    }
  }
  return dark;
}

beforeAll(async () => {
  app = await startTestApp();
  a = await tenantWithTemplate(app, "Alpha Institute");
  b = await tenantWithTemplate(app, "Beta Academy");
  goodA = await upload(a.owner, Buffer.from(GOOD_SVG));
  goodB = await upload(b.owner, Buffer.from(GOOD_SVG));
});
afterAll(async () => app?.close());

describe("a custom certificate design", () => {
  it("saves an SVG using every merge field, and reads back as custom", async () => {
    expect(await set(a, { layout: "custom", customSvgImageId: goodA })).toMatchObject({ __typename: "CertificateDesign", layout: "custom", customSvgImageId: goodA });
    const read = (await a.owner.request(CertificateDesignDocument, { templateId: a.templateNodeId })).certificateDesign;
    expect(read).toMatchObject({ __typename: "CertificateDesign", layout: "custom", customSvgImageId: goodA, isDefault: false });
  });

  it("previews with sample data as a PDF and a PNG whose name box is drawn, in Latin, Arabic and Chinese", async () => {
    for (const recipientName of ["Alex Sample", "محمد بن عبد الله", "王小明"]) {
      const preview = (await a.owner.request(CertificatePreviewDocument, { templateId: a.templateNodeId, recipientName })).certificatePreview;
      if (preview.__typename !== "CertificatePreview") throw new Error(JSON.stringify(preview));
      expect(preview.dataUrl).toMatch(/^data:application\/pdf;base64,/);
      const png = PNG.sync.read(Buffer.from(preview.png.replace(/^data:image\/png;base64,/, ""), "base64"));
      expect(png.width).toBe(PREVIEW_PNG_WIDTH);
      expect(png.height).toBe(Math.round((PREVIEW_PNG_WIDTH * 794) / 1123));
      const scale = png.width / 1123;
      expect(darkIn(png, NAME_BOX, scale), recipientName).toBeGreaterThan(800);
      // Right of the box is paper: the name was fitted into its data-width.
      expect(darkIn(png, { x: 980, y: 250, width: 100, height: 100 }, scale)).toBe(0);
    }
  });

  it("is what the public certificate routes serve (PDF and PNG): the name drawn in its box, the QR of the credential, the credential attached", async () => {
    for (const name of ["Rae Recipient", "ليلى حسن", "李华"]) {
      const issued = await issueTo(a, name);
      const response = await hit(app, `${issued.path}/certificate.pdf`);
      expect(response.status).toBe(200);
      const pdf = Buffer.from(await response.arrayBuffer());
      expect(pdf.subarray(0, 5).toString()).toBe("%PDF-");
      const page = await renderPage(pdf, 72); // one pixel per point: A4 landscape, the SVG scaled to fit
      expect(page.width).toBe(842);
      expect(page.height).toBeGreaterThanOrEqual(595);
      expect(page.height).toBeLessThanOrEqual(596);
      if (process.env.LAUREL_KEEP_RENDERS) (await import("node:fs")).writeFileSync(`${process.env.LAUREL_KEEP_RENDERS}/route-${[...name][0]!.codePointAt(0)}.png`, PNG.sync.write(page));
      const scale = Math.min(841.89 / 1123, 595.28 / 794);
      expect(darkIn(page, NAME_BOX, scale, (841.89 - 1123 * scale) / 2, (595.28 - 794 * scale) / 2), name).toBeGreaterThan(600);
      expect(await decodeQr(pdf)).toBe(issued.vc.id);
      expect(((await credentialFromPdf(pdf, 1024 * 1024)) as { id: string }).id).toBe(issued.vc.id);
      // The PNG route draws the same custom design: the name in its box, paper beside it.
      const pngResponse = await hit(app, `${issued.path}/certificate.png`);
      expect(pngResponse.status).toBe(200);
      const png = PNG.sync.read(Buffer.from(await pngResponse.arrayBuffer()));
      expect(png.height).toBe(Math.round((png.width * 794) / 1123));
      expect(darkIn(png, NAME_BOX, png.width / 1123), name).toBeGreaterThan(800);
      expect(darkIn(png, { x: 980, y: 250, width: 100, height: 100 }, png.width / 1123)).toBe(0);
    }
  });

  it("refuses each unsafe construct and unknown merge field with a typed error naming the problem", async () => {
    const body = GOOD_SVG.slice(GOOD_SVG.indexOf(">") + 1);
    const head = '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" viewBox="0 0 1123 794">';
    const cases: [string, string, string][] = [
      ["SCRIPT", "a script", head + "<script>alert(1)</script>" + body],
      ["FOREIGN_OBJECT", "a foreignObject", head + '<foreignObject width="10" height="10"><div xmlns="http://www.w3.org/1999/xhtml">x</div></foreignObject>' + body],
      ["EVENT_ATTRIBUTE", "an onload", head.replace("<svg ", '<svg onload="alert(1)" ') + body],
      ["EVENT_ATTRIBUTE", "an onclick", head + '<rect onClick="x()" width="1" height="1"/>' + body],
      ["EXTERNAL_REFERENCE", "an external image", head + '<image href="https://evil.test/x.png" width="10" height="10"/>' + body],
      ["EXTERNAL_REFERENCE", "a file use", head + '<use xlink:href="file:///etc/passwd#x"/>' + body],
      ["EXTERNAL_REFERENCE", "an embedded SVG", head + '<image href="data:image/svg+xml;base64,PHN2Zy8+" width="1" height="1"/>' + body],
      ["EXTERNAL_REFERENCE", "a url() in a style", head + '<rect style="fill:url(https://evil.test/p)" width="1" height="1"/>' + body],
      ["STYLE_IMPORT", "an @import", head + "<style>@import 'https://evil.test/a.css';</style>" + body],
      ["DOCTYPE", "a DOCTYPE", "<!DOCTYPE svg>" + GOOD_SVG],
      ["VIEWBOX", "no viewBox", GOOD_SVG.replace(' viewBox="0 0 1123 794"', ' width="1123" height="794"')],
      ["VIEWBOX", "an absurd viewBox", GOOD_SVG.replace('viewBox="0 0 1123 794"', 'viewBox="0 0 90000 794"')],
      ["TOO_MANY_ELEMENTS", "5,001 elements", head + "<g/>".repeat(5001) + body],
      ["UNKNOWN_MERGE_FIELD", "an unknown field", head + '<text x="10" y="10">{{recipient.email}}</text>' + body],
      ["MERGE_FIELD_NOT_WHOLE_TEXT", "a field inside a sentence", head + '<text x="10" y="10">Dear {{recipient.name}}</text>' + body],
      ["MERGE_FIELD_NOT_WHOLE_TEXT", "a field in an attribute", head + '<rect id="{{issuer.name}}" width="1" height="1"/>' + body],
      ["MERGE_FIELD_NOT_WHOLE_TEXT", "a field outside text", head + "<desc>{{issuer.name}}</desc>" + body],
      ["EXTERNAL_REFERENCE", "an embedded image that is no PNG", head + '<image href="data:image/png;base64,aGVsbG8=" width="1" height="1"/>' + body],
      ["UNPRINTABLE_TEXT", "a private-use character", head + '<text x="10" y="10">Seal \uE000</text>' + body],
      ["QR_NOT_RECT", "a QR on a circle", head + '<circle data-laurel="qr" r="5"/>' + body],
    ];
    for (const [code, what, svg] of cases) {
      const id = await upload(a.owner, Buffer.from(svg));
      const res = await set(a, { layout: "custom", customSvgImageId: id });
      expect(res.__typename, what).toBe("InvalidCustomSvgError");
      if (res.__typename !== "InvalidCustomSvgError") continue;
      expect(res.problems.map((p) => p.code), what).toContain(code);
      expect(res.mergeFields).toContain("{{recipient.name}}");
    }
    const png = await upload(a.owner, samplePng(40, 40), "x.png", "image/png");
    expect(await set(a, { layout: "custom", customSvgImageId: png })).toMatchObject({ __typename: "InvalidCustomSvgError", problems: [{ code: "NOT_SVG" }] });
    // Several problems at once are each named.
    const many = await upload(a.owner, Buffer.from(head + "<script/><text>{{nope}}</text>" + body));
    const res = await set(a, { layout: "custom", customSvgImageId: many });
    expect(res.__typename === "InvalidCustomSvgError" && res.problems.map((p) => p.code).sort()).toEqual(["SCRIPT", "UNKNOWN_MERGE_FIELD"]);
    // A preview of an unsaved design is checked the same way.
    const preview = (await a.owner.request(CertificatePreviewDocument, { templateId: a.templateNodeId, design: { layout: "custom", customSvgImageId: many } })).certificatePreview;
    expect(preview).toMatchObject({ __typename: "InvalidCustomSvgError" });
    // The stored design is still the good one.
    const read = (await a.owner.request(CertificateDesignDocument, { templateId: a.templateNodeId })).certificateDesign;
    expect(read).toMatchObject({ layout: "custom", customSvgImageId: goodA });
  });

  it("needs its SVG, and takes none for a built-in layout", async () => {
    expect(await set(a, { layout: "custom" })).toMatchObject({ __typename: "ValidationError", fieldErrors: [{ path: ["customSvgImageId"] }] });
    expect(await set(a, { layout: "classic", customSvgImageId: goodA })).toMatchObject({ __typename: "ValidationError", fieldErrors: [{ path: ["customSvgImageId"] }] });
  });

  it("refuses another tenant's SVG, in the API and in the database", async () => {
    expect(await set(a, { layout: "custom", customSvgImageId: goodB })).toMatchObject({ __typename: "DesignImageNotFoundError", field: "customSvgImageId", imageId: goodB });
    const preview = (await a.owner.request(CertificatePreviewDocument, { templateId: a.templateNodeId, design: { layout: "custom", customSvgImageId: goodB } })).certificatePreview;
    expect(preview).toMatchObject({ __typename: "DesignImageNotFoundError", field: "customSvgImageId" });
    await expect(app.db.admin`update certificate_designs set custom_svg_image_id = ${goodB} where tenant_id = ${a.tenantId}`).rejects.toThrow(/foreign key/);
    await expect(app.db.admin`update certificate_designs set custom_svg_image_id = null where tenant_id = ${a.tenantId}`).rejects.toThrow(/custom_svg_check/);
  });

  it("cannot be set by a viewer", async () => {
    const viewer = await viewerOf(app, a);
    const error = await set(a, { layout: "custom", customSvgImageId: goodA }, viewer).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LaurelRequestError);
    expect((error as LaurelRequestError).code).toBe("FORBIDDEN");
  });
});

describe("drawing a custom design", () => {
  it("marks a revoked credential's certificate REVOKED across the page", () => {
    const active = PNG.sync.read(customCertificatePng(GOOD_SVG, sampleCredential("Jean Dupont"), "https://laurel.test/verify", {}, 800));
    const revoked = PNG.sync.read(customCertificatePng(GOOD_SVG, sampleCredential("Jean Dupont", "REVOKED"), "https://laurel.test/verify", {}, 800));
    // Only the mark differs, and it is red: more red than blue wherever the two pictures differ.
    let changed = 0;
    let redder = 0;
    for (let i = 0; i < active.data.length; i += 4) {
      if (active.data[i] === revoked.data[i] && active.data[i + 1] === revoked.data[i + 1] && active.data[i + 2] === revoked.data[i + 2]) continue;
      changed++;
      if (revoked.data[i]! - revoked.data[i + 2]! > active.data[i]! - active.data[i + 2]!) redder++;
    }
    expect(changed).toBeGreaterThan(5000);
    expect(redder / changed).toBeGreaterThan(0.9);
  });

  it("prints a stored SVG that no longer passes the checks in the fallback layout, never unchecked", async () => {
    const credential = sampleCredential("Jean Dupont");
    const custom = await certificatePdf(credential, "https://laurel.test/verify", { design: { ...defaultRenderDesign(), customSvg: GOOD_SVG } });
    expect(await pdfText(custom)).not.toContain("Advanced Welding"); // outlines, not text
    const broken = GOOD_SVG.replace("</svg>", "<script>alert(1)</script></svg>");
    const fallback = await certificatePdf(credential, "https://laurel.test/verify", { design: { ...defaultRenderDesign(), customSvg: broken } });
    expect(await pdfText(fallback)).toContain("Advanced Welding");
  });
});
