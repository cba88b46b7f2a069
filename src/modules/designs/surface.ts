// The drawing surface certificate layouts draw on, with two backends: a pdfkit document (the PDF) and
// SvgSurface, a recorder of exactly the subset of pdfkit's API the layouts and parts use, which writes
// SVG (rasterised to PNG by lib/raster.ts). One copy of the layouts draws both, so they cannot drift.
import { XMLSerializer } from "@xmldom/xmldom";
import type { TextBlock } from "../../lib/text-layout/layout.js";
import { drawText as drawPdfText, type Box } from "../../lib/text-layout/pdf.js";
import { svgText } from "../../lib/text-layout/svg.js";
import { checkedSvg, checkedUserSvg, pngDimensions } from "../../lib/raster.js";

/**
 * The part of pdfkit's PDFDocument the layouts use; pdfkit documents satisfy it as they are. Units are
 * points, origin top left, y downwards. Path calls add to the current path; fill/stroke/clip use it up.
 */
export interface Surface {
  page: { width: number; height: number };
  save(): this;
  restore(): this;
  rect(x: number, y: number, w: number, h: number): this;
  roundedRect(x: number, y: number, w: number, h: number, r?: number): this;
  polygon(...points: number[][]): this;
  moveTo(x: number, y: number): this;
  lineTo(x: number, y: number): this;
  lineWidth(w: number): this;
  fill(color?: string): this;
  stroke(color?: string): this;
  clip(): this;
  fillColor(color: string, opacity?: number): this;
  rotate(angle: number, options?: { origin?: number[] }): this;
}

/** The pdfkit document behind a surface, or null when it is an SvgSurface. */
export const pdfOf = (surface: Surface): PDFKit.PDFDocument | null => (surface instanceof SvgSurface ? null : (surface as unknown as PDFKit.PDFDocument));

/** Draws `block` with its first line's top at box.y on either backend (pdf.ts or svg.ts); returns the y below it. */
export function drawText(surface: Surface, block: TextBlock, box: Box): number {
  if (surface instanceof SvgSurface) return surface.text(block, box);
  return drawPdfText(surface as unknown as PDFKit.PDFDocument, block, box);
}

type XmlElement = ReturnType<typeof checkedSvg>["documentElement"] & {};

/**
 * Renames every id in an embedded SVG to `prefix` + id, and every reference to it (url(#id) in any
 * attribute or <style>, href="#id"), so two images that both define "a" do not draw each other's.
 */
function prefixIds(root: XmlElement, prefix: string): void {
  const elements: XmlElement[] = [];
  const walk = (e: XmlElement) => {
    elements.push(e);
    for (let c = e.firstChild; c; c = c.nextSibling) if (c.nodeType === 1) walk(c as XmlElement);
  };
  walk(root);
  const ids = new Set(elements.map((e) => e.getAttribute("id")).filter((id): id is string => !!id));
  if (!ids.size) return;
  const rename = (text: string) => text.replace(/url\(\s*(["']?)#([^)"'\s]+)\1\s*\)/g, (m, q: string, id: string) => (ids.has(id) ? `url(${q}#${prefix}${id}${q})` : m));
  for (const e of elements) {
    for (const attribute of Array.from(e.attributes)) {
      let value = attribute.value;
      if (attribute.localName === "id") value = prefix + value;
      else if (attribute.localName === "href" && value.startsWith("#") && ids.has(value.slice(1))) value = `#${prefix}${value.slice(1)}`;
      else value = rename(value);
      if (value !== attribute.value) e.setAttributeNS(attribute.namespaceURI, attribute.name, value);
    }
    if (e.localName === "style" && e.textContent) e.textContent = rename(e.textContent).replace(/#([A-Za-z_][\w-]*)/g, (m, id: string) => (ids.has(id) ? `#${prefix}${id}` : m));
  }
}

interface State {
  fill: string;
  fillOpacity: number;
  stroke: string;
  lineWidth: number;
  /** `<g>` elements opened since the matching save() (clips and transforms), closed by restore(). */
  open: number;
}

/** Two decimals of a point: far below a pixel at any width we rasterise. */
const n = (v: number) => String(Math.round(v * 100) / 100);
const COLOUR = /^#[0-9a-f]{3,8}$/i;
const colour = (c: string) => {
  if (!COLOUR.test(c)) throw new RangeError(`not a #hex colour: ${JSON.stringify(c)}`);
  return c;
};

/**
 * Records pdfkit-style drawing calls as an SVG document `page.width` × `page.height` user units (points).
 * Colours must be #hex (the designs' colours are checked as such when saved). Text is drawn as glyph
 * outlines (svg.ts), so the SVG needs no fonts.
 */
export class SvgSurface implements Surface {
  readonly page: { width: number; height: number };
  private readonly out: string[] = [];
  private readonly defs: string[] = [];
  private path: string[] = [];
  private state: State = { fill: "#000000", fillOpacity: 1, stroke: "#000000", lineWidth: 1, open: 0 };
  private readonly stack: State[] = [];
  private ids = 0;

  constructor(width: number, height: number) {
    this.page = { width, height };
  }

  save(): this {
    this.stack.push(this.state);
    this.state = { ...this.state, open: 0 };
    return this;
  }

  restore(): this {
    this.out.push("</g>".repeat(this.state.open));
    this.state = this.stack.pop() ?? { ...this.state, open: 0 };
    return this;
  }

  rect(x: number, y: number, w: number, h: number): this {
    this.path.push(`M${n(x)} ${n(y)}h${n(w)}v${n(h)}h${n(-w)}Z`);
    return this;
  }

  roundedRect(x: number, y: number, w: number, h: number, r = 0): this {
    r = Math.max(0, Math.min(r, w / 2, h / 2));
    const a = (dx: number, dy: number) => `a${n(r)} ${n(r)} 0 0 1 ${n(dx)} ${n(dy)}`;
    this.path.push(`M${n(x + r)} ${n(y)}h${n(w - 2 * r)}${a(r, r)}v${n(h - 2 * r)}${a(-r, r)}h${n(2 * r - w)}${a(-r, -r)}v${n(2 * r - h)}${a(r, -r)}Z`);
    return this;
  }

  polygon(...points: number[][]): this {
    if (points.length) this.path.push(`M${points.map(([x, y]) => `${n(x!)} ${n(y!)}`).join("L")}Z`);
    return this;
  }

  moveTo(x: number, y: number): this {
    this.path.push(`M${n(x)} ${n(y)}`);
    return this;
  }

  lineTo(x: number, y: number): this {
    this.path.push(`L${n(x)} ${n(y)}`);
    return this;
  }

  lineWidth(w: number): this {
    this.state.lineWidth = w;
    return this;
  }

  fillColor(color: string, opacity = 1): this {
    this.state.fill = colour(color);
    this.state.fillOpacity = opacity;
    return this;
  }

  fill(color?: string): this {
    if (color) this.state.fill = colour(color);
    const opacity = this.state.fillOpacity < 1 ? ` fill-opacity="${n(this.state.fillOpacity)}"` : "";
    if (this.path.length) this.out.push(`<path d="${this.path.join("")}" fill="${this.state.fill}"${opacity}/>`);
    this.path = [];
    return this;
  }

  stroke(color?: string): this {
    if (color) this.state.stroke = colour(color);
    if (this.path.length) this.out.push(`<path d="${this.path.join("")}" fill="none" stroke="${this.state.stroke}" stroke-width="${n(this.state.lineWidth)}"/>`);
    this.path = [];
    return this;
  }

  /** Clips everything drawn until the matching restore() to the current path (nonzero rule, as pdfkit's clip()). */
  clip(): this {
    const id = `clip${++this.ids}`;
    this.defs.push(`<clipPath id="${id}"><path d="${this.path.join("")}"/></clipPath>`);
    this.path = [];
    return this.group(`clip-path="url(#${id})"`);
  }

  /** Rotates by `angle` degrees clockwise on the page (pdfkit's sense, y downwards) about `origin`. */
  rotate(angle: number, options: { origin?: number[] } = {}): this {
    const [x = 0, y = 0] = options.origin ?? [];
    return this.group(`transform="rotate(${n(angle)} ${n(x)} ${n(y)})"`);
  }

  /** drawText's SVG backend: the block as outlines in the current fill colour and opacity. */
  text(block: TextBlock, box: Box): number {
    if (box.color) this.fillColor(box.color, this.state.fillOpacity);
    const g = svgText(block, { x: box.x, y: box.y, width: box.width, align: box.align }, { fill: this.state.fill });
    this.out.push(this.state.fillOpacity < 1 ? `<g opacity="${n(this.state.fillOpacity)}">${g}</g>` : g);
    return block.lines.reduce((y, l) => y + (l.ascent + l.descent) * block.size * block.lineHeight, box.y);
  }

  /**
   * Draws an image in a box as pdfkit's image(fit|cover) would: `preserveAspectRatio` as in SVG
   * ("xMidYMid meet", "xMinYMid meet", "xMidYMid slice"). PNG is embedded as a data: URL; an SVG is
   * nested as an <svg> element after lib/raster.ts's checks. Anything raster.ts refuses (a JPEG, an
   * SVG that refers outside itself) is left out, and the answer is false.
   */
  image(bytes: Buffer, contentType: string, x: number, y: number, width: number, height: number, preserveAspectRatio: string): boolean {
    const box = `x="${n(x)}" y="${n(y)}" width="${n(width)}" height="${n(height)}" preserveAspectRatio="${preserveAspectRatio}"`;
    if (pngDimensions(bytes)) {
      this.out.push(`<image ${box} href="data:image/png;base64,${bytes.toString("base64")}"/>`);
      return true;
    }
    if (contentType !== "image/svg+xml") return false; // JPEG: raster.ts embeds PNG only
    let root;
    try {
      root = checkedUserSvg(bytes.toString("utf8")).documentElement!;
    } catch {
      return false; // refused by raster.ts's rules: the certificate is drawn without it
    }
    // Scale the nested SVG into the box: it needs a viewBox, which its own width/height give when absent.
    if (!root.getAttribute("viewBox")) {
      const w = parseFloat(root.getAttribute("width") ?? "");
      const h = parseFloat(root.getAttribute("height") ?? "");
      if (!(w > 0 && h > 0)) return false;
      root.setAttribute("viewBox", `0 0 ${w} ${h}`);
    }
    prefixIds(root, `img${++this.ids}-`);
    for (const [k, v] of [["x", x], ["y", y], ["width", width], ["height", height]] as const) root.setAttribute(k, n(v));
    root.setAttribute("preserveAspectRatio", preserveAspectRatio);
    this.out.push(new XMLSerializer().serializeToString(root));
    return true;
  }

  /** The recorded page as a standalone SVG document. */
  toSvg(): string {
    const { width, height } = this.page;
    return `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="${n(width)}" height="${n(height)}" viewBox="0 0 ${n(width)} ${n(height)}">` +
      `<defs>${this.defs.join("")}</defs><rect width="100%" height="100%" fill="#ffffff"/>${this.out.join("")}${"</g>".repeat(this.state.open)}</svg>`;
  }

  private group(attributes: string): this {
    this.out.push(`<g ${attributes}>`);
    this.state.open++;
    return this;
  }
}
