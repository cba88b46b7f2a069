// A printable certificate (PDF) of a credential, for people who file paper: whom it recognises (the
// name the signed credential states), for what, its status today, where to verify it, and the signed
// credential itself attached to the file, so the PDF carries its own proof. All text goes through the
// text layout (embedded Noto faces, shaping, bidi), so a name in any script prints as written.
import PDFDocument from "pdfkit";
import type { PublicCredential } from "./public.js";
import { recipientNameOf } from "./document.js";
import { statusLabel } from "../../public/credential-page.js";
import { layoutText, type LayoutOptions, type TextBlock } from "../../lib/text-layout/layout.js";
import { drawText } from "../../lib/text-layout/pdf.js";
import { formatDay } from "../../lib/calendar.js";
import { ExpectedError } from "../../errors.js";
import { attachCredential } from "./pdf-attachment.js";

/** A text of the certificate and the characters of it that no embedded face can draw. */
export interface UnprintableField {
  /** "recipientName", "issuerName", "title", "description", "criteria", "dates" or "footer". */
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
}

const INK = "#1a1a1a";
const MUTED = "#555555";
const ACCENT = "#1f4e79";
const MARGIN = 72;

/**
 * Renders the certificate of a credential as an A4 landscape PDF: issuer, achievement, the recipient's
 * name (bold, shrunk to fit up to three lines, never cut), description and criteria (cut with "…"
 * past a few lines), dates in `timeZone`, status, a verification pointer to `verifyUrl`, and the
 * signed credential attached as credential.json (PDF 32000-1 §7.11.4 embedded file).
 * @throws RangeError when `timeZone` or `locale` is not one Intl knows.
 * @throws UnprintableTextError when a text to print has characters no embedded face can draw (they
 *   would be boxes); nothing is rendered then.
 */
export function certificatePdf(credential: PublicCredential, verifyUrl: string, options: CertificateOptions = {}): Promise<Buffer> {
  const vc = credential.document as Record<string, any>;
  const achievement = (vc.credentialSubject?.achievement ?? {}) as { name?: string; description?: string; criteria?: { narrative?: string } };
  const issuer = (vc.issuer ?? {}) as { name?: string; url?: string };
  const title = String(vc.name ?? achievement.name ?? "Credential");
  const recipient = options.recipientName === undefined ? recipientNameOf(vc) : options.recipientName;
  const locale = options.locale ?? "en-GB";
  // A date no calendar can show (stored before dates were checked) prints as stored, never as "null".
  const day = (value: unknown) => (value ? (formatDay(new Date(String(value)), options.timeZone ?? "UTC", locale) ?? String(value)) : null);
  const status = statusLabel(credential);

  const doc = new PDFDocument({
    size: "A4",
    layout: "landscape",
    margin: MARGIN,
    font: null as unknown as string, // no built-in font: every face is embedded by the text layout
    info: { Title: title, Author: issuer.name ?? "Laurel", Subject: "Open Badges 3.0 credential", Creator: "Laurel" },
  });
  const chunks: Buffer[] = [];
  doc.on("data", (c: Buffer) => chunks.push(c));
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on("end", () => resolve(Buffer.concat(chunks)));
    doc.on("error", reject);
  });
  const width = doc.page.width - 2 * MARGIN;
  const unprintable: UnprintableField[] = [];
  const set = (field: string, text: string, o: Omit<LayoutOptions, "maxWidth">) => {
    const block = layoutText(text, { maxWidth: width, locale, ...o });
    if (block.unprintable.length) unprintable.push({ field, characters: block.unprintable.map((character) => ({ character, codePoint: codePoint(character) })) });
    return block;
  };

  doc.rect(28, 28, doc.page.width - 56, doc.page.height - 56).lineWidth(2).stroke(ACCENT);
  const expires = day(vc.validUntil);
  const description = String(vc.description ?? achievement.description ?? "").trim();
  const blocks: [TextBlock, string][] = [
    [set("issuerName", issuer.name ?? "", { size: 14, minSize: 10, maxLines: 2, overflow: "ellipsis" }), MUTED],
    [set("title", title, { size: 28, minSize: 16, maxLines: 2, weight: "bold", overflow: "ellipsis" }), INK],
    ...(recipient ? ([
      [set("label", "Awarded to", { size: 13 }), MUTED],
      [set("recipientName", recipient, { size: 40, minSize: 14, maxLines: 3, weight: "bold" }), ACCENT],
    ] as [TextBlock, string][]) : []),
    ...(description ? ([[set("description", description, { size: 13, minSize: 10, maxLines: 3, overflow: "ellipsis" }), INK]] as [TextBlock, string][]) : []),
    ...(achievement.criteria?.narrative
      ? ([[set("criteria", `Criteria: ${achievement.criteria.narrative}`, { size: 11, minSize: 9, maxLines: 2, overflow: "ellipsis" }), MUTED]] as [TextBlock, string][])
      : []),
    [set("dates", `Issued ${day(vc.validFrom) ?? "—"}${expires ? ` · Expires ${expires}` : ""} · Status: ${status.text}`, { size: 12, minSize: 9, maxLines: 2 }), INK],
  ];
  const footer = set("footer", `Verify this credential at ${verifyUrl}, or present ${String(vc.id)}\nThe signed Open Badges 3.0 credential is attached to this PDF (credential.json).`, {
    size: 10,
    minSize: 7,
    maxLines: 3,
  });

  if (unprintable.length) {
    doc.end(); // nothing drawn yet: the document is dropped
    return Promise.reject(new UnprintableTextError(unprintable));
  }

  // Stack the blocks in the space above the footer, centred, with gaps that give way before text does.
  const top = 56;
  const bottom = doc.page.height - 48 - footer.height;
  const textHeight = blocks.reduce((h, [b]) => h + b.height, 0);
  const gap = Math.max(4, Math.min(20, (bottom - top - textHeight) / Math.max(1, blocks.length - 1)));
  let y = top + Math.max(0, (bottom - top - textHeight - gap * (blocks.length - 1)) / 2);
  for (const [block, color] of blocks) y = drawText(doc, block, { x: MARGIN, y, width, align: "center", color }) + gap;
  drawText(doc, footer, { x: MARGIN, y: bottom, width, align: "center", color: MUTED });

  if (status.tone !== "valid") {
    const mark = layoutText(status.text.toUpperCase(), { maxWidth: doc.page.width, size: 72, weight: "bold" });
    doc.save().rotate(-20, { origin: [doc.page.width / 2, doc.page.height / 2] }).fillColor("#b00020", 0.18);
    drawText(doc, mark, { x: 0, y: (doc.page.height - mark.height) / 2, width: doc.page.width, align: "center", actualText: true });
    doc.restore();
  }
  attachCredential(doc, vc);
  doc.end();
  return done;
}
