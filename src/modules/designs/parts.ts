// Pieces every certificate layout draws with pdfkit: an uploaded image fitted into a box (PNG and JPEG
// as images, SVG as vector paths through svg-to-pdfkit), a QR code as vector squares, a signature,
// and a text colour that reads on a given background.
import QRCode from "qrcode";
import SVGtoPDF from "svg-to-pdfkit";
import { parseSvg } from "../credentials/baking.js";
import { undrawable } from "../../lib/svg-budget.js";
import { embeddedPng, pngDimensions } from "../../lib/raster.js";
import { face } from "../../lib/text-layout/fonts.js";
import type { TextBlock } from "../../lib/text-layout/layout.js";
import type { DesignImage } from "./design.js";
import { drawText, pdfOf, SvgSurface, type Surface } from "./surface.js";

type Doc = Surface;

export const INK = "#1a1a1a";
export const MUTED = "#555555";

/** A box in points, pdfkit coordinates (origin top left). */
export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

// Text inside an uploaded SVG is set in embedded Noto Sans, never in a font that is not embedded.
function svgFont(doc: PDFKit.PDFDocument): string {
  const registered = (doc as unknown as { _registeredFonts: Record<string, unknown> })._registeredFonts;
  if (!registered["laurel-svg-sans"]) doc.registerFont("laurel-svg-sans", face("sans", "regular").font as unknown as string);
  return "laurel-svg-sans";
}

const JPEG = Buffer.from([0xff, 0xd8, 0xff]);
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47]);

/**
 * Draws `image` inside `box`: "contain" keeps it whole (aligned left or centred), "cover" fills the box
 * and crops the overflow (backgrounds). An SVG's scripts, links, external images and fonts are never
 * followed: only data: PNG/JPEG images inside it are drawn, and its text uses the embedded Noto face.
 * An image that cannot be decoded is left out rather than failing the certificate.
 */
export function drawImage(surface: Doc, image: DesignImage, box: Rect, mode: "contain" | "cover" = "contain", align: "left" | "center" = "center"): void {
  const preserveAspectRatio = mode === "cover" ? "xMidYMid slice" : align === "left" ? "xMinYMid meet" : "xMidYMid meet";
  const doc = pdfOf(surface);
  if (!doc) {
    surface.save().rect(box.x, box.y, box.width, box.height).clip();
    (surface as SvgSurface).image(image.bytes, image.contentType, box.x, box.y, box.width, box.height, preserveAspectRatio);
    surface.restore();
    return;
  }
  doc.save();
  doc.rect(box.x, box.y, box.width, box.height).clip();
  try {
    if (image.bytes.subarray(0, 4).equals(PNG) && !pngDimensions(image.bytes)) {
      // Stored before uploads were measured: pdfkit would decode all of it into memory. Left out.
    } else if (image.bytes.subarray(0, 4).equals(PNG) || image.bytes.subarray(0, 3).equals(JPEG)) {
      const size = mode === "cover" ? { cover: [box.width, box.height] as [number, number] } : { fit: [box.width, box.height] as [number, number] };
      doc.image(image.bytes, box.x, box.y, { ...size, align: align === "center" ? "center" : undefined, valign: "center" });
    } else if (image.contentType === "image/svg+xml") {
      // Only what we draw (svg-budget.ts undrawable): an uploaded SVG's filters, masks, patterns or
      // <use> chains could cost minutes or gigabytes. A refused logo is left out.
      const problem = undrawable(parseSvg(image.bytes.toString("utf8")).documentElement!);
      if (problem) throw new Error(problem);
      SVGtoPDF(doc, image.bytes.toString("utf8"), box.x, box.y, {
        width: box.width,
        height: box.height,
        preserveAspectRatio,
        assumePt: false,
        warningCallback: () => {},
        // Never let an uploaded SVG name a file or address: pdfkit would open a path it was given.
        imageCallback: embeddedPngOnly,
        fontCallback: () => svgFont(doc),
        documentCallback: () => null,
      });
    }
  } catch {
    // A broken upload draws nothing; the certificate itself is still right.
  } finally {
    doc.restore();
  }
}

/**
 * Draws a QR code (ISO/IEC 18004, error correction level M) of `text` as filled squares, `size`
 * points wide including a quiet zone of two modules, dark on a white square. Horizontal runs of dark
 * modules are merged into one rectangle each, so the code stays small and sharp at any zoom.
 * @returns the number of modules per side (without the quiet zone).
 */
export function drawQr(doc: Doc, text: string, x: number, y: number, size: number, color = INK): number {
  const { modules } = QRCode.create(text, { errorCorrectionLevel: "M" });
  const n = modules.size;
  const quiet = 2;
  const unit = size / (n + 2 * quiet);
  doc.save();
  doc.rect(x, y, size, size).fill("#ffffff");
  for (let row = 0; row < n; row++) {
    for (let col = 0; col < n; col++) {
      if (!modules.get(row, col)) continue;
      let end = col;
      while (end + 1 < n && modules.get(row, end + 1)) end++;
      doc.rect(x + (quiet + col) * unit, y + (quiet + row) * unit, (end - col + 1) * unit, unit);
      col = end;
    }
  }
  doc.fill(color);
  doc.restore();
  return n;
}

/** Black or white, whichever reads better on `background` (#rrggbb), by WCAG 2.x relative luminance. */
export function readableOn(background: string): string {
  const [r, g, b] = [1, 3, 5].map((i) => {
    const c = parseInt(background.slice(i, i + 2), 16) / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  }) as [number, number, number];
  const luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b;
  return (1.05 / (luminance + 0.05)) >= ((luminance + 0.05) / 0.05) ? "#ffffff" : INK;
}

export interface SignatureBlocks {
  image: DesignImage | null;
  name: TextBlock;
  title: TextBlock | null;
}

/** Height in points a signature takes when drawn by drawSignature with an image box of `imageHeight`. */
export const signatureHeight = (s: SignatureBlocks, imageHeight: number) => imageHeight + 6 + s.name.height + (s.title?.height ?? 0) + 2;

/**
 * Draws one signature in a slot: the image (if any) above a rule, the name below it, the title under
 * the name, all centred (or left-aligned) in `width`. Returns the y below it.
 */
export function drawSignature(doc: Doc, s: SignatureBlocks, x: number, y: number, width: number, imageHeight: number, rule: string, align: "center" | "left" = "center"): number {
  if (s.image) drawImage(doc, s.image, { x: x + 6, y, width: width - 12, height: imageHeight - 4 }, "contain", align);
  const ruleY = y + imageHeight;
  doc.save().moveTo(x, ruleY).lineTo(x + width, ruleY).lineWidth(0.75).stroke(rule).restore();
  let bottom = drawText(doc, s.name, { x, y: ruleY + 5, width, align, color: INK });
  if (s.title) bottom = drawText(doc, s.title, { x, y: bottom + 1, width, align, color: MUTED });
  return bottom;
}

/**
 * svg-to-pdfkit's imageCallback for an SVG we did not write: an embedded PNG of at most 4096×4096
 * pixels (pdfkit decodes it whole), else nothing. Never a path or address: pdfkit would open it.
 */
export function embeddedPngOnly(href: string): string | Buffer {
  const png = embeddedPng(href);
  return png && pngDimensions(png) ? href : Buffer.alloc(0);
}
