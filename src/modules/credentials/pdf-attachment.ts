// The signed credential inside a certificate PDF, both ways: attaching it as a PDF/A-3 associated file
// (ISO 19005-3 §6.8, ISO 32000-2 §14.13) when the certificate is made, and finding it again in a PDF
// someone hands to /verify. One file owns the convention (name, MIME type, relationship) so the two
// sides cannot drift apart.
import { inflateSync } from "node:zlib";
import { EncryptedPDFError, PDFArray, PDFDict, PDFDocument, PDFName, PDFRawStream, PDFRef, PDFString, PDFHexString, type PDFObject } from "pdf-lib";

/** The attachment's file name, as a reader's attachment panel lists it. */
export const CREDENTIAL_FILE_NAME = "credential.json";
/** JSON-LD: an OB 3.0 credential is a JSON-LD document (VC Data Model 2.0 §6.1). */
export const CREDENTIAL_MIME_TYPE = "application/ld+json";
/**
 * ISO 32000-2 Table 43. /Source, not /Data: the signed credential is the original the certificate's
 * text was rendered from, and the only part of the file that proves anything; /Data means "information
 * used to derive a visual presentation, such as for a table or a graph", a supporting role.
 */
export const CREDENTIAL_RELATIONSHIP = "Source";

// pdfkit's document as it is at run time: its typings omit the PDF/A and metadata members used here.
interface PdfKitInternals {
  subset?: number;
  version: number;
  info: Record<string, unknown>;
  initSubset(options: { subset: string }): void;
  _addInfo(): void;
  _root: { data: Record<string, unknown> };
}

const xmlText = (value: unknown) =>
  typeof value === "string" ? value.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" })[c]!) : value;

/**
 * Attaches the signed credential `vc` to a pdfkit document as credential.json, the PDF/A-3 way: an
 * embedded file stream (Subtype application/ld+json, Params with ModDate and CheckSum) under a file
 * specification with /F, /UF, /Desc and /AFRelationship /Source, listed in the catalog's /AF array and
 * in the EmbeddedFiles name tree (so readers show it). It also declares the document PDF/A-3b in its
 * XMP metadata (pdfaid:part 3, conformance B, with pdfkit's sRGB output intent), unless the document
 * was created with another `subset`, and sets the catalog's /Version to 1.7 (PDF/A-3 is based on PDF
 * 1.7; pdfkit writes no XMP below 1.4, and the header is already written when this runs). pdfkit
 * interpolates the Info strings (Title, Author) into the XMP unescaped; they are XML-escaped here.
 * Call it once, after drawing and before `doc.end()`.
 * @param vc the signed credential, exactly as published (serialised as indented JSON)
 */
export function attachCredential(doc: PDFKit.PDFDocument, vc: Record<string, unknown>): void {
  const internals = doc as unknown as PdfKitInternals;
  if (!internals.subset) internals.initSubset({ subset: "PDF/A-3b" });
  if (internals.version < 1.7) {
    internals.version = 1.7; // read only by endMetadata from here on: it then writes the XMP stream
    internals._root.data.Version = "1.7"; // a pdfkit string is a name: /Version /1.7 (ISO 32000-1 Table 28)
  }
  const addInfo = internals._addInfo;
  internals._addInfo = function (this: PdfKitInternals) {
    const info = this.info;
    this.info = Object.fromEntries(Object.entries(info).map(([k, v]) => [k, xmlText(v)]));
    try {
      addInfo.call(this);
    } finally {
      this.info = info;
    }
  };
  const now = new Date();
  doc.file(Buffer.from(JSON.stringify(vc, null, 2)), {
    name: CREDENTIAL_FILE_NAME,
    type: CREDENTIAL_MIME_TYPE,
    description: "The signed Open Badges 3.0 Verifiable Credential this certificate shows: verify it at /verify",
    relationship: CREDENTIAL_RELATIONSHIP,
    creationDate: now,
    modifiedDate: now, // PDF/A-3 §6.8 requires Params /ModDate
    hidden: false,
  } as PDFKit.Mixins.PDFAttachmentOptions);
}

/** Why a PDF handed to /verify gave no credential; each code has one status. */
export const PDF_CREDENTIAL_ERRORS = {
  NOT_A_PDF: 400,
  PDF_ENCRYPTED: 422,
  NO_CREDENTIAL_ATTACHMENT: 422,
  SEVERAL_CREDENTIAL_ATTACHMENTS: 422,
  ATTACHMENT_NOT_JSON: 422,
  ATTACHMENT_UNREADABLE: 422,
  PAYLOAD_TOO_LARGE: 413,
} as const;
export type PdfCredentialErrorCode = keyof typeof PDF_CREDENTIAL_ERRORS;

/** A PDF handed to /verify could not be read as one (400), holds no single credential (422), or too much (413). */
export class PdfCredentialError extends Error {
  override name = "PdfCredentialError";
  readonly status: 400 | 413 | 422;
  constructor(
    readonly code: PdfCredentialErrorCode,
    message: string,
  ) {
    super(message);
    this.status = PDF_CREDENTIAL_ERRORS[code];
  }
}

/** One file embedded in a PDF, as found through /AF or the EmbeddedFiles name tree. */
interface EmbeddedFile {
  name: string;
  mimeType: string | null;
  bytes: Uint8Array;
}

const JSON_TYPES = /^application\/((ld|vc|vc\+ld)\+)?json$|^application\/vc$/;
const isCredential = (v: unknown) => {
  const type = (v as { type?: unknown } | null)?.type;
  return Array.isArray(type) ? type.includes("VerifiableCredential") : type === "VerifiableCredential";
};

/**
 * The one Verifiable Credential embedded in a PDF: every embedded file reached from the catalog's /AF
 * array or its EmbeddedFiles name tree (each stream once) whose MIME subtype is a JSON type or whose
 * name ends in .json/.jsonld, parsed, and kept when its `type` includes "VerifiableCredential".
 * Streams are decoded with FlateDecode or none (what PDF writers use for attachments), each to at most
 * `limit` bytes: a credential larger than a JSON body /verify accepts is not read out of a PDF either.
 * @throws PdfCredentialError 400 when the bytes are not a PDF pdf-lib can parse; 422 when it is
 *   encrypted, carries no credential or several, or a credential attachment is not JSON; 413 when an
 *   attachment inflates past `limit`.
 */
export async function credentialFromPdf(pdf: Uint8Array, limit: number): Promise<unknown> {
  let doc: PDFDocument;
  try {
    doc = await PDFDocument.load(pdf, { updateMetadata: false, throwOnInvalidObject: true });
  } catch (error) {
    if (error instanceof EncryptedPDFError) throw new PdfCredentialError("PDF_ENCRYPTED", "This PDF is encrypted: its attachments cannot be read");
    throw new PdfCredentialError("NOT_A_PDF", `This is not a PDF that can be read: ${(error as Error).message}`);
  }
  const found: unknown[] = [];
  for (const file of embeddedFiles(doc, limit)) {
    const jsonLike = (file.mimeType !== null && JSON_TYPES.test(file.mimeType)) || /\.json(ld)?$/i.test(file.name);
    if (!jsonLike) continue;
    let value: unknown;
    try {
      value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(file.bytes));
    } catch {
      throw new PdfCredentialError("ATTACHMENT_NOT_JSON", `The PDF's attachment ${JSON.stringify(file.name)} is not JSON`);
    }
    if (isCredential(value)) found.push(value);
  }
  if (found.length === 0) throw new PdfCredentialError("NO_CREDENTIAL_ATTACHMENT", "This PDF carries no Verifiable Credential attachment");
  if (found.length > 1) throw new PdfCredentialError("SEVERAL_CREDENTIAL_ATTACHMENTS", `This PDF carries ${found.length} Verifiable Credential attachments: attach only the one to verify`);
  return found[0];
}

function embeddedFiles(doc: PDFDocument, limit: number): EmbeddedFile[] {
  const context = doc.context;
  const deref = <T extends PDFObject>(o: PDFObject | undefined, type: { prototype: T }): T | undefined => {
    const value = o instanceof PDFRef ? context.lookup(o) : o;
    return value instanceof (type as unknown as typeof PDFObject) ? (value as T) : undefined;
  };
  const specs: PDFObject[] = [];
  const catalog = doc.catalog;
  const af = deref(catalog.get(PDFName.of("AF")), PDFArray);
  if (af) for (let i = 0; i < af.size(); i++) specs.push(af.get(i));
  // The EmbeddedFiles name tree (ISO 32000-1 §7.9.6): /Names pairs in leaves, /Kids below; depth-bounded.
  const names = deref(deref(catalog.get(PDFName.of("Names")), PDFDict)?.get(PDFName.of("EmbeddedFiles")), PDFDict);
  const walk = (node: PDFDict | undefined, depth: number) => {
    if (!node || depth > 32) return;
    const leaf = deref(node.get(PDFName.of("Names")), PDFArray);
    if (leaf) for (let i = 1; i < leaf.size(); i += 2) specs.push(leaf.get(i));
    const kids = deref(node.get(PDFName.of("Kids")), PDFArray);
    if (kids) for (let i = 0; i < kids.size(); i++) walk(deref(kids.get(i), PDFDict), depth + 1);
  };
  walk(names, 0);

  const seen = new Set<PDFObject>();
  const files: EmbeddedFile[] = [];
  for (const ref of specs) {
    const spec = deref(ref, PDFDict);
    const ef = deref(spec?.get(PDFName.of("EF")), PDFDict);
    const streamRef = ef?.get(PDFName.of("UF")) ?? ef?.get(PDFName.of("F"));
    const stream = deref(streamRef, PDFRawStream);
    if (!spec || !stream || seen.has(stream)) continue;
    seen.add(stream);
    const nameObject = spec.get(PDFName.of("UF")) ?? spec.get(PDFName.of("F"));
    const name = nameObject instanceof PDFString || nameObject instanceof PDFHexString ? nameObject.decodeText() : "";
    const subtype = stream.dict.get(PDFName.of("Subtype"));
    files.push({ name, mimeType: subtype instanceof PDFName ? subtype.decodeText() : null, bytes: decode(stream, name, limit) });
  }
  return files;
}

/** A stream's bytes: unfiltered or FlateDecode (one filter), inflated to at most `limit` bytes. */
function decode(stream: PDFRawStream, name: string, limit: number): Uint8Array {
  const filter = stream.dict.get(PDFName.of("Filter"));
  const filters = filter instanceof PDFArray ? filter.asArray() : filter ? [filter] : [];
  const names = filters.map((f) => (f instanceof PDFName ? f.decodeText() : "?"));
  if (names.length === 0) {
    if (stream.contents.length > limit) throw new PdfCredentialError("PAYLOAD_TOO_LARGE", `The PDF's attachment ${JSON.stringify(name)} exceeds ${limit} bytes`);
    return stream.contents;
  }
  if (names.length > 1 || names[0] !== "FlateDecode") throw new PdfCredentialError("ATTACHMENT_UNREADABLE", `The PDF's attachment ${JSON.stringify(name)} uses a filter not read here (${names.join(", ")}): use FlateDecode or none`);
  try {
    return inflateSync(stream.contents, { maxOutputLength: limit });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") throw new PdfCredentialError("PAYLOAD_TOO_LARGE", `The PDF's attachment ${JSON.stringify(name)} exceeds ${limit} bytes`);
    throw new PdfCredentialError("ATTACHMENT_UNREADABLE", `The PDF's attachment ${JSON.stringify(name)} is damaged: ${(error as Error).message}`);
  }
}
