// SVG to PNG through resvg (the Rust renderer, as prebuilt npm binaries): no browser, no system
// libraries, the same pixels on every machine. resvg itself would read any file an <image> names by
// path (checked: href="/tmp/x.png" and "../x.png" were drawn), so we check every reference first.
import { overBudget, undrawable } from "./svg-budget.js";
import { Resvg } from "@resvg/resvg-js";
import { DOMParser, XMLSerializer, type Document as XmlDocument, type Element as XmlElement } from "@xmldom/xmldom";

/** Why an SVG was not rasterised: not well-formed, or it refers to something outside itself. */
export class RasterError extends Error {
  override name = "RasterError";
}

export interface RasterOptions {
  /** Width of the PNG in pixels (1 to 4096); the height follows the SVG's aspect ratio. */
  width: number;
}

const MAX_WIDTH = 4096;
const ELEMENT_NODE = 1;
// Images may be embedded, never fetched or read: PNG only, since an embedded SVG is parsed in turn
// (usvg also sniffs text/plain) and a JPEG's size would need a parser of its own to bound.
const EMBEDDED = /^data:image\/png;base64,([A-Za-z0-9+/=\s]*)$/;
const MAX_PIXELS = 4096 * 4096;
const MAX_IMAGES = 32;
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * A PNG's width and height in pixels, read from its IHDR chunk (PNG spec §11.2.2), or null when the
 * bytes are not a PNG or it is larger than 4096×4096 (decoded, it would take over 64 MB).
 */
export function pngDimensions(png: Buffer): { width: number; height: number } | null {
  if (png.length < 24 || !png.subarray(0, 8).equals(PNG_SIGNATURE) || png.toString("latin1", 12, 16) !== "IHDR") return null;
  const width = png.readUInt32BE(16);
  const height = png.readUInt32BE(20);
  return width > 0 && height > 0 && width <= 4096 && height <= 4096 ? { width, height } : null;
}

/** The bytes of an href that embeds a PNG (`data:image/png;base64,…`), else null; not yet checked as a PNG. */
export function embeddedPng(href: string): Buffer | null {
  const embedded = EMBEDDED.exec(href.trim());
  return embedded ? Buffer.from(embedded[1]!, "base64") : null;
}

/** Every href (any namespace prefix: xlink:, a renamed one, none) is a same-document #fragment or EMBEDDED. */
function checkReferences(element: XmlElement, images: { count: number; pixels?: number } = { count: 0 }): void {
  for (const attribute of Array.from(element.attributes)) {
    const value = attribute.value.trim();
    if (attribute.localName === "href" && !value.startsWith("#")) {
      const embedded = embeddedPng(value);
      if (!embedded) throw new RasterError(`The SVG refers to ${JSON.stringify(value.slice(0, 60))}: only #fragments and embedded PNG images are drawn`);
      const size = pngDimensions(embedded);
      if (!size) throw new RasterError("The SVG embeds an image that is not a PNG of at most 4096×4096 pixels");
      if (++images.count > MAX_IMAGES) throw new RasterError(`The SVG embeds more than ${MAX_IMAGES} images`);
      // Decoded, 32 images of 4096² would take 2 GiB (QA): all of them together at most one such image.
      images.pixels = (images.pixels ?? 0) + size.width * size.height;
      if (images.pixels > MAX_PIXELS) throw new RasterError("The SVG's embedded images have more than 4096×4096 pixels together");
    }
    if (/url\(\s*["']?(?!#)/i.test(value)) throw new RasterError("The SVG has a url() that is not a #fragment");
  }
  if (element.localName === "style" && /@import|url\(\s*["']?(?!#)/i.test(element.textContent ?? "")) {
    throw new RasterError("The SVG's stylesheet imports or refers to something outside it");
  }
  for (let child = element.firstChild; child; child = child.nextSibling) {
    if (child.nodeType === ELEMENT_NODE) checkReferences(child as XmlElement, images);
  }
}

/**
 * Rasterises an SVG document (UTF-8 text) to a PNG `options.width` pixels wide, the height scaled to
 * keep the SVG's aspect ratio (its viewBox, else width/height). Transparent where the SVG draws
 * nothing. Nothing outside the document is loaded: no files, no URLs, no system fonts (so `<text>`
 * draws nothing: set text as outlines with svgText). The document is parsed and re-serialised before
 * resvg reads it, so resvg renders exactly what was checked.
 * @throws RasterError when the SVG is not well-formed XML, has a DOCTYPE, refers to anything but
 *   #fragments and embedded PNGs (each at most 4096×4096, at most 32), `width` is not an integer in
 *   1..4096, or the PNG would have more than 4096×4096 pixels.
 */
export function svgToPng(svg: string, options: RasterOptions): Buffer {
  if (!Number.isInteger(options.width) || options.width < 1 || options.width > MAX_WIDTH) {
    throw new RasterError(`width must be an integer from 1 to ${MAX_WIDTH} pixels, not ${options.width}`);
  }
  const checked = new XMLSerializer().serializeToString(checkedSvg(svg));
  let resvg: Resvg;
  try {
    resvg = new Resvg(checked, { fitTo: { mode: "width", value: options.width }, font: { loadSystemFonts: false }, logLevel: "off" });
  } catch (error) {
    throw new RasterError(`resvg could not read the SVG: ${(error as Error).message}`);
  }
  // A very tall SVG fitted to the width would be a very tall PNG: bound the pixels before drawing.
  const height = Math.ceil((options.width * resvg.height) / resvg.width);
  if (!(height >= 1 && options.width * height <= MAX_PIXELS)) throw new RasterError(`The SVG's aspect ratio makes a ${options.width}×${height} PNG: too large`);
  return resvg.render().asPng();
}

/**
 * Parses an SVG document and checks it by svgToPng's rules (well-formed, no DOCTYPE, root <svg>, only
 * #fragment and embedded-PNG references); returns the parsed document, for callers that embed it in
 * an SVG of their own (a certificate's uploaded logo).
 * @throws RasterError as svgToPng does.
 */
export function checkedSvg(svg: string): XmlDocument {
  let failure: string | null = null;
  let doc: XmlDocument | null = null;
  try {
    doc = new DOMParser({
      onError: (level, message) => {
        if (level !== "warning") failure ??= message.split("\n")[0]!;
      },
    }).parseFromString(svg.replace(/^\uFEFF/, ""), "application/xml");
  } catch (error) {
    failure ??= (error as Error).message.split("\n")[0]!;
  }
  if (failure || !doc?.documentElement) throw new RasterError(`The SVG is not well-formed XML: ${failure ?? "no root element"}`);
  if (doc.doctype) throw new RasterError("The SVG has a DOCTYPE, which we refuse: export it without one");
  if (doc.documentElement.localName !== "svg") throw new RasterError("The document's root element is not <svg>");
  const tooMuch = overBudget(doc.documentElement);
  if (tooMuch) throw new RasterError(tooMuch);
  checkReferences(doc.documentElement);
  return doc;
}

/**
 * checkedSvg for an SVG someone gave us (an upload, a tenant's design): also refused when we do not
 * draw it (svg-budget.ts undrawable: filters, masks, patterns, markers, clip paths, style sheets,
 * loose hrefs, too many stops or elements). Our own SVGs (badges, certificates) use clip paths.
 * @throws RasterError saying why, fit to show the uploader.
 */
export function checkedUserSvg(svg: string): XmlDocument {
  const doc = checkedSvg(svg);
  const problem = undrawable(doc.documentElement!);
  if (problem) throw new RasterError(problem);
  return doc;
}

/** svgToPng for an SVG someone gave us: checkedUserSvg first. @throws RasterError */
export function userSvgToPng(svg: string, options: RasterOptions): Buffer {
  checkedUserSvg(svg);
  return svgToPng(svg, options);
}
