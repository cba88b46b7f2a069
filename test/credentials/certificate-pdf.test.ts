// The printable certificate: a real PDF, the signed credential attached inside it (so the file carries
// its own proof), its status as of today, and a "downloaded" event in PDF format. It names the
// recipient, prominently, in whatever script their name is written, with the fonts embedded.
import { inflateSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ActivateTemplateDocument, CreateTemplateDocument, IssueCredentialDocument, RevokeCredentialDocument } from "../../src/sdk/generated.js";
import { certificatePdf } from "../../src/modules/credentials/certificate-pdf.js";
import type { PublicCredential } from "../../src/modules/credentials/public.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { uniqueEmail } from "../helpers/factories.js";
import { eventsOf, hit, tenantWithTemplate, type EngagementTenant } from "../engagement/setup.js";
import { pdfFonts, pdfText, pdfWords } from "./pdf-tools.js";

let app: TestApp;
let t: EngagementTenant;
let weldingTemplate: string;

beforeAll(async () => {
  app = await startTestApp();
  t = await tenantWithTemplate(app, "Paper College");
  // A description that does not mention the recipient: the certificate must name them all the same.
  const created = await t.owner.request(CreateTemplateDocument, {
    kind: "CERTIFICATE",
    content: { name: "Advanced Welding", description: "For completing the advanced welding programme.", criteriaNarrative: "Pass the practical exam." },
  });
  if (created.createTemplate.__typename !== "Template") throw new Error("template");
  weldingTemplate = created.createTemplate.id;
  await t.owner.request(ActivateTemplateDocument, { id: weldingTemplate });
});
afterAll(async () => app?.close());

/** The embedded file streams of a PDF (pdfkit deflates them). */
function attachments(pdf: Buffer): string[] {
  const text = pdf.toString("latin1");
  return [...text.matchAll(/\/Type \/EmbeddedFile[\s\S]*?stream\r?\n([\s\S]*?)\r?\nendstream/g)].map((m) => inflateSync(Buffer.from(m[1]!, "latin1")).toString("utf8"));
}

/** Issues a welding certificate to `name` through the API and downloads its PDF. */
async function certificateFor(name: string): Promise<Buffer> {
  const res = await t.owner.request(IssueCredentialDocument, { input: { templateId: weldingTemplate, recipient: { email: uniqueEmail("named"), name } } });
  if (res.issueCredential.__typename !== "Credential") throw new Error(`issue: ${JSON.stringify(res.issueCredential)}`);
  const response = await hit(app, `${res.issueCredential.publicUrl}/certificate.pdf`);
  expect(response.status).toBe(200);
  return Buffer.from(await response.arrayBuffer());
}

// No hyphens: a line may rightly break after one, and pdftotext would then keep it at the line's end.
const LONG_NAME = "Maximiliana Alexandra Konstantinopoulou Wojciechowska von Hohenzollern Sigmaringen ".repeat(3).slice(0, 200);

const NAMES: Record<string, string> = {
  Polish: "Zażółć Gęślą",
  Turkish: "Şükrü İğdır",
  Czech: "Řehoř Ďábel",
  Cyrillic: "Александр Пушкин",
  Greek: "Γιώργος Παπαδόπουλος",
  Chinese: "王小明",
  Japanese: "山田 さくら",
  Korean: "김민준",
  Arabic: "محمد عبد الله",
  Hebrew: "דוד כהן",
  Devanagari: "देवनागरी नाम",
  "Devanagari with a vowel sign drawn before its consonant": "किरण शर्मा",
  "an emoji": "Ana 🎓 Lima",
  "200 characters": LONG_NAME,
};

describe("GET .../certificate.pdf names its recipient in every script", () => {
  it("has a 200-character name to test with", () => expect(LONG_NAME).toHaveLength(200));

  for (const [script, name] of Object.entries(NAMES)) {
    it(`prints a name in ${script} exactly as written, in embedded fonts`, async () => {
      const pdf = await certificateFor(name);
      const text = await pdfText(pdf);
      expect(text).toContain(name.replace(/\s+/g, " "));
      expect(text).toContain("Awarded to");
      expect(text).toContain("For completing the advanced welding programme."); // the text after the name is intact
      const fonts = await pdfFonts(pdf);
      expect(fonts.length).toBeGreaterThan(0);
      for (const font of fonts) expect(font, font.name).toMatchObject({ embedded: true, subset: true, unicode: true });
    });
  }

  it("sets each script in a face made for it", async () => {
    const families = async (name: string) => (await pdfFonts(await certificateFor(name))).map((f) => f.name.split("+")[1]);
    expect(await families(NAMES.Arabic!)).toContain("NotoSansArabic-Bold");
    expect(await families(NAMES.Hebrew!)).toContain("NotoSansHebrew-Bold");
    expect(await families(NAMES.Japanese!)).toContain("NotoSansJP-Bold");
    expect(await families(NAMES.Korean!)).toContain("NotoSansKR-Bold");
    expect(await families(NAMES.Chinese!)).toContain("NotoSansSC-Bold");
    expect(await families(NAMES["an emoji"]!)).toContain("NotoEmoji-Bold");
  });

  it("makes the name the largest text on the page, and shrinks a long one to fit inside the border", async () => {
    const size = (w: { yMin: number; yMax: number }) => w.yMax - w.yMin;
    const short = await pdfWords(await certificateFor("Ada Lovelace"));
    const ada = short.words.find((w) => w.text === "Lovelace")!;
    for (const word of short.words.filter((w) => !["Ada", "Lovelace"].includes(w.text))) expect(size(word), word.text).toBeLessThan(size(ada));

    const long = await pdfWords(await certificateFor(LONG_NAME));
    const nameWords = long.words.filter((w) => LONG_NAME.includes(w.text) && w.text.length > 8);
    expect(nameWords.length).toBeGreaterThan(5);
    for (const word of long.words) {
      expect(word.xMin, word.text).toBeGreaterThanOrEqual(28);
      expect(word.xMax, word.text).toBeLessThanOrEqual(long.width - 28);
      expect(word.yMax, word.text).toBeLessThanOrEqual(long.height - 28);
    }
    expect(size(nameWords[0]!)).toBeLessThan(size(ada));
  });
});

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
    const events = await eventsOf(app, c.tenantId, 1, (e) => e.type === "downloaded" && e.credential_id === c.credentialId);
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
    const text = await pdfText(Buffer.from(await (await hit(app, `${c.pagePath}/certificate.pdf`)).arrayBuffer()));
    expect(text).toContain("REVOKED");
    expect(text).toContain("Status: Revoked");
  });
});

describe("certificatePdf", () => {
  const credential = (document: Record<string, unknown>): PublicCredential => ({
    document, status: "ACTIVE", validFrom: new Date(String(document.validFrom)), validUntil: null, revokedAt: null, suspendedAt: null, revocationReason: null, timeZone: "UTC",
  });
  const signed = {
    id: "https://laurel.test/issuers/t/credentials/c",
    name: "Night Shift",
    issuer: { name: "Harbour Institute" },
    validFrom: "2026-01-01T09:30:00+10:00",
    validUntil: "2027-06-30T23:59:59-07:00",
    credentialSubject: {
      identifier: [{ type: "IdentityObject", identityType: "name", hashed: false, identityHash: "Şükrü İğdır" }],
      achievement: { name: "Night Shift", description: "Worked the night shift." },
    },
  };

  it("gives dates in the time zone asked for", async () => {
    const sydney = await pdfText(await certificatePdf(credential(signed), "https://laurel.test/verify", { timeZone: "Australia/Sydney" }));
    expect(sydney).toContain("Issued 1 January 2026 · Expires 1 July 2027");
    const utc = await pdfText(await certificatePdf(credential(signed), "https://laurel.test/verify", { timeZone: "UTC" }));
    expect(utc).toContain("Issued 31 December 2025 · Expires 1 July 2027");
    const la = await pdfText(await certificatePdf(credential(signed), "https://laurel.test/verify", { timeZone: "America/Los_Angeles" }));
    expect(la).toContain("Issued 31 December 2025 · Expires 30 June 2027");
  });

  it("reads the name from the signed credential unless told, and prints none when told null", async () => {
    const fromDocument = await pdfText(await certificatePdf(credential(signed), "https://laurel.test/verify", {}));
    expect(fromDocument).toContain("Awarded to");
    expect(fromDocument).toContain("Şükrü İğdır");
    const told = await pdfText(await certificatePdf(credential(signed), "https://laurel.test/verify", { recipientName: "Zoë Müller" }));
    expect(told).toContain("Zoë Müller");
    expect(told).not.toContain("Şükrü");
    const anonymous = await pdfText(await certificatePdf(credential(signed), "https://laurel.test/verify", { recipientName: null }));
    expect(anonymous).not.toContain("Awarded to");
    expect(anonymous).not.toContain("Şükrü");
    expect(anonymous).toContain("Worked the night shift.");
  });
});
