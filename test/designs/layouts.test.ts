// Every built-in certificate layout prints a name in any script exactly as written (what pdftotext
// copies out), in embedded subset fonts, with a QR code that a decoder reads back as the credential's
// page, drawn as vector squares rather than an image. Set LAUREL_LOOK_DIR to keep each page as a PNG.
import { shortCredentialUrl } from "../../src/modules/credentials/short-url.js";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { PNG } from "pngjs";
import { describe, expect, it } from "vitest";
import { certificatePdf, UnprintableTextError } from "../../src/modules/credentials/certificate-pdf.js";
import { LAYOUTS, type Layout } from "../../src/modules/designs/design.js";
import { pdfFonts, pdfText, pdfWords } from "../credentials/pdf-tools.js";
import { decodeQr, renderPage } from "./qr.js";
import { SAMPLE_CREDENTIAL, SAMPLE_TENANT, SAMPLE_URL, sampleCredential, sampleDesign, samplePng } from "./samples.js";

const LONG_NAME = "Maximiliana Alexandra Konstantinopoulou Wojciechowska von Hohenzollern Sigmaringen ".repeat(3).slice(0, 200).trim();
const NAMES: Record<string, string> = {
  Latin: "Zoë Ångström-Müller",
  Cyrillic: "Александр Пушкин",
  Greek: "Γιώργος Παπαδόπουλος",
  Chinese: "王小明",
  Arabic: "محمد عبد الله",
  Hebrew: "דוד כהן",
  Devanagari: "किरण शर्मा",
  "200 characters": LONG_NAME,
};

async function keep(name: string, pdf: Buffer) {
  const dir = process.env.LAUREL_LOOK_DIR;
  if (!dir) return;
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, `${name.replace(/[^\w.-]+/g, "_")}.png`), PNG.sync.write(await renderPage(pdf, 60)));
}

const render = (layout: Layout, name: string | null, extra = {}) =>
  certificatePdf(sampleCredential(name), "https://laurel.test/verify", { timeZone: "Europe/Berlin", design: sampleDesign(layout, extra) });

describe.each(LAYOUTS)("the %s layout", (layout) => {
  it.each(Object.entries(NAMES))("prints a name in %s exactly as written, in embedded subset fonts", async (script, name) => {
    const pdf = await render(layout, name);
    await keep(`${layout}-${script}`, pdf);
    const text = await pdfText(pdf);
    expect(text).toContain(name.replace(/\s+/g, " "));
    expect(text).toContain("Advanced Welding");
    expect(text).toContain("Dr. Maria Keller");
    expect(text).toContain("Head of Welding Technology");
    expect(text).toContain("Issued 1 January 2026 · Expires 1 January 2029"); // Berlin: 31 Dec 23:00 UTC is 1 January
    expect(text).toContain("0e9a4c3b-7d2f-4b8a-a1c6-55e2f1b9d3a7");
    const fonts = await pdfFonts(pdf);
    expect(fonts.length).toBeGreaterThan(0);
    for (const font of fonts) expect(font, font.name).toMatchObject({ embedded: true, subset: true, unicode: true });
  });

  it("has a QR code that decodes to the credential's page, drawn as vector squares", async () => {
    const pdf = await render(layout, "Ada Lovelace");
    expect(await decodeQr(pdf)).toBe(SAMPLE_URL);
    // The design has SVG images only (vector too): a bitmap in the file would be the QR code.
    expect(pdf.toString("latin1")).not.toMatch(/\/Subtype \/Image/);
    // The short link (/v/<tenant and credential ids, base64url>), which redirects to SAMPLE_URL's page.
    expect(await pdfText(pdf)).toContain(`Verify at ${shortCredentialUrl("https://laurel.test", SAMPLE_TENANT, SAMPLE_CREDENTIAL).replace("https://", "")}`);
  });

  it("keeps every word inside the page, the name the largest, with a PNG logo and background", async () => {
    const pdf = await render(layout, LONG_NAME, { logo: { contentType: "image/png", bytes: samplePng(120, 40, [31, 78, 121], [176, 141, 87]) }, background: { contentType: "image/png", bytes: samplePng() } });
    await keep(`${layout}-png-images`, pdf);
    expect(pdf.toString("latin1")).toMatch(/\/Subtype \/Image/);
    const { width, height, words } = await pdfWords(pdf);
    expect(width > height).toBe(layout !== "minimal"); // minimal is portrait
    for (const w of words) {
      expect(w.xMin, w.text).toBeGreaterThanOrEqual(20);
      expect(w.xMax, w.text).toBeLessThanOrEqual(width - 20);
      expect(w.yMax, w.text).toBeLessThanOrEqual(height - 20);
    }
    const short = await pdfWords(await render(layout, "Ada Lovelace"));
    const size = (w: { yMin: number; yMax: number }) => w.yMax - w.yMin;
    const ada = short.words.find((w) => w.text === "Ada")!;
    for (const w of short.words.filter((w) => !["Ada", "Lovelace"].includes(w.text))) expect(size(w), w.text).toBeLessThan(size(ada));
  });

  it("refuses a signatory name no embedded font can print, naming the field", async () => {
    const design = sampleDesign(layout);
    design.signatures[0]!.name = "Ada \u{E000}";
    const error = await certificatePdf(sampleCredential("Ada"), "https://laurel.test/verify", { design }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnprintableTextError);
    expect((error as UnprintableTextError).fields.map((f) => f.field)).toEqual(["signatures.0.name"]);
  });
});

describe("a corrupt or hostile image", () => {
  it("is left out, and an SVG naming a file on the server draws nothing from it", async () => {
    const hostile = `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" viewBox="0 0 10 10"><image xlink:href="${join(process.cwd(), "docs/designs/certificate-classic.png")}" width="10" height="10"/></svg>`;
    const pdf = await render("classic", "Ada Lovelace", {
      logo: { contentType: "image/svg+xml", bytes: Buffer.from(hostile) },
      background: { contentType: "image/png", bytes: Buffer.from("\x89PNG\r\n\x1a\nnot really") },
    });
    expect(pdf.toString("latin1")).not.toMatch(/\/Subtype \/Image/);
    expect(await pdfText(pdf)).toContain("Ada Lovelace");
  });
});
