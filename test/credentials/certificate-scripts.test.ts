// Names in the scripts the first certificate fonts missed (Thai, the Indic scripts of the south and
// east, Sinhala, Georgian, Armenian, Ethiopic, Khmer, Lao, Myanmar, Traditional Chinese, stacked
// diacritics) print as written: the text a reader copies out of the PDF is the name (NFC), a face made
// for the script is embedded, and no glyph is the empty box (.notdef). A name no embedded face can draw
// is refused with UNPRINTABLE_TEXT rather than printed as boxes, and the page still shows it as text,
// isolated for bidi. Set LAUREL_LOOK_DIR to keep each certificate and page as a PNG to look at.
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IssueCredentialDocument } from "../../src/sdk/generated.js";
import { certificatePdf, UnprintableTextError } from "../../src/modules/credentials/certificate-pdf.js";
import type { PublicCredential } from "../../src/modules/credentials/public.js";
import { layoutText } from "../../src/lib/text-layout/layout.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { uniqueEmail } from "../helpers/factories.js";
import { hit, settle, tenantWithTemplate, type EngagementTenant } from "../engagement/setup.js";
import { pdfFonts, pdfText } from "./pdf-tools.js";

const run = promisify(execFile);
const LOOK = process.env.LAUREL_LOOK_DIR;

/** [script, a real-looking name, the embedded face (PostScript name) it must be set in]. */
const NAMES: [string, string, string][] = [
  ["Thai", "สมชาย ใจดี", "NotoSansThai-Bold"],
  ["Bengali", "রবীন্দ্রনাথ ঠাকুর", "NotoSansBengali-Bold"],
  ["Tamil", "சுப்பிரமணியன் பாரதி", "NotoSansTamil-Bold"],
  ["Telugu", "వెంకట లక్ష్మి", "NotoSansTelugu-Bold"],
  ["Gujarati", "કિરણ પટેલ", "NotoSansGujarati-Bold"],
  ["Gurmukhi", "ਹਰਪ੍ਰੀਤ ਸਿੰਘ", "NotoSansGurmukhi-Bold"],
  ["Kannada", "ಕೃಷ್ಣ ಮೂರ್ತಿ", "NotoSansKannada-Bold"],
  ["Malayalam", "ശ്രീകുമാർ നായർ", "NotoSansMalayalam-Bold"],
  ["Sinhala", "කුමාර් සංගක්කාර", "NotoSansSinhala-Bold"],
  ["Georgian", "გიორგი ბერიძე", "NotoSansGeorgian-Bold"],
  ["Armenian", "Արամ Խաչատրյան", "NotoSansArmenian-Bold"],
  ["Ethiopic", "አበበ ቢቂላ", "NotoSansEthiopic-Bold"],
  ["Khmer", "ចាន់ សុភ័ក្ត្រ", "NotoSansKhmer-Bold"],
  ["Lao", "ສົມພອນ ແກ້ວມະນີ", "NotoSansLao-Bold"],
  ["Myanmar", "အောင်ဆန်းစုကြည်", "NotoSansMyanmar-Bold"],
  ["Traditional Chinese", "鄭麗華", "NotoSansTC-Bold"],
  ["Vietnamese (stacked diacritics)", "Nguyễn Thị Ngọc Ánh", "NotoSans-Bold"],
  ["Yoruba (combining marks with no precomposed form)", "Ọ̀ṣẹ́ Adébáyọ̀", "NotoSans-Bold"],
  ["Navajo (ogonek and acute on one letter)", "Dą́ą́ʼ Yázhí", "NotoSans-Bold"],
];

const credential = (name: string | null): PublicCredential => {
  const document = {
    id: "https://laurel.test/issuers/t/credentials/c",
    name: "Advanced Welding",
    description: "For completing the advanced welding programme.",
    issuer: { name: "Paper College" },
    validFrom: "2026-01-01T09:30:00Z",
    credentialSubject: {
      identifier: name === null ? [] : [{ type: "IdentityObject", identityType: "name", hashed: false, identityHash: name }],
      achievement: { name: "Advanced Welding" },
    },
  };
  return { document, status: "ACTIVE", validFrom: new Date(document.validFrom), validUntil: null, revokedAt: null, suspendedAt: null, revocationReason: null, timeZone: "UTC" };
};

/** The PDF's first page as a PNG at 60 dpi (poppler's pdftoppm), as a person would see it. */
async function png(pdf: Buffer): Promise<Buffer> {
  const dir = await mkdtemp(join(tmpdir(), "laurel-png-"));
  try {
    await writeFile(join(dir, "c.pdf"), pdf);
    await run("pdftoppm", ["-png", "-r", "60", "-singlefile", join(dir, "c.pdf"), join(dir, "c")]);
    return await readFile(join(dir, "c.png"));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function keep(file: string, bytes: Buffer) {
  if (!LOOK) return;
  await mkdir(LOOK, { recursive: true });
  await writeFile(join(LOOK, file.replace(/[^\w.-]+/g, "_")), bytes);
}

describe("a certificate names its recipient in", () => {
  for (const [script, name, faceName] of NAMES) {
    it(`${script}: ${name}`, async () => {
      const block = layoutText(name, { maxWidth: 698, size: 40, minSize: 14, maxLines: 3, weight: "bold" });
      expect(block.unprintable).toEqual([]);
      const glyphs = block.lines.flatMap((l) => l.runs.flatMap((r) => r.glyphs));
      expect(glyphs.filter((g) => g.id === 0)).toEqual([]); // no .notdef: nothing drawn as a box

      const pdf = await certificatePdf(credential(name), "https://laurel.test/verify");
      const text = (await pdfText(pdf)).normalize("NFC");
      expect(text).toContain(name.normalize("NFC"));
      expect(text).toContain("Awarded to");
      expect(text).toContain("For completing the advanced welding programme."); // the text after the name is intact
      const fonts = await pdfFonts(pdf);
      expect(fonts.map((f) => f.name.split("+")[1])).toContain(faceName);
      for (const font of fonts) expect(font, font.name).toMatchObject({ embedded: true, subset: true, unicode: true });

      const image = await png(pdf);
      expect(image.subarray(1, 4).toString()).toBe("PNG");
      await keep(`certificate-${script}.png`, image);
    });
  }

  it("any script, when the name arrives decomposed (NFD): it reads back as the same name", async () => {
    const name = "Nguyễn Thị Ngọc Ánh".normalize("NFD");
    const text = await pdfText(await certificatePdf(credential(name), "https://laurel.test/verify"));
    expect(text.normalize("NFC")).toContain("Nguyễn Thị Ngọc Ánh");
  });
});

describe("faces for scripts that need them", () => {
  const family = (text: string, locale?: string) => [...new Set(layoutText(text, { maxWidth: 600, size: 20, locale }).lines.flatMap((l) => l.runs.map((r) => r.face.family)))];

  it("sets ideographs written in traditional forms in the Traditional Chinese face, others in the Simplified", () => {
    expect(family("鄭麗華")).toEqual(["chinese-traditional"]); // 鄭 and 麗: Big5, not GB 2312
    expect(family("陳志堃")).toEqual(["chinese-traditional"]);
    expect(family("陈丽华")).toEqual(["chinese"]); // simplified forms
    expect(family("王小明")).toEqual(["chinese"]); // shared by both: Simplified unless told
    expect(family("王小明", "zh-TW")).toEqual(["chinese-traditional"]);
    expect(family("王小明", "zh-Hant-HK")).toEqual(["chinese-traditional"]);
    expect(family("鄭麗華", "zh-CN")).toEqual(["chinese"]);
  });

  it("shapes Myanmar: the vowel sign e and medial ra are drawn before their consonant", () => {
    const [run] = layoutText("ကြေ", { maxWidth: 600, size: 20 }).lines[0]!.runs;
    expect(run!.glyphs.map((g) => String.fromCodePoint(...g.codePoints))).toEqual(["ေ", "ြ", "က"]);
  });

  it("draws a mark in the face that has it, with its base, even when the base's preferred face lacks it", () => {
    const block = layoutText("Ana \u0ec1\u0e81\u0ec9\u0ea7", { maxWidth: 600, size: 20 }); // Latin, then Lao with a tone mark
    expect(block.unprintable).toEqual([]);
    expect(block.lines[0]!.runs.map((r) => r.face.family)).toEqual(["sans", "lao"]);
  });
});

describe("a name no embedded face can draw", () => {
  it("is listed by the layout, character by character, never drawn silently", () => {
    expect(layoutText("ᏣᎳᎩ Sequoyah", { maxWidth: 600, size: 20 }).unprintable).toEqual(["Ꮳ", "Ꮃ", "Ꭹ"]); // Cherokee: no face shipped
    expect(layoutText("Zoë \u0378", { maxWidth: 600, size: 20 }).unprintable).toEqual(["\u0378"]); // unassigned
    expect(layoutText("Ana 👩‍👩‍👧 Lima\u200d", { maxWidth: 600, size: 20 }).unprintable).toEqual([]); // ZWJ draws nothing
  });

  it("makes certificatePdf refuse with the field and the code points, rather than print boxes", async () => {
    const error = await certificatePdf(credential("ᏣᎳᎩ Sequoyah"), "https://laurel.test/verify").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnprintableTextError);
    expect(error).toMatchObject({
      code: "UNPRINTABLE_TEXT",
      fields: [{ field: "recipientName", characters: [{ character: "Ꮳ", codePoint: "U+13E3" }, { character: "Ꮃ", codePoint: "U+13B3" }, { character: "Ꭹ", codePoint: "U+13A9" }] }],
    });
    expect((error as Error).message).toContain("U+13E3, U+13B3, U+13A9 (in recipientName)");
  });
});

describe("over HTTP and in the browser", () => {
  let app: TestApp;
  let t: EngagementTenant;
  let browser: Browser;

  beforeAll(async () => {
    app = await startTestApp();
    t = await tenantWithTemplate(app, "Scripts College"); // credentialDescription: "Awarded to {{recipientName}}."
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  async function issue(name: string) {
    const res = await t.owner.request(IssueCredentialDocument, { input: { templateId: t.templateNodeId, recipient: { email: uniqueEmail("script"), name } } });
    if (res.issueCredential.__typename !== "Credential") throw new Error(`issue: ${JSON.stringify(res.issueCredential)}`);
    return res.issueCredential.publicUrl;
  }

  it("answers 422 UNPRINTABLE_TEXT naming the characters for the certificate, and counts no download", async () => {
    const url = await issue("ᏣᎳᎩ Sequoyah");
    const response = await hit(app, `${url}/certificate.pdf`);
    expect(response.status).toBe(422);
    expect(response.headers.get("content-type")).toContain("application/json");
    // The one error shape of the public routes: { error: { code, message, ...details } }.
    const { error } = (await response.json()) as { error: { code: string; message: string; fields: unknown } };
    expect(error.code).toBe("UNPRINTABLE_TEXT");
    const cherokee = [{ character: "Ꮳ", codePoint: "U+13E3" }, { character: "Ꮃ", codePoint: "U+13B3" }, { character: "Ꭹ", codePoint: "U+13A9" }];
    // The template's credential description merges the name in, so it is refused there too.
    expect(error.fields).toEqual([{ field: "recipientName", characters: cherokee }, { field: "description", characters: cherokee }]);
    expect(error.message).toContain("U+13E3, U+13B3, U+13A9 (in recipientName)");
    const credentialId = url.split("/").pop()!;
    await settle();
    const [row] = await app.db.admin<{ n: number }[]>`select count(*)::int as n from engagement_events where credential_id = ${credentialId} and type = 'downloaded'`;
    expect(row!.n).toBe(0);

    // The page still shows the name as text: the browser has fonts of its own.
    const tab = await browser.newPage();
    await tab.goto(url.replace(app.config.publicUrl, app.server.url));
    expect(await tab.getByTestId("holder").textContent()).toBe("ᏣᎳᎩ Sequoyah");
    await tab.close();
  });

  for (const [script, name] of [["Arabic", "محمد عبد الله (2)"], ["Thai", "สมชาย ใจดี"], ["Hebrew", "דוד כהן"]] as const) {
    it(`isolates a ${script} holder's name on the page, so the sentence around it keeps its order`, async () => {
      const url = await issue(name);
      const tab = await browser.newPage({ viewport: { width: 900, height: 700 } });
      await tab.goto(url.replace(app.config.publicUrl, app.server.url));
      const holder = tab.getByTestId("holder");
      expect(await holder.textContent()).toBe(name);
      expect(await holder.innerHTML()).toBe(`<bdi>${name}</bdi>`);
      const description = tab.getByTestId("description");
      expect(await description.textContent()).toBe(`Awarded to ${name}.`);
      expect(await description.innerHTML()).toBe(`Awarded to <bdi>${name}</bdi>.`);
      // As laid out: "Awarded to" first, then the whole name, then the full stop, left to right.
      const boxes = await description.evaluate((p) => {
        const box = (node: Node, from: number, to: number) => {
          const range = document.createRange();
          range.setStart(node, from);
          range.setEnd(node, to);
          const r = range.getBoundingClientRect();
          return { left: r.left, right: r.right };
        };
        const [before, bdi, after] = [...p.childNodes];
        return { before: box(before!, 0, before!.textContent!.length), name: (bdi as Element).getBoundingClientRect(), after: box(after!, 0, 1) };
      });
      expect(boxes.before.right).toBeLessThanOrEqual(boxes.name.left + 0.5);
      expect(boxes.name.right).toBeLessThanOrEqual(boxes.after.left + 0.5);
      await keep(`page-${script}.png`, await tab.screenshot({ fullPage: true }));
      await tab.close();
    });
  }
});
