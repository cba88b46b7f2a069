// Custom certificate designs: the tenant's own SVG with merge fields ({{recipient.name}}, ...) and a
// QR box (<rect data-laurel="qr">). This file owns the rules such an SVG must follow (checked when the
// design is set and again when drawn) and the drawing: every <text> becomes glyph outlines set by the
// text layout (any script, RTL, shrunk to fit), the QR box becomes vector modules, and the result is
// rasterised (svgToPng) or drawn into a PDF/A-3b page (svg-to-pdfkit) with the signed credential attached.
import PDFDocument from "pdfkit";
import QRCode from "qrcode";
import SVGtoPDF from "svg-to-pdfkit";
import { DOMParser, XMLSerializer, type Document as XmlDocument, type Element as XmlElement } from "@xmldom/xmldom";
import { ExpectedError } from "../../errors.js";
import { formatDay } from "../../lib/calendar.js";
import { pngDimensions, svgToPng } from "../../lib/raster.js";
import { undrawable } from "../../lib/svg-budget.js";
import { embeddedPngOnly } from "./parts.js";
import { layoutText, type TextBlock } from "../../lib/text-layout/layout.js";
import { svgText } from "../../lib/text-layout/svg.js";
import { statusLabel } from "../../public/credential-page.js";
import { parseSvg, SvgError } from "../credentials/baking.js";
import { recipientNameOf } from "../credentials/document.js";
import { attachCredential } from "../credentials/pdf-attachment.js";
import type { PublicCredential } from "../credentials/public.js";
import { UnprintableTextError, type CertificateOptions, type UnprintableField } from "../credentials/certificate-pdf.js";

/** The merge fields a custom SVG may use, each as the whole text of a <text> element: `{{recipient.name}}`. */
export const MERGE_FIELDS = [
  "recipient.name",
  "achievement.name",
  "achievement.description",
  "issuer.name",
  "issuedOn",
  "expiresOn",
  "credential.id",
  "credential.url",
] as const;
export type MergeField = (typeof MERGE_FIELDS)[number];
export type MergeValues = Record<MergeField, string>;

/** Largest viewBox side, in user units, most elements and most embedded PNGs a custom SVG may have. */
export const MAX_VIEWBOX = 5000;
export const MAX_ELEMENTS = 5000;
export const MAX_EMBEDDED_IMAGES = 32;

/** One thing wrong with a custom SVG: a stable code and a message fit to show the designer. */
export interface CustomSvgProblem {
  code:
    | "NOT_SVG"
    | "MALFORMED"
    | "DOCTYPE"
    | "VIEWBOX"
    | "TOO_MANY_ELEMENTS"
    | "SCRIPT"
    | "FOREIGN_OBJECT"
    | "EVENT_ATTRIBUTE"
    | "EXTERNAL_REFERENCE"
    | "STYLE_IMPORT"
    | "UNKNOWN_MERGE_FIELD"
    | "MERGE_FIELD_NOT_WHOLE_TEXT"
    | "QR_NOT_RECT"
    | "QR_BOX"
    | "UNPRINTABLE_TEXT"
    | "UNDRAWABLE";
  message: string;
}

/** The custom SVG breaks one or more rules: `problems` names each (at most 50). */
export class InvalidCustomSvgError extends ExpectedError {
  override name = "InvalidCustomSvgError";
  constructor(readonly problems: CustomSvgProblem[]) {
    super(`The custom certificate SVG cannot be used: ${problems.map((p) => p.message).join("; ").slice(0, 1000)}`);
  }
}

const ELEMENT_NODE = 1;
const TEXT_NODE = 3;
const CDATA_SECTION_NODE = 4;
const SVG_NS = "http://www.w3.org/2000/svg";
const FIELD = /\{\{\s*([^{}]*?)\s*\}\}/g;
const WHOLE_FIELD = /^\{\{\s*([A-Za-z.]+)\s*\}\}$/;
const EMBEDDED_PNG = /^data:image\/png;base64,[A-Za-z0-9+/=\s]*$/;
const EXTERNAL_URL = /url\(\s*["']?(?!#)/i;
const COLOUR = /^(#[0-9a-f]{3,8}|(rgb|rgba|hsl|hsla)\([0-9.,%\s]+\)|[a-z]{3,20})$/i;

const elementsOf = (el: XmlElement): XmlElement[] =>
  Array.from(el.childNodes).filter((c) => c.nodeType === ELEMENT_NODE) as unknown as XmlElement[];
const textOf = (el: XmlElement) => (el.textContent ?? "").replace(/\s+/g, " ").trim();
const isMergeField = (name: string): name is MergeField => (MERGE_FIELDS as readonly string[]).includes(name);

/** The viewBox as [minX, minY, width, height], or null when missing, malformed or larger than MAX_VIEWBOX. */
export function viewBoxOf(root: XmlElement): [number, number, number, number] | null {
  const parts = (root.getAttribute("viewBox") ?? "").trim().split(/[\s,]+/).map(Number);
  if (parts.length !== 4 || !parts.every(Number.isFinite)) return null;
  const [x, y, w, h] = parts as [number, number, number, number];
  if (!(w > 0 && h > 0 && w <= MAX_VIEWBOX && h <= MAX_VIEWBOX && Math.abs(x) <= MAX_VIEWBOX && Math.abs(y) <= MAX_VIEWBOX)) return null;
  return [x, y, w, h];
}

/**
 * Parses and checks a custom certificate SVG (UTF-8 text; null when the image is not an SVG). Rules:
 * well-formed, root <svg>, no DOCTYPE, a viewBox of at most MAX_VIEWBOX units a side, at most
 * MAX_ELEMENTS elements, no <script> or <foreignObject>, no on* attribute, every href a #fragment or
 * an embedded data:image/png (at most MAX_EMBEDDED_IMAGES, each at most 4096×4096: what svgToPng
 * draws), no url() but #fragments and no @import in styles, merge fields only from
 * MERGE_FIELDS and only as the whole text of a <text> element (or its single <tspan>), data-laurel="qr"
 * only on a <rect> with a positive width and height, and fixed texts only of characters an embedded
 * face can draw (they would print as boxes on every certificate). Returns the parsed document.
 * @throws InvalidCustomSvgError listing every problem found (at most 50).
 */
export function checkCustomSvg(svg: string | null): XmlDocument {
  if (svg === null) throw new InvalidCustomSvgError([{ code: "NOT_SVG", message: "The image is not an SVG: a custom design is an SVG uploaded with uploadImage" }]);
  let doc: XmlDocument;
  try {
    doc = parseSvg(svg);
  } catch (error) {
    if (!(error instanceof SvgError)) throw error;
    throw new InvalidCustomSvgError([{ code: /DOCTYPE/.test(error.message) ? "DOCTYPE" : "MALFORMED", message: error.message.slice(0, 300) }]);
  }
  const problems: CustomSvgProblem[] = [];
  const add = (code: CustomSvgProblem["code"], message: string) => {
    if (problems.length < 50 && !problems.some((p) => p.message === message)) problems.push({ code, message });
  };
  if (doc.doctype) add("DOCTYPE", "The SVG has a DOCTYPE: export it without one");
  const root = doc.documentElement!;
  if (!viewBoxOf(root)) add("VIEWBOX", `The <svg> needs a viewBox "minX minY width height" with width and height from 1 to ${MAX_VIEWBOX} units`);
  let count = 0;
  let images = 0;
  const visit = (el: XmlElement) => {
    if (++count > MAX_ELEMENTS) return;
    const name = (el.localName ?? "").toLowerCase();
    if (name === "script") add("SCRIPT", "The SVG has a <script>: scripts are not allowed");
    if (name === "foreignobject") add("FOREIGN_OBJECT", "The SVG has a <foreignObject>: only SVG drawing is allowed");
    for (const attribute of Array.from(el.attributes)) {
      const value = attribute.value.trim();
      if (/^on/i.test(attribute.localName ?? attribute.name)) add("EVENT_ATTRIBUTE", `<${el.localName}> has the event attribute ${attribute.name}: not allowed`);
      if (attribute.localName === "href" && !value.startsWith("#") && !EMBEDDED_PNG.test(value)) {
        add("EXTERNAL_REFERENCE", `<${el.localName}> refers to ${JSON.stringify(value.slice(0, 60))}: only #fragments and embedded data:image/png are allowed`);
      } else if (attribute.localName === "href" && !value.startsWith("#")) {
        if (!pngDimensions(Buffer.from(value.slice(value.indexOf(",") + 1), "base64"))) add("EXTERNAL_REFERENCE", "An embedded image is not a PNG of at most 4096×4096 pixels");
        if (++images === MAX_EMBEDDED_IMAGES + 1) add("EXTERNAL_REFERENCE", `The SVG embeds more than ${MAX_EMBEDDED_IMAGES} images`);
      }
      if (EXTERNAL_URL.test(value)) add("EXTERNAL_REFERENCE", `<${el.localName}> ${attribute.name} has a url() that is not a #fragment`);
      if (/@import/i.test(value)) add("STYLE_IMPORT", `<${el.localName}> ${attribute.name} has an @import`);
      if (/\{\{/.test(value)) add("MERGE_FIELD_NOT_WHOLE_TEXT", `<${el.localName}> ${attribute.name} has a merge field: they go only in the text of a <text>`);
    }
    if (name === "style") {
      const css = el.textContent ?? "";
      if (/@import/i.test(css)) add("STYLE_IMPORT", "The SVG's <style> has an @import: not allowed");
      if (EXTERNAL_URL.test(css)) add("EXTERNAL_REFERENCE", "The SVG's <style> has a url() that is not a #fragment");
    }
    const role = el.getAttribute("data-laurel");
    if (role !== null && role !== "") {
      if (role !== "qr") add("QR_NOT_RECT", `data-laurel="${role.slice(0, 20)}" is unknown: the only one is data-laurel="qr"`);
      else if (name !== "rect") add("QR_NOT_RECT", `data-laurel="qr" is on a <${el.localName}>: put it on a <rect>`);
      else if (!(Number(el.getAttribute("width")) > 0 && Number(el.getAttribute("height")) > 0)) add("QR_BOX", 'The <rect data-laurel="qr"> needs a numeric width and height');
    }
    for (let child = el.firstChild; child; child = child.nextSibling) {
      if (child.nodeType === ELEMENT_NODE) visit(child as XmlElement);
      else if (child.nodeType === TEXT_NODE || child.nodeType === CDATA_SECTION_NODE) checkFields(el, child.nodeValue ?? "", add);
    }
  };
  visit(root);
  if (count <= MAX_ELEMENTS) {
    for (const text of Array.from(root.getElementsByTagName("*")).filter((e) => e.localName === "text")) {
      const content = textOf(text);
      if (!content || /\{\{/.test(content)) continue;
      const unprintable = layoutText(content, { maxWidth: 1000, size: 10 }).unprintable;
      if (unprintable.length) add("UNPRINTABLE_TEXT", `No font Laurel embeds can print ${unprintable.map((c) => `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`).join(", ")} in "${content.slice(0, 40)}"`);
    }
  }
  if (count > MAX_ELEMENTS) add("TOO_MANY_ELEMENTS", `The SVG has more than ${MAX_ELEMENTS} elements`);
  // Then what we do not draw (filters, masks, patterns, markers, clip paths, style sheets, loose hrefs):
  // a few hundred bytes of them can cost the renderers minutes or gigabytes. Said once the rules above
  // hold, so a <script> is reported as itself, not also as something we do not draw.
  if (!problems.length) {
    const undrawn = undrawable(root);
    if (undrawn) add("UNDRAWABLE", undrawn);
  }
  if (problems.length) throw new InvalidCustomSvgError(problems);
  return doc;
}

/** Whether a stored custom SVG still passes checkCustomSvg (rules may have tightened since it was saved). */
export function customSvgUsable(svg: string): boolean {
  try {
    checkCustomSvg(svg);
    return true;
  } catch (error) {
    if (error instanceof InvalidCustomSvgError) return false;
    throw error;
  }
}

/** Checks the merge fields of one text node whose parent is `parent`. */
function checkFields(parent: XmlElement, text: string, add: (code: CustomSvgProblem["code"], message: string) => void): void {
  for (const match of text.matchAll(FIELD)) {
    const name = match[1]!;
    if (!isMergeField(name)) {
      add("UNKNOWN_MERGE_FIELD", `{{${name.slice(0, 40)}}} is not a merge field: use ${MERGE_FIELDS.map((f) => `{{${f}}}`).join(", ")}`);
      continue;
    }
    const owner = textElementOf(parent);
    if (!owner || !WHOLE_FIELD.test(textOf(owner)) || elementsOf(owner).length > 1) {
      add("MERGE_FIELD_NOT_WHOLE_TEXT", `{{${name}}} must be the whole text of a <text> element (or of its only <tspan>)`);
    }
  }
  if (/\{\{|\}\}/.test(text.replace(FIELD, ""))) add("MERGE_FIELD_NOT_WHOLE_TEXT", "The SVG has unbalanced {{ }} braces in a text");
}

/** The <text> element a text node belongs to: its parent, or the parent of its <tspan>. */
function textElementOf(el: XmlElement): XmlElement | null {
  if (el.localName === "text") return el;
  if (el.localName === "tspan" && (el.parentNode as XmlElement | null)?.localName === "text") return el.parentNode as XmlElement;
  return null;
}

/** A presentation property of `el` (its attribute, else its style="", else an ancestor's). */
function property(el: XmlElement | null, name: string): string | null {
  for (let node = el; node && node.nodeType === ELEMENT_NODE; node = node.parentNode as XmlElement | null) {
    const style = new RegExp(`(?:^|;)\\s*${name}\\s*:\\s*([^;]+)`, "i").exec(node.getAttribute("style") ?? "")?.[1]?.trim();
    const value = style ?? node.getAttribute(name);
    if (value) return value.trim();
  }
  return null;
}

const number = (value: string | null, fallback: number) => {
  const n = Number.parseFloat((value ?? "").trim().split(/[\s,]+/)[0] ?? "");
  return Number.isFinite(n) ? n : fallback;
};

/** Parses `fragment` (SVG markup) and imports its root's first element into `doc`. */
function importFragment(doc: XmlDocument, fragment: string): XmlElement {
  const parsed = new DOMParser().parseFromString(`<svg xmlns="${SVG_NS}">${fragment}</svg>`, "application/xml");
  return doc.importNode(elementsOf(parsed.documentElement!)[0]!, true) as XmlElement;
}

/** The QR code of `text` as SVG: a white square of `size` units at (x, y), dark modules merged per row, quiet zone of two modules. */
function qrSvg(text: string, x: number, y: number, size: number): string {
  const { modules } = QRCode.create(text, { errorCorrectionLevel: "M" });
  const n = modules.size;
  const unit = size / (n + 4);
  const d: string[] = [];
  for (let row = 0; row < n; row++) {
    for (let col = 0; col < n; col++) {
      if (!modules.get(row, col)) continue;
      let end = col;
      while (end + 1 < n && modules.get(row, end + 1)) end++;
      const f = (v: number) => Math.round(v * 1000) / 1000;
      d.push(`M${f(x + (2 + col) * unit)} ${f(y + (2 + row) * unit)}h${f((end - col + 1) * unit)}v${f(unit)}h${f(-(end - col + 1) * unit)}Z`);
      col = end;
    }
  }
  return `<g><rect x="${x}" y="${y}" width="${size}" height="${size}" fill="#ffffff"/><path fill="#000000" d="${d.join("")}"/></g>`;
}

export interface RenderedCustomSvg {
  /** The SVG with merge fields, texts and the QR drawn as paths: nothing in it needs a font. */
  svg: string;
  /** The viewBox's width and height, in user units. */
  width: number;
  height: number;
}

/**
 * Fills a custom SVG: each <text> is replaced by its text (a merge field's value, or the text as
 * written) laid out by layoutText at the element's x/y (y is the first baseline), font-size (default
 * 16), font-weight, fill and text-anchor, in a box `data-width` wide (default: as wide as the viewBox
 * allows around x), on `data-max-lines` lines (default 1; shrunk to half size, a third for the name, before wrapping; the
 * recipient's name is never cut, other fields end with "…"); an empty value draws nothing. Each
 * <rect data-laurel="qr"> becomes a QR code of credential.url, centred in it. `watermark` (a status such
 * as "REVOKED") is drawn across the page when given.
 * @throws InvalidCustomSvgError when the SVG breaks checkCustomSvg's rules; UnprintableTextError when a
 *   text has characters no embedded face can draw.
 */
export function renderCustomSvg(svg: string, values: MergeValues, options: { locale?: string; watermark?: string | null } = {}): RenderedCustomSvg {
  const doc = checkCustomSvg(svg);
  const root = doc.documentElement!;
  const [vx, vy, vw, vh] = viewBoxOf(root)!;
  const unprintable: UnprintableField[] = [];
  const set = (field: string, text: string, o: Parameters<typeof layoutText>[1]): TextBlock => {
    const block = layoutText(text, { locale: options.locale, ...o });
    if (block.unprintable.length) {
      unprintable.push({ field, characters: block.unprintable.map((c) => ({ character: c, codePoint: `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}` })) });
    }
    return block;
  };
  for (const text of Array.from(root.getElementsByTagName("*")).filter((e) => e.localName === "text")) {
    const content = textOf(text);
    const field = WHOLE_FIELD.exec(content)?.[1] as MergeField | undefined;
    const value = (field ? values[field] : content).replace(/\s+/g, " ").trim();
    const source = elementsOf(text).find((e) => e.localName === "tspan" && textOf(e)) ?? text;
    if (!value) {
      text.parentNode!.removeChild(text);
      continue;
    }
    const size = Math.min(Math.max(number(property(source, "font-size"), 16), 1), vw);
    const x = number(source.getAttribute("x") ?? text.getAttribute("x"), 0);
    const y = number(source.getAttribute("y") ?? text.getAttribute("y"), 0);
    const anchor = property(source, "text-anchor") ?? "start";
    // Default width: to the viewBox's edge less a margin as wide as the one on the anchored side.
    const [before, after] = [Math.max(x - vx, 0), Math.max(vx + vw - x, 0)];
    const room = anchor === "middle" ? 2 * Math.min(before, after) : anchor === "end" ? before - Math.min(after, before / 2) : after - Math.min(before, after / 2);
    const width = Math.min(Math.max(number(text.getAttribute("data-width"), room), size), MAX_VIEWBOX * 2);
    const bold = /^(bold|bolder|[6-9]00)$/i.test(property(source, "font-weight") ?? "");
    const block = set(field === "recipient.name" ? "recipientName" : (field ?? "text"), value, {
      maxWidth: width,
      size,
      minSize: field === "recipient.name" ? size / 3 : size / 2,
      maxLines: Math.min(Math.max(Math.round(number(text.getAttribute("data-max-lines"), 1)), 1), 10),
      overflow: field === "recipient.name" ? "wrap" : "ellipsis",
      weight: bold ? "bold" : "regular",
    });
    const left = anchor === "middle" ? x - width / 2 : anchor === "end" ? x - width : x;
    const fill = property(source, "fill") ?? "#000";
    const g = importFragment(doc, svgText(block, { x: left, y: y - (block.lines[0]?.ascent ?? 0.8) * block.size, width, align: anchor === "middle" ? "center" : anchor === "end" ? "right" : "left" }, { fill: COLOUR.test(fill) ? fill : "#000" }));
    for (const keep of ["transform", "opacity", "fill-opacity", "id", "clip-path", "mask", "filter", "display", "visibility"]) {
      const v = text.getAttribute(keep);
      if (v) g.setAttribute(keep, v);
    }
    text.parentNode!.replaceChild(g, text);
  }
  if (unprintable.length) throw new UnprintableTextError(unprintable);
  for (const rect of Array.from(root.getElementsByTagName("*")).filter((e) => e.getAttribute("data-laurel") === "qr")) {
    const [x, y, w, h] = ["x", "y", "width", "height"].map((a) => number(rect.getAttribute(a), 0)) as [number, number, number, number];
    const size = Math.min(w, h);
    const g = importFragment(doc, qrSvg(values["credential.url"], x + (w - size) / 2, y + (h - size) / 2, size));
    const transform = rect.getAttribute("transform");
    if (transform) g.setAttribute("transform", transform);
    rect.parentNode!.replaceChild(g, rect);
  }
  if (options.watermark) {
    const mark = layoutText(options.watermark, { maxWidth: vw, size: vw / 10, minSize: vw / 40, maxLines: 1, weight: "bold" });
    const g = importFragment(doc, svgText(mark, { x: vx, y: vy + (vh - mark.height) / 2, width: vw, align: "center" }, { fill: "#b00020" }));
    g.setAttribute("fill-opacity", "0.18");
    g.setAttribute("transform", `rotate(-20 ${vx + vw / 2} ${vy + vh / 2})`);
    root.appendChild(g);
  }
  return { svg: new XMLSerializer().serializeToString(doc), width: vw, height: vh };
}

const UUID_AT_END = /([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i;

/** The merge values of a credential, as certificatePdf prints them (dates in options.timeZone, day precision). */
export function mergeValuesOf(credential: PublicCredential, verifyUrl: string, options: CertificateOptions = {}): MergeValues {
  const vc = credential.document as Record<string, any>;
  const achievement = (vc.credentialSubject?.achievement ?? {}) as { name?: string; description?: string };
  const day = (value: unknown) => (value ? (formatDay(new Date(String(value)), options.timeZone ?? "UTC", options.locale ?? "en-GB") ?? String(value)) : "");
  const id = String(vc.id ?? "");
  const recipient = options.recipientName === undefined ? recipientNameOf(vc) : options.recipientName;
  return {
    "recipient.name": recipient ?? "",
    "achievement.name": String(achievement.name ?? vc.name ?? ""),
    "achievement.description": String(vc.description ?? achievement.description ?? ""),
    "issuer.name": String(vc.issuer?.name ?? ""),
    issuedOn: day(vc.validFrom),
    expiresOn: day(vc.validUntil),
    "credential.id": UUID_AT_END.exec(id)?.[1] ?? id,
    "credential.url": /^https?:\/\/\S+$/.test(id) ? id : verifyUrl,
  };
}

/** The filled custom SVG of a credential (renderCustomSvg with mergeValuesOf and its status as watermark). */
export function customCertificateSvg(svg: string, credential: PublicCredential, verifyUrl: string, options: CertificateOptions = {}): RenderedCustomSvg {
  const status = statusLabel(credential);
  return renderCustomSvg(svg, mergeValuesOf(credential, verifyUrl, options), { locale: options.locale, watermark: status.tone === "valid" ? null : status.text.toUpperCase() });
}

/**
 * The certificate of a credential in a custom design as a PNG `width` pixels wide (default 1600).
 * @throws as customCertificateSvg; RasterError when resvg refuses the result.
 */
export function customCertificatePng(svg: string, credential: PublicCredential, verifyUrl: string, options: CertificateOptions = {}, width = 1600): Buffer {
  return svgToPng(customCertificateSvg(svg, credential, verifyUrl, options).svg, { width });
}

const A4: [number, number] = [595.28, 841.89];

/**
 * The certificate of a credential in a custom design as a PDF/A-3b: one A4 page, landscape when the
 * viewBox is at least as wide as tall, the filled SVG drawn as vectors (svg-to-pdfkit, nothing loaded
 * but embedded PNGs), centred and as large as fits, and the signed credential attached as
 * credential.json (pdf-attachment.ts).
 * @throws as customCertificateSvg.
 */
export function customCertificatePdf(svg: string, credential: PublicCredential, verifyUrl: string, options: CertificateOptions = {}): Promise<Buffer> {
  const filled = customCertificateSvg(svg, credential, verifyUrl, options);
  const vc = credential.document as Record<string, any>;
  const [pageWidth, pageHeight] = filled.width >= filled.height ? [A4[1], A4[0]] : A4;
  const doc = new PDFDocument({
    size: [pageWidth, pageHeight],
    margin: 0,
    pdfVersion: "1.7",
    subset: "PDF/A-3b",
    font: null as unknown as string,
    info: { Title: String(vc.name ?? "Credential"), Author: String(vc.issuer?.name ?? "Laurel"), Subject: "Open Badges 3.0 credential", Creator: "Laurel" },
  });
  const chunks: Buffer[] = [];
  doc.on("data", (c: Buffer) => chunks.push(c));
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on("end", () => resolve(Buffer.concat(chunks)));
    doc.on("error", reject);
  });
  const scale = Math.min(pageWidth / filled.width, pageHeight / filled.height);
  const [w, h] = [filled.width * scale, filled.height * scale];
  SVGtoPDF(doc, filled.svg, (pageWidth - w) / 2, (pageHeight - h) / 2, {
    width: w,
    height: h,
    preserveAspectRatio: "xMidYMid meet",
    assumePt: true,
    warningCallback: () => {},
    // Checked already; still, never let pdfkit open a path or address an SVG names.
    imageCallback: embeddedPngOnly,
    documentCallback: () => null,
  });
  attachCredential(doc, vc);
  doc.end();
  return done;
}
