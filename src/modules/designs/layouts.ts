// The three built-in certificate layouts. Each is planned in two steps: first every text is laid out
// (so a character no face can draw is found before anything is drawn), then the returned function
// draws the page. Page sizes are A4 (595.28 × 841.89 pt): classic and modern landscape, minimal portrait.
import type { LayoutOptions, TextBlock } from "../../lib/text-layout/layout.js";
import type { Layout, RenderDesign } from "./design.js";
import { drawImage, drawQr, drawSignature, INK, MUTED, readableOn, signatureHeight, type SignatureBlocks } from "./parts.js";
import { drawText, type Surface } from "./surface.js";

type Doc = Surface;

/** What a certificate says, already in words (dates formatted, status named). */
export interface CertificateTexts {
  issuer: string;
  title: string;
  /** The recipient's name; null prints no name (and no "Awarded to"). */
  recipient: string | null;
  description: string;
  criteria: string | null;
  /** "Issued … · Expires … · Status: …". */
  dates: string;
  /** The credential's id as printed (its UUID when the id is our URL). */
  credentialId: string;
  /** What the QR code encodes: the credential's page, where it is verified. */
  url: string;
  /** The same address as printed, without the scheme. */
  shortUrl: string;
  /** The signed credential is attached (a PDF): the footer says so. Default true. */
  attached?: boolean;
}

/** Lays out a text of field `field` at most `maxWidth` wide; unprintable characters are collected by the caller. */
export type SetText = (field: string, text: string, options: LayoutOptions) => TextBlock;

export const PAGE: Record<Layout, { size: "A4"; layout: "landscape" | "portrait" }> = {
  classic: { size: "A4", layout: "landscape" },
  modern: { size: "A4", layout: "landscape" },
  minimal: { size: "A4", layout: "portrait" },
};

const ATTACHED = "The signed Open Badges 3.0 credential is attached to this PDF (credential.json).";

function signatures(design: RenderDesign, set: SetText, width: number): SignatureBlocks[] {
  return design.signatures.map((s, i) => ({
    image: s.image,
    name: set(`signatures.${i}.name`, s.name, { maxWidth: width, size: 11, minSize: 8, maxLines: 2, weight: "bold", overflow: "ellipsis" }),
    title: s.title ? set(`signatures.${i}.title`, s.title, { maxWidth: width, size: 9, minSize: 7, maxLines: 2, overflow: "ellipsis" }) : null,
  }));
}

/** Blocks stacked in [top, bottom], centred vertically, with gaps that shrink before text does. */
function stack(doc: Doc, blocks: [TextBlock, string][], x: number, width: number, top: number, bottom: number, align: "center" | "left", after?: (block: TextBlock, y: number) => number) {
  const textHeight = blocks.reduce((h, [b]) => h + b.height, 0);
  const gap = Math.max(4, Math.min(18, (bottom - top - textHeight) / Math.max(1, blocks.length - 1)));
  let y = top + Math.max(0, (bottom - top - textHeight - gap * (blocks.length - 1)) / 2);
  for (const [block, color] of blocks) {
    y = drawText(doc, block, { x, y, width, align, color });
    if (after) y = after(block, y);
    y += gap;
  }
}

function body(t: CertificateTexts, set: SetText, width: number, colors: { title: string; name: string }, sizes: { title: number; name: number }) {
  const blocks: [TextBlock, string][] = [
    [set("issuerName", t.issuer, { maxWidth: width, size: 13, minSize: 9, maxLines: 2, overflow: "ellipsis" }), MUTED],
    [set("title", t.title, { maxWidth: width, size: sizes.title, minSize: 14, maxLines: 2, weight: "bold", overflow: "ellipsis" }), colors.title],
  ];
  let name: TextBlock | null = null;
  if (t.recipient) {
    name = set("recipientName", t.recipient, { maxWidth: width, size: sizes.name, minSize: 12, maxLines: 3, weight: "bold" });
    blocks.push([set("label", "Awarded to", { maxWidth: width, size: 12 }), MUTED], [name, colors.name]);
  }
  if (t.description) blocks.push([set("description", t.description, { maxWidth: width, size: 12, minSize: 9, maxLines: 3, overflow: "ellipsis" }), INK]);
  if (t.criteria) blocks.push([set("criteria", `Criteria: ${t.criteria}`, { maxWidth: width, size: 10, minSize: 8, maxLines: 2, overflow: "ellipsis" }), MUTED]);
  blocks.push([set("dates", t.dates, { maxWidth: width, size: 11, minSize: 8, maxLines: 2 }), INK]);
  return { blocks, name };
}

function footer(t: CertificateTexts, set: SetText, width: number, size = 8) {
  return set("footer", `Verify at ${t.shortUrl}\nCredential ID ${t.credentialId}${t.attached === false ? "" : ` · ${ATTACHED}`}`, { maxWidth: width, size, minSize: 6, maxLines: 3 });
}

function signatureRow(doc: Doc, sigs: SignatureBlocks[], x: number, y: number, width: number, slot: number, imageHeight: number, rule: string, align: "center" | "left") {
  if (!sigs.length) return;
  const gap = Math.min(40, (width - slot * sigs.length) / Math.max(1, sigs.length));
  const total = sigs.length * slot + (sigs.length - 1) * gap;
  let sx = align === "center" ? x + (width - total) / 2 : x;
  for (const s of sigs) {
    drawSignature(doc, s, sx, y, slot, imageHeight, rule, align);
    sx += slot + gap;
  }
}

const tallest = (sigs: SignatureBlocks[], imageHeight: number) => Math.max(0, ...sigs.map((s) => signatureHeight(s, imageHeight)));

/** Classic: a double frame in the two colours with corner ornaments, everything centred, signatures and QR at the foot. */
function classic(doc: Doc, t: CertificateTexts, design: RenderDesign, set: SetText): () => void {
  const W = doc.page.width;
  const H = doc.page.height;
  const inner = 96;
  const width = W - 2 * inner;
  const sigs = signatures(design, set, 160);
  const { blocks, name } = body(t, set, width, { title: design.primaryColor, name: design.primaryColor }, { title: 26, name: 40 });
  const foot = footer(t, set, W - 88 - 68 - 12);
  return () => {
    if (design.background) drawImage(doc, design.background, { x: 0, y: 0, width: W, height: H }, "cover");
    doc.save().rect(20, 20, W - 40, H - 40).lineWidth(3).stroke(design.primaryColor);
    doc.rect(30, 30, W - 60, H - 60).lineWidth(0.8).stroke(design.accentColor);
    for (const [cx, cy] of [[30, 30], [W - 30, 30], [30, H - 30], [W - 30, H - 30]] as const) {
      doc.polygon([cx, cy - 7], [cx + 7, cy], [cx, cy + 7], [cx - 7, cy]).fill(design.accentColor);
    }
    doc.restore();
    let top = 50;
    if (design.logo) {
      drawImage(doc, design.logo, { x: W / 2 - 80, y: top, width: 160, height: 52 });
      top += 60;
    }
    const qr = 68;
    const footY = H - 44 - foot.height;
    const sigTop = footY - 10 - tallest(sigs, 38);
    stack(doc, blocks, inner, width, top, Math.min(sigTop, H - 44 - qr) - 12, "center", (block, y) => {
      if (block !== name) return y;
      doc.save().moveTo(W / 2 - 110, y + 6).lineTo(W / 2 + 110, y + 6).lineWidth(1).stroke(design.accentColor).restore();
      return y + 8;
    });
    signatureRow(doc, sigs, inner, sigTop, width, 160, 38, design.accentColor, "center");
    drawQr(doc, t.url, W - 44 - qr, H - 44 - qr, qr);
    drawText(doc, foot, { x: 44, y: footY, width: W - 88 - qr - 12, align: "left", color: MUTED });
  };
}

/** Modern: a side panel in the primary colour (logo, issuer, QR on a white card), an accent stripe, text flush left. */
function modern(doc: Doc, t: CertificateTexts, design: RenderDesign, set: SetText): () => void {
  const W = doc.page.width;
  const H = doc.page.height;
  const panel = 230;
  const x = panel + 48;
  const width = W - x - 48;
  const onPanel = readableOn(design.primaryColor);
  const sigs = signatures(design, set, 150);
  const issuer = set("issuerName", t.issuer, { maxWidth: panel - 56, size: 15, minSize: 10, maxLines: 3, weight: "bold", overflow: "ellipsis" });
  const label = set("label", "CERTIFICATE OF ACHIEVEMENT", { maxWidth: width, size: 11, weight: "bold" });
  const { blocks, name } = body({ ...t, issuer: "" }, set, width, { title: INK, name: design.primaryColor }, { title: 28, name: 44 });
  const rest = blocks.slice(1); // the issuer is on the panel
  const scan = set("scan", "Scan to verify", { maxWidth: panel - 56, size: 9 });
  const foot = footer(t, set, width, 7.5);
  return () => {
    if (design.background) drawImage(doc, design.background, { x: panel, y: 0, width: W - panel, height: H }, "cover");
    doc.rect(0, 0, panel, H).fill(design.primaryColor);
    doc.rect(panel, 0, 6, H).fill(design.accentColor);
    let y = 40;
    if (design.logo) {
      doc.save().roundedRect(28, y, panel - 56, 76, 8).fill("#ffffff").restore();
      drawImage(doc, design.logo, { x: 38, y: y + 8, width: panel - 76, height: 60 });
      y += 92;
    }
    drawText(doc, issuer, { x: 28, y, width: panel - 56, align: "left", color: onPanel });
    const qr = 120;
    const qrY = H - 40 - scan.height - 8 - qr;
    doc.save().roundedRect(28 + (panel - 56 - qr) / 2 - 8, qrY - 8, qr + 16, qr + 16, 8).fill("#ffffff").restore();
    drawQr(doc, t.url, 28 + (panel - 56 - qr) / 2, qrY, qr);
    drawText(doc, scan, { x: 28, y: qrY + qr + 14, width: panel - 56, align: "center", color: onPanel });
    drawText(doc, label, { x, y: 48, width, align: "left", color: design.accentColor });
    const footY = H - 36 - foot.height;
    const sigTop = footY - 14 - tallest(sigs, 36);
    stack(doc, rest, x, width, 48 + label.height + 16, (sigs.length ? sigTop : footY) - 16, "left", (block, by) => {
      if (block !== name) return by;
      doc.rect(x, by + 6, 64, 4).fill(design.accentColor);
      return by + 10;
    });
    signatureRow(doc, sigs, x, sigTop, width, 150, 36, design.primaryColor, "left");
    drawText(doc, foot, { x, y: footY, width, align: "left", color: MUTED });
  };
}

/** Minimal: portrait, wide margins, one thin accent rule, a left-aligned column; QR small at the foot. */
function minimal(doc: Doc, t: CertificateTexts, design: RenderDesign, set: SetText): () => void {
  const W = doc.page.width;
  const H = doc.page.height;
  const margin = 72;
  const width = W - 2 * margin;
  const sigs = signatures(design, set, 140);
  const { blocks } = body(t, set, width, { title: design.primaryColor, name: INK }, { title: 22, name: 38 });
  const qr = 72;
  const foot = footer(t, set, width - qr - 16, 7.5);
  return () => {
    if (design.background) drawImage(doc, design.background, { x: 0, y: 0, width: W, height: H }, "cover");
    if (design.logo) drawImage(doc, design.logo, { x: margin, y: margin, width: 140, height: 44 }, "contain", "left");
    doc.rect(margin, margin + 64, 48, 2).fill(design.accentColor);
    const footY = H - margin - Math.max(qr, foot.height);
    const sigTop = footY - 28 - tallest(sigs, 40);
    stack(doc, blocks, margin, width, margin + 120, (sigs.length ? sigTop : footY) - 40, "left");
    signatureRow(doc, sigs, margin, sigTop, width, 140, 40, design.accentColor, "left");
    drawQr(doc, t.url, W - margin - qr, H - margin - qr, qr);
    drawText(doc, foot, { x: margin, y: H - margin - foot.height, width: width - qr - 16, align: "left", color: MUTED });
  };
}

/** Plans the page of `design.layout`: lays out every text now, returns the function that draws it. */
export const LAYOUT_PLANS: Record<Layout, (doc: Doc, t: CertificateTexts, design: RenderDesign, set: SetText) => () => void> = { classic, modern, minimal };
