// A certificate PDF carries its own proof: the signed credential is a PDF/A-3 associated file
// (/AF in the catalog, /AFRelationship /Source), and POST /verify takes the PDF itself, finds the one
// credential in it and verifies it exactly as it would the JSON. The attachment is read back here with
// poppler's pdfdetach and pdf-lib's object model, not with the server's own reader.
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { inflateSync } from "node:zlib";
import { DOMParser } from "@xmldom/xmldom";
import { PDFArray, PDFDict, PDFDocument, PDFName, PDFRawStream, PDFRef, PDFString, PDFHexString, type PDFObject } from "pdf-lib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { launchBrowser, shot } from "../helpers/browser.js";
import { hit, tenantWithTemplate, type EngagementTenant, type Issued } from "../engagement/setup.js";

const run = promisify(execFile);
let app: TestApp;
let t: EngagementTenant;
let issued: Issued;
let pdf: Buffer;

beforeAll(async () => {
  app = await startTestApp();
  t = await tenantWithTemplate(app, "Proof Polytechnic");
  issued = await t.issue();
  const res = await hit(app, `${issued.pagePath}/certificate.pdf`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toBe("application/pdf");
  pdf = Buffer.from(await res.arrayBuffer());
}, 60_000);
afterAll(async () => app?.close());

/** POST /verify with a body of `type`. */
async function verify(body: Uint8Array | string, type = "application/pdf") {
  const res = await fetch(`${app.server.url}/verify`, { method: "POST", headers: { "content-type": type }, body: typeof body === "string" ? body : Buffer.from(body) });
  return { status: res.status, json: (await res.json()) as Record<string, any> };
}

/** The files poppler's pdfdetach finds in a PDF, by name, as bytes. */
async function detach(file: Uint8Array): Promise<Map<string, Buffer>> {
  const dir = await mkdtemp(join(tmpdir(), "laurel-detach-"));
  try {
    await writeFile(join(dir, "doc.pdf"), file);
    const { stdout } = await run("pdfdetach", ["-list", "-enc", "UTF-8", join(dir, "doc.pdf")]);
    const names = [...stdout.matchAll(/^\d+: (.+)$/gm)].map((m) => m[1]!);
    const files = new Map<string, Buffer>();
    for (const [i, name] of names.entries()) {
      await run("pdfdetach", ["-save", String(i + 1), "-o", join(dir, `out-${i}`), join(dir, "doc.pdf")]);
      files.set(name, await readFile(join(dir, `out-${i}`)));
    }
    return files;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const lookup = <T extends PDFObject>(doc: PDFDocument, o: PDFObject | undefined, type: { prototype: T }): T => {
  const value = o instanceof PDFRef ? doc.context.lookup(o) : o;
  if (!(value instanceof (type as unknown as typeof PDFRef))) throw new Error(`expected a ${String(type)}, got ${String(value)}`);
  return value as unknown as T;
};
const text = (o: PDFObject | undefined) => (o instanceof PDFString || o instanceof PDFHexString ? o.decodeText() : String(o));

/** A copy of `file` whose credential.json is replaced by `json` (the stream swapped, all else kept). */
async function withAttachment(file: Buffer, json: string): Promise<Uint8Array> {
  const doc = await PDFDocument.load(file);
  const spec = lookup(doc, lookup(doc, doc.catalog.get(PDFName.of("AF")), PDFArray).get(0), PDFDict);
  const ef = lookup(doc, spec.get(PDFName.of("EF")), PDFDict);
  const old = lookup(doc, ef.get(PDFName.of("F")), PDFRawStream);
  const stream = doc.context.flateStream(Buffer.from(json), { Type: "EmbeddedFile", Subtype: old.dict.get(PDFName.of("Subtype")) });
  doc.context.assign(ef.get(PDFName.of("F")) as PDFRef, stream);
  return doc.save({ useObjectStreams: false });
}

describe("the certificate PDF", () => {
  it("attaches the signed credential, as poppler's pdfdetach reads it", async () => {
    const files = await detach(pdf);
    expect([...files.keys()]).toEqual(["credential.json"]);
    expect(JSON.parse(files.get("credential.json")!.toString("utf8"))).toEqual(issued.verifiableCredential);
  });

  it("lists it in the catalog's /AF as a PDF/A-3 associated file with /AFRelationship /Source", async () => {
    const doc = await PDFDocument.load(pdf);
    const af = lookup(doc, doc.catalog.get(PDFName.of("AF")), PDFArray);
    expect(af.size()).toBe(1);
    const spec = lookup(doc, af.get(0), PDFDict);
    expect(String(spec.get(PDFName.of("Type")))).toBe("/Filespec");
    expect(String(spec.get(PDFName.of("AFRelationship")))).toBe("/Source");
    expect(text(spec.get(PDFName.of("F")))).toBe("credential.json");
    expect(text(spec.get(PDFName.of("UF")))).toBe("credential.json");
    expect(text(spec.get(PDFName.of("Desc")))).toMatch(/Open Badges 3\.0 Verifiable Credential/);
    const stream = lookup(doc, lookup(doc, spec.get(PDFName.of("EF")), PDFDict).get(PDFName.of("F")), PDFRawStream);
    expect(String(stream.dict.get(PDFName.of("Type")))).toBe("/EmbeddedFile");
    expect(lookup(doc, stream.dict.get(PDFName.of("Subtype")), PDFName).decodeText()).toBe("application/ld+json");
    const params = lookup(doc, stream.dict.get(PDFName.of("Params")), PDFDict);
    expect(params.get(PDFName.of("ModDate")), "PDF/A-3 requires the attachment's ModDate").toBeDefined();
    expect(JSON.parse(inflateSync(stream.contents).toString("utf8"))).toEqual(issued.verifiableCredential);
    // The same file specification is in the EmbeddedFiles name tree, so readers list it.
    const names = lookup(doc, lookup(doc, doc.catalog.get(PDFName.of("Names")), PDFDict).get(PDFName.of("EmbeddedFiles")), PDFDict);
    const leaf = lookup(doc, names.get(PDFName.of("Names")), PDFArray);
    expect(leaf.get(1)).toBe(af.get(0));
  });

  it("declares PDF/A-3b in well-formed XMP metadata, on PDF 1.7", async () => {
    const doc = await PDFDocument.load(pdf);
    expect(String(doc.catalog.get(PDFName.of("Version")))).toBe("/1.7");
    const metadata = lookup(doc, doc.catalog.get(PDFName.of("Metadata")), PDFRawStream);
    const xmp = Buffer.from(metadata.contents).toString("utf8");
    const errors: string[] = [];
    const parsed = new DOMParser({ onError: (level, message) => void (level !== "warning" && errors.push(message)) }).parseFromString(xmp.replace(/^\uFEFF?/, ""), "text/xml");
    expect(errors).toEqual([]);
    const ns = "http://www.aiim.org/pdfa/ns/id/";
    expect(parsed.getElementsByTagNameNS(ns, "part")[0]?.textContent).toBe("3");
    expect(parsed.getElementsByTagNameNS(ns, "conformance")[0]?.textContent).toBe("B");
    expect(doc.catalog.get(PDFName.of("OutputIntents")), "PDF/A needs an output intent").toBeDefined();
    const dir = await mkdtemp(join(tmpdir(), "laurel-info-"));
    await writeFile(join(dir, "doc.pdf"), pdf);
    const { stdout } = await run("pdfinfo", [join(dir, "doc.pdf")]).finally(() => rm(dir, { recursive: true, force: true }));
    expect(String(stdout)).toMatch(/PDF version:\s+1\.7/);
  });
});

describe("POST /verify with a PDF", () => {
  it("verifies the credential a downloaded certificate carries, as it does its JSON", async () => {
    const { status, json } = await verify(pdf);
    expect(status).toBe(200);
    expect(json.verified).toBe(true);
    expect(json.proof.ok).toBe(true);
    const asJson = await verify(JSON.stringify(issued.verifiableCredential), "application/json");
    expect(json).toEqual(asJson.json);
  });

  it("fails the proof when one character of the attached credential's name was changed", async () => {
    const vc = structuredClone(issued.verifiableCredential) as Record<string, any>;
    const name = String(vc.name);
    vc.name = `${name.slice(0, -1)}${name.endsWith("x") ? "y" : "x"}`;
    expect(vc.name).toHaveLength(name.length);
    const tampered = await withAttachment(pdf, JSON.stringify(vc, null, 2));
    expect(JSON.parse((await detach(tampered)).get("credential.json")!.toString("utf8")).name).toBe(vc.name);
    const { status, json } = await verify(tampered);
    expect(status).toBe(200);
    expect(json.proof.ok).toBe(false);
    expect(json.verified).toBe(false);
  });

  it("refuses a PDF with no attachment: 422", async () => {
    const doc = await PDFDocument.create();
    doc.addPage().drawText("A certificate with nothing attached");
    const { status, json } = await verify(await doc.save());
    expect(status).toBe(422);
    expect(json.error.code).toBe("NO_CREDENTIAL_ATTACHMENT");
    expect(json.error.message).toMatch(/no Verifiable Credential attachment/);
  });

  it("refuses a PDF with two credential attachments: 422", async () => {
    const doc = await PDFDocument.load(pdf);
    await doc.attach(Buffer.from(JSON.stringify(issued.verifiableCredential)), "second.json", { mimeType: "application/json" });
    const { status, json } = await verify(await doc.save());
    expect(status).toBe(422);
    expect(json.error.code).toBe("SEVERAL_CREDENTIAL_ATTACHMENTS");
  });

  it("ignores a JSON attachment that is not a credential", async () => {
    const doc = await PDFDocument.load(pdf);
    await doc.attach(Buffer.from(JSON.stringify({ notes: "grading sheet" })), "notes.json", { mimeType: "application/json" });
    const { status, json } = await verify(await doc.save());
    expect(status).toBe(200);
    expect(json.verified).toBe(true);
  });

  it("refuses garbage sent as application/pdf: 400", async () => {
    const { status, json } = await verify("this is not a PDF at all, just words");
    expect(status).toBe(400);
    expect(json.error.code).toBe("NOT_A_PDF");
  });

  it("refuses a body over the size limit: 413", async () => {
    const big = Buffer.alloc(app.config.maxBodyBytes + 1, 0x20);
    big.write("%PDF-1.7\n");
    const { status, json } = await verify(big);
    expect(status).toBe(413);
    expect(json.error.code).toBe("PAYLOAD_TOO_LARGE");
  });

  it("refuses an attachment that inflates past the size limit: 413", async () => {
    const padded = JSON.stringify({ ...(issued.verifiableCredential as object), padding: " ".repeat(app.config.maxBodyBytes) });
    const bomb = await withAttachment(pdf, padded);
    expect(bomb.length).toBeLessThan(app.config.maxBodyBytes / 10);
    const { status, json } = await verify(bomb);
    expect(status).toBe(413);
    expect(json.error.message).toMatch(/attachment "credential\.json" exceeds/);
  });
});

describe("the verify page", () => {
  it("verifies a certificate PDF a person chooses, and says why a PDF without one is refused", async () => {
    const browser = await launchBrowser();
    try {
      const tab = await browser.newPage({ viewport: { width: 390, height: 844 } });
      await tab.goto(`${app.server.url}/verify`);
      await tab.setInputFiles("#file", { name: "certificate.pdf", mimeType: "application/pdf", buffer: pdf });
      await tab.waitForSelector("[data-verified]");
      expect(await tab.getAttribute("[data-verified]", "data-verified")).toBe("true");
      await shot(tab, "verify-page-pdf");
      const empty = await PDFDocument.create();
      empty.addPage();
      await tab.setInputFiles("#file", { name: "empty.pdf", mimeType: "application/pdf", buffer: Buffer.from(await empty.save()) });
      await tab.waitForFunction(() => /no Verifiable Credential attachment/.test(document.getElementById("verify-result")!.textContent ?? ""));
    } finally {
      await browser.close();
    }
  }, 30_000);
});
