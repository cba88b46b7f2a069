// A printable certificate (PDF) of a credential, for people who file paper: whom it recognises (the
// name the signed credential states), for what, its status today, where to verify it, and the signed
// credential itself attached to the file, so the PDF carries its own proof. All text goes through the
// text layout (embedded Noto faces, shaping, bidi), so a name in any script prints as written.
import PDFDocument from "pdfkit";
import type { PublicCredential } from "./public.js";
import { recipientNameOf } from "./document.js";
import { statusLabel } from "../../public/credential-page.js";
import { layoutText } from "../../lib/text-layout/layout.js";
import { formatDay } from "../../lib/calendar.js";
import { ExpectedError } from "../../errors.js";
import { attachCredential } from "./pdf-attachment.js";
import { shortCredentialUrl } from "./short-url.js";
import { defaultRenderDesign, type RenderDesign } from "../designs/design.js";
import { LAYOUT_PLANS, PAGE, type CertificateTexts, type SetText } from "../designs/layouts.js";
import { drawText, SvgSurface, type Surface } from "../designs/surface.js";
import { svgToPng } from "../../lib/raster.js";
import { customCertificatePdf, customCertificatePng, customSvgUsable } from "../designs/custom.js";

/** A text of the certificate and the characters of it that no embedded face can draw. */
export interface UnprintableField {
  /** "recipientName", "issuerName", "title", "description", "criteria", "dates", "footer" or "signatures.<i>.name|title". */
  field: string;
  /** Each character once, in order of first use, with its code point as "U+0378". */
  characters: { character: string; codePoint: string }[];
}

/**
 * The certificate would print characters as empty boxes (.notdef): a code point no embedded Noto face
 * covers (unassigned, private use, or a script Laurel ships no face for). A signed certificate is not
 * produced with boxes in it; the public route answers 422 with code UNPRINTABLE_TEXT and these fields.
 * The credential itself, its page and its JSON are unaffected: they carry the text, and browsers have
 * fonts of their own.
 */
export class UnprintableTextError extends ExpectedError {
  override name = "UnprintableTextError";
  readonly code = "UNPRINTABLE_TEXT";
  readonly status = 422;
  constructor(readonly fields: UnprintableField[]) {
    super(
      `The certificate cannot be printed: no embedded font has ${fields
        .map((f) => `${f.characters.map((c) => c.codePoint).join(", ")} (in ${f.field})`)
        .join("; ")}`,
    );
  }
}

const codePoint = (c: string) => `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`;

export interface CertificateOptions {
  /** IANA time zone the dates are given in (default UTC). */
  timeZone?: string;
  /** The recipient's name; undefined reads it from the signed credential, null prints none. */
  recipientName?: string | null;
  /** BCP 47 locale for dates, and for the CJK face of ideographs in names (default en-GB). */
  locale?: string;
  /** The template's design with its images loaded (designs/service.ts renderDesign); default classic. */
  design?: RenderDesign;
}

const UUID_AT_END = /([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i;

/**
 * Renders the certificate of a credential as an A4 PDF in the design's layout (designs/layouts.ts:
 * classic and modern landscape, minimal portrait): issuer, achievement, the recipient's name (bold,
 * shrunk to fit up to three lines, never cut), description and criteria (cut with "…" past a few
 * lines), dates in `timeZone`, status, the tenant's logo, background and signatures, the credential's
 * id, a QR code (vector) of its page (`vc.id`; `verifyUrl` when the id is not an http(s) URL) with that
 * address printed, and the signed credential attached as credential.json (PDF 32000-1 §7.11.4
 * embedded file).
 * @throws RangeError when `timeZone` or `locale` is not one Intl knows.
 * @throws UnprintableTextError when a text to print has characters no embedded face can draw (they
 *   would be boxes); nothing is rendered then.
 */
export async function certificatePdf(credential: PublicCredential, verifyUrl: string, options: CertificateOptions = {}): Promise<Buffer> {
  // A custom design is the tenant's own SVG with merge fields (designs/custom.ts); one that no longer
  // passes its checks prints in the fallback layout rather than not at all.
  if (options.design?.customSvg && customSvgUsable(options.design.customSvg)) return customCertificatePdf(options.design.customSvg, credential, verifyUrl, options);
  const vc = credential.document as Record<string, any>;
  const design = options.design ?? defaultRenderDesign();
  const facts = certificateFacts(credential, verifyUrl, options);
  const doc = new PDFDocument({
    ...PAGE[design.layout],
    margin: 0,
    font: null as unknown as string, // no built-in font: every face is embedded by the text layout
    info: { Title: facts.title, Author: facts.issuer || "Laurel", Subject: "Open Badges 3.0 credential", Creator: "Laurel" },
  });
  const chunks: Buffer[] = [];
  doc.on("data", (c: Buffer) => chunks.push(c));
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on("end", () => resolve(Buffer.concat(chunks)));
    doc.on("error", reject);
  });
  let draw: () => void;
  try {
    draw = planCertificate(doc, credential, facts, design, options);
  } catch (error) {
    doc.end(); // nothing drawn yet: the document is dropped
    throw error;
  }
  draw();
  attachCredential(doc, vc);
  doc.end();
  return done;
}

/** The default width of certificatePng, in pixels: sharp on a screen, a few hundred kB. */
export const CERTIFICATE_PNG_WIDTH = 1600;

/**
 * Renders the same certificate as certificatePdf (the same layouts, drawn on designs/surface.ts's SVG
 * backend) as a PNG `width` pixels wide (default 1600; the height follows the A4 page). Differences:
 * nothing is attached (a PNG carries no credential here), a JPEG image is left out (the rasteriser
 * embeds PNG only) and so is an SVG image that refers outside itself; text inside an uploaded SVG is
 * not drawn (no fonts are loaded).
 * @throws RangeError when `timeZone` or `locale` is not one Intl knows.
 * @throws UnprintableTextError as certificatePdf.
 * @throws RasterError (lib/raster.ts) when `width` is not an integer in 1..4096.
 */
export async function certificatePng(credential: PublicCredential, verifyUrl: string, options: CertificateOptions & { width?: number } = {}): Promise<Buffer> {
  if (options.design?.customSvg && customSvgUsable(options.design.customSvg)) {
    return customCertificatePng(options.design.customSvg, credential, verifyUrl, options, options.width ?? CERTIFICATE_PNG_WIDTH);
  }
  const design = options.design ?? defaultRenderDesign();
  const page = PAGE[design.layout];
  const [w, h] = page.layout === "landscape" ? [A4[1], A4[0]] : A4;
  const surface = new SvgSurface(w, h);
  planCertificate(surface, credential, { ...certificateFacts(credential, verifyUrl, options), attached: false }, design, options)();
  return svgToPng(surface.toSvg(), { width: options.width ?? CERTIFICATE_PNG_WIDTH });
}

/** A4 in points, portrait (pdfkit's size). */
const A4: [number, number] = [595.28, 841.89];

/** What the certificate says, in words: the same for every output. */
function certificateFacts(credential: PublicCredential, verifyUrl: string, options: CertificateOptions): CertificateTexts {
  const vc = credential.document as Record<string, any>;
  const achievement = (vc.credentialSubject?.achievement ?? {}) as { name?: string; description?: string; criteria?: { narrative?: string } };
  const issuer = (vc.issuer ?? {}) as { name?: string; url?: string };
  const title = String(vc.name ?? achievement.name ?? "Credential");
  const recipient = options.recipientName === undefined ? recipientNameOf(vc) : options.recipientName;
  const locale = options.locale ?? "en-GB";
  // A date no calendar can show (stored before dates were checked) prints as stored, never as "null".
  const day = (value: unknown) => (value ? (formatDay(new Date(String(value)), options.timeZone ?? "UTC", locale) ?? String(value)) : null);
  const status = statusLabel(credential);
  const expires = day(vc.validUntil);
  const id = String(vc.id ?? "");
  const url = /^https?:\/\/\S+$/.test(id) ? id : verifyUrl;
  return {
    issuer: issuer.name ?? "",
    title,
    recipient: recipient || null,
    description: String(vc.description ?? achievement.description ?? "").trim(),
    criteria: achievement.criteria?.narrative?.trim() || null,
    dates: `Issued ${day(vc.validFrom) ?? "—"}${expires ? ` · Expires ${expires}` : ""} · Status: ${status.text}`,
    credentialId: UUID_AT_END.exec(id)?.[1] ?? id,
    url,
    shortUrl: shortAddress(url),
  };
}

/**
 * Lays out every text of the certificate on `surface` (either backend) and returns the function that
 * draws the page, with the status watermark when the credential is not valid today.
 * @throws UnprintableTextError before anything is drawn.
 */
function planCertificate(surface: Surface, credential: PublicCredential, facts: CertificateTexts, design: RenderDesign, options: CertificateOptions): () => void {
  const locale = options.locale ?? "en-GB";
  const unprintable: UnprintableField[] = [];
  const set: SetText = (field, text, o) => {
    const block = layoutText(text, { locale, ...o });
    if (block.unprintable.length) unprintable.push({ field, characters: block.unprintable.map((character) => ({ character, codePoint: codePoint(character) })) });
    return block;
  };
  const draw = LAYOUT_PLANS[design.layout](surface, facts, design, set);
  if (unprintable.length) throw new UnprintableTextError(unprintable);
  const status = statusLabel(credential);
  return () => {
    draw();
    if (status.tone === "valid") return;
    const { width, height } = surface.page;
    const mark = layoutText(status.text.toUpperCase(), { maxWidth: width, size: 72, weight: "bold" });
    surface.save().rotate(-20, { origin: [width / 2, height / 2] }).fillColor("#b00020", 0.18);
    drawText(surface, mark, { x: 0, y: (height - mark.height) / 2, width, align: "center", actualText: true });
    surface.restore();
  };
}

const CREDENTIAL_URL = /^(https?:\/\/.+)\/issuers\/([0-9a-f-]{36})\/credentials\/([0-9a-f-]{36})$/;

/**
 * The address printed under "Verify at": the credential's short link (/v/<43 characters>, which
 * redirects to its page) without the scheme; any other address as it is, without the scheme.
 */
function shortAddress(url: string): string {
  const m = CREDENTIAL_URL.exec(url);
  return (m ? shortCredentialUrl(m[1]!, m[2]!, m[3]!) : url).replace(/^https?:\/\//, "");
}
