// SVGs that expand without bound through <use> (QA, issue 12: a 1.6 KB file of six nested groups, each
// using the one before ten times, took the whole server down when drawn as a certificate logo).
// Refused at upload with a typed error; one already stored is left out of the drawing, quickly, and
// the server keeps answering.
import { deflateSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SetCertificateDesignDocument, UploadImageDocument } from "../../src/sdk/generated.js";
import { expandedElementCount, SVG_ELEMENT_BUDGET } from "../../src/lib/svg-budget.js";
import { parseSvg, pngChunk } from "../../src/modules/credentials/baking.js";
import { checkCustomSvg, InvalidCustomSvgError } from "../../src/modules/designs/custom.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { hit, tenantWithTemplate, type EngagementTenant } from "../engagement/setup.js";

/** Levels of groups, each using the previous one `fan` times: fan^levels shapes from a few hundred bytes. */
function useBomb(levels: number, fan = 10): string {
  let body = `<rect id="a0" width="1" height="1"/>`;
  for (let level = 1; level <= levels; level++) {
    body += `<g id="a${level}">${Array.from({ length: fan }, () => `<use href="#a${level - 1}"/>`).join("")}</g>`;
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><defs>${body}</defs><use href="#a${levels}"/></svg>`;
}

/** A 1-bit greyscale PNG of the given size, all black: a few KB per million pixels once deflated. */
function hugePng(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([1, 0, 0, 0, 0], 8); // bit depth 1, greyscale
  const row = Math.ceil(width / 8) + 1;
  const raw = Buffer.alloc(row * height); // filter 0, all zero bits
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), pngChunk("IHDR", ihdr), pngChunk("IDAT", deflateSync(raw)), pngChunk("IEND", Buffer.alloc(0))]);
}

let app: TestApp;
let t: EngagementTenant;
beforeAll(async () => {
  app = await startTestApp();
  t = await tenantWithTemplate(app, "Budget College");
});
afterAll(async () => app?.close());

describe("an SVG's size once its <use> references are expanded", () => {
  it("is counted without expanding it, cycles included", () => {
    expect(expandedElementCount(parseSvg(useBomb(2)).documentElement!)).toBeGreaterThan(100);
    // three levels of ten: the root, the defs (1 + a0 1 + a1 21 + a2 221 + a3 2,221) and one use of a3 (1 + 2,221)
    expect(expandedElementCount(parseSvg(useBomb(3)).documentElement!)).toBe(4_688);
    expect(() => parseSvg(useBomb(6))).toThrow(/more than 20,000 elements/);
    const cycle = `<svg xmlns="http://www.w3.org/2000/svg"><g id="x"><use href="#y"/></g><g id="y"><use href="#x"/></g></svg>`;
    expect(() => parseSvg(cycle)).toThrow(/cycle/);
    expect(SVG_ELEMENT_BUDGET).toBe(20_000);
  });

  it("is refused at upload with a ValidationError on the file", async () => {
    const file = new File([useBomb(6)], "bomb.svg", { type: "image/svg+xml" });
    const res = (await t.owner.upload(UploadImageDocument, { file: null }, { file })).uploadImage as { __typename: string; message?: string };
    expect(res).toMatchObject({ __typename: "ValidationError" });
    expect(res.message).toMatch(/use/);
  });

  it("a PNG larger than 4096×4096 pixels is refused at upload (decoded it would take gigabytes, whatever its file size)", async () => {
    const file = new File([new Uint8Array(hugePng(20_000, 20_000))], "huge.png", { type: "image/png" });
    const res = (await t.owner.upload(UploadImageDocument, { file: null }, { file })).uploadImage as { __typename: string; message?: string };
    expect(res).toMatchObject({ __typename: "ValidationError" });
    expect(res.message).toMatch(/4096×4096/);
    const fine = new File([new Uint8Array(hugePng(400, 200))], "fine.png", { type: "image/png" });
    expect(((await t.owner.upload(UploadImageDocument, { file: null }, { file: fine })).uploadImage as { __typename: string }).__typename).toBe("Image");
  });

  it("stored before uploads were measured, is left out of the certificate, which is drawn at once", async () => {
    const [image] = await app.db.admin`
      insert into images (tenant_id, content_type, bytes, sha256)
      values (${t.tenantId}, 'image/svg+xml', ${Buffer.from(useBomb(6))}, repeat('0', 64)) returning id`;
    // Saving it now is refused (above); a design saved before the check is made in SQL.
    const saved = await t.owner.request(SetCertificateDesignDocument, { templateId: t.templateNodeId, design: { layout: "classic" } });
    expect(saved.setCertificateDesign.__typename).toBe("CertificateDesign");
    await app.db.admin`update certificate_designs set logo_image_id = ${image!.id} where tenant_id = ${t.tenantId}`;
    const issued = await t.issue();
    const started = performance.now();
    for (const format of ["pdf", "png"]) {
      const res = await hit(app, `${issued.pagePath}/certificate.${format}`);
      expect(res.status, format).toBe(200);
    }
    // Generous: a certificate takes well under a second; the bomb took tens of seconds, then the process.
    expect(performance.now() - started).toBeLessThan(10_000);
    expect((await hit(app, "/healthz")).status).toBe(200);
  });

  it("counts a reference however it is spelt: spaces around it, or href beside xlink:href (QA re-check)", () => {
    expect(() => parseSvg(useBomb(6).replaceAll('href="#', 'href=" #'))).toThrow(/more than 20,000 elements/);
    const both = useBomb(6).replaceAll('<use href="#', '<use xmlns:xlink="http://www.w3.org/1999/xlink" xlink:href="#a0" href="#');
    expect(() => parseSvg(both)).toThrow(/more than 20,000 elements/);
  });
});

// Effects neither renderer bounds (QA re-check: 300 bytes of feTurbulence held the event loop for over a
// minute; nested masks, patterns and clip paths, markers on 100k vertices likewise).
const EFFECTS: [string, string][] = [
  ["turbulence", `<filter id="f"><feTurbulence baseFrequency="0.05" numOctaves="100000000"/></filter><rect width="10" height="10" filter="url(#f)"/>`],
  ["mask", `<mask id="m"><rect width="10" height="10" fill="white"/></mask><rect width="10" height="10" mask="url(#m)"/>`],
  ["pattern", `<pattern id="p" width="1" height="1"><rect width="1" height="1"/></pattern><rect width="10" height="10" fill="url(#p)"/>`],
  ["marker in a style", `<path d="M0 0L10 10" style="marker-mid: url(#x)"/>`],
  ["style sheet", `<style>rect { filter: blur(5px) }</style><rect width="10" height="10"/>`],
];
const effectSvg = (body: string) => `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10">${body}</svg>`;

describe("an SVG with effects we do not draw", () => {
  it("is refused as a certificate logo with a ValidationError naming the field", async () => {
    for (const [what, body] of EFFECTS) {
      const file = new File([effectSvg(body)], `${what}.svg`, { type: "image/svg+xml" });
      const uploaded = (await t.owner.upload(UploadImageDocument, { file: null }, { file })).uploadImage as { __typename: string; id: string };
      expect(uploaded.__typename, what).toBe("Image"); // a badge image may carry effects: it is served as a file
      const saved = (await t.owner.request(SetCertificateDesignDocument, { templateId: t.templateNodeId, design: { layout: "classic", logoImageId: uploaded.id } })).setCertificateDesign as {
        __typename: string;
        fieldErrors?: { path: string[] }[];
      };
      expect(saved.__typename, what).toBe("ValidationError");
      expect(saved.fieldErrors![0]!.path, what).toEqual(["design", "logoImageId"]);
    }
  });

  it("is refused as a custom design, with the problem's code", () => {
    for (const [what, body] of EFFECTS) {
      expect(() => checkCustomSvg(effectSvg(body)), what).toThrow(InvalidCustomSvgError);
      try {
        checkCustomSvg(effectSvg(body));
      } catch (error) {
        expect((error as InvalidCustomSvgError).problems.map((p) => p.code), what).toEqual(["UNDRAWABLE"]);
      }
    }
  });

  it("stored as a logo before, is left out: the certificate PNG and PDF come at once", async () => {
    const [image] = await app.db.admin`
      insert into images (tenant_id, content_type, bytes, sha256)
      values (${t.tenantId}, 'image/svg+xml', ${Buffer.from(effectSvg(EFFECTS[0]![1]))}, repeat('1', 64)) returning id`;
    await app.db.admin`update certificate_designs set logo_image_id = ${image!.id} where tenant_id = ${t.tenantId}`;
    const issued = await t.issue();
    const started = performance.now();
    for (const format of ["png", "pdf"]) expect((await hit(app, `${issued.pagePath}/certificate.${format}`)).status, format).toBe(200);
    expect(performance.now() - started).toBeLessThan(10_000);
  });
});
