// SVG to PNG through resvg (the Rust renderer, as prebuilt npm binaries): no browser, no system
// libraries, the same pixels on every machine. resvg itself would read any file an <image> names by
// path (checked: href="/tmp/x.png" and "../x.png" were drawn), so we check every reference first.
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
// Images may be embedded, never fetched or read: raster types only, since an embedded SVG is parsed
// in turn (usvg also sniffs text/plain), and raster bytes cannot refer to anything.
const EMBEDDED = /^data:image\/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/=\s]*$/;

/** Every href (any namespace prefix: xlink:, a renamed one, none) is a same-document #fragment or EMBEDDED. */
function checkReferences(element: XmlElement): void {
  for (const attribute of Array.from(element.attributes)) {
    const value = attribute.value.trim();
    if (attribute.localName === "href" && !value.startsWith("#") && !EMBEDDED.test(value)) {
      throw new RasterError(`The SVG refers to ${JSON.stringify(value.slice(0, 60))}: only #fragments and embedded PNG, JPEG, GIF or WebP images are drawn`);
    }
    if (/url\(\s*["']?(?!#)/i.test(value)) throw new RasterError("The SVG has a url() that is not a #fragment");
  }
  if (element.localName === "style" && /@import|url\(\s*["']?(?!#)/i.test(element.textContent ?? "")) {
    throw new RasterError("The SVG's stylesheet imports or refers to something outside it");
  }
  for (let child = element.firstChild; child; child = child.nextSibling) {
    if (child.nodeType === ELEMENT_NODE) checkReferences(child as XmlElement);
  }
}

/**
 * Rasterises an SVG document (UTF-8 text) to a PNG `options.width` pixels wide, the height scaled to
 * keep the SVG's aspect ratio (its viewBox, else width/height). Transparent where the SVG draws
 * nothing. Nothing outside the document is loaded: no files, no URLs, no system fonts (so `<text>`
 * draws nothing: set text as outlines with svgText). The document is parsed and re-serialised before
 * resvg reads it, so resvg renders exactly what was checked.
 * @throws RasterError when the SVG is not well-formed XML, has a DOCTYPE, refers to anything but
 *   #fragments and data: raster images, or `width` is not an integer in 1..4096.
 */
export function svgToPng(svg: string, options: RasterOptions): Buffer {
  if (!Number.isInteger(options.width) || options.width < 1 || options.width > MAX_WIDTH) {
    throw new RasterError(`width must be an integer from 1 to ${MAX_WIDTH} pixels, not ${options.width}`);
  }
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
  checkReferences(doc.documentElement);
  const checked = new XMLSerializer().serializeToString(doc);
  try {
    const rendered = new Resvg(checked, { fitTo: { mode: "width", value: options.width }, font: { loadSystemFonts: false }, logLevel: "off" }).render();
    return rendered.asPng();
  } catch (error) {
    throw new RasterError(`resvg could not draw the SVG: ${(error as Error).message}`);
  }
}
