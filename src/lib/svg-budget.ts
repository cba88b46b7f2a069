// How much an SVG draws once its <use> references are expanded. A 1.6 KB file of six nested groups,
// each using the one before ten times, draws a million shapes: svg-to-pdfkit expanded it until the
// process ran out of memory (QA, issue 12). Every SVG a user gives us is measured before anything
// parses it further or draws it.
import type { Element as XmlElement } from "@xmldom/xmldom";

/** At most this many elements once every <use> is expanded (a detailed logo draws a few thousand). */
export const SVG_ELEMENT_BUDGET = 20_000;


/**
 * The number of elements an SVG draws with every <use> replaced by what it references (recursively),
 * counting the document's own elements once each. Infinity for a reference cycle. Stops counting
 * past `budget` (the answer is then some number above it). Linear in the document's size: each
 * referenced element's expanded size is computed once.
 */
export function expandedElementCount(root: XmlElement, budget = SVG_ELEMENT_BUDGET): number {
  const byId = new Map<string, XmlElement>();
  const all: XmlElement[] = [];
  const walk = (el: XmlElement) => {
    all.push(el);
    const id = el.getAttribute("id");
    if (id && !byId.has(id)) byId.set(id, el);
    for (let c = el.firstChild; c; c = c.nextSibling) if (c.nodeType === 1) walk(c as XmlElement);
  };
  walk(root);
  const sizes = new Map<XmlElement, number>();
  const visiting = new Set<XmlElement>();
  // The elements `el` draws, itself included, with its <use> references expanded.
  const size = (el: XmlElement): number => {
    const known = sizes.get(el);
    if (known !== undefined) return known;
    if (visiting.has(el)) return Infinity;
    visiting.add(el);
    let total = 1;
    if (el.localName === "use") {
      // Every spelling a renderer might follow, trimmed as they trim it (QA: " #a6" slipped past an
      // exact match and svg-to-pdfkit followed it; a second href beside xlink:href likewise).
      for (const href of hrefsOf(el)) {
        const target = href.trim().startsWith("#") ? byId.get(href.trim().slice(1)) : undefined;
        if (target) total += size(target);
      }
    }
    for (let c = el.firstChild; c && total <= budget; c = c.nextSibling) if (c.nodeType === 1) total += size(c as XmlElement);
    visiting.delete(el);
    sizes.set(el, total);
    return total;
  };
  return size(root);
}

/** The values of every href-like attribute of an element: href, xlink:href, any prefix bound to XLink. */
function hrefsOf(el: XmlElement): string[] {
  const values: string[] = [];
  for (let i = 0; i < el.attributes.length; i++) {
    const attribute = el.attributes.item(i)!;
    if (attribute.localName === "href" || attribute.name === "href" || attribute.name.endsWith(":href")) values.push(attribute.value);
  }
  return values;
}

/**
 * Why an SVG is refused for drawing too much, or null when it is within SVG_ELEMENT_BUDGET: a message
 * fit to show the person who uploaded it.
 */
export function overBudget(root: XmlElement): string | null {
  const count = expandedElementCount(root);
  if (count === Infinity) return "The SVG's <use> elements refer to each other in a cycle: it would never finish drawing";
  if (count > SVG_ELEMENT_BUDGET) {
    return `The SVG draws more than ${SVG_ELEMENT_BUDGET.toLocaleString("en")} elements once its <use> references are expanded: simplify or flatten it`;
  }
  return null;
}

// What we draw of an SVG ourselves (certificates, badges, previews): plain shapes, gradients, text,
// references and embedded PNGs. Filters, masks, patterns, markers and clip paths are refused: a few
// hundred bytes of them cost a renderer minutes or gigabytes (QA: feTurbulence numOctaves 1e8, nested
// masks and patterns, markers on 100k vertices) and neither renderer bounds them.
const DRAWN = new Set(["svg", "g", "defs", "symbol", "use", "path", "rect", "circle", "ellipse", "line", "polyline", "polygon", "linearGradient", "radialGradient", "stop", "title", "desc", "metadata", "text", "tspan", "image", "switch", "a"]);
const EFFECT_ATTRIBUTES = /^(filter|mask|clip-path|marker|marker-start|marker-mid|marker-end)$/;
const EFFECT_IN_STYLE = /(^|;)\s*(filter|mask|clip-path|marker(-start|-mid|-end)?)\s*:\s*(?!none\b)/i;
const SVG_NS = "http://www.w3.org/2000/svg";
/** Gradient stops in one SVG, all gradients together. */
export const MAX_GRADIENT_STOPS = 1_000;

/**
 * Why we will not draw an SVG, or null: an element outside what we draw (filters, masks, patterns,
 * markers, clip paths, <style>, foreignObject...), an effect named in an attribute or a style, an href
 * that is not exactly `#id` (no spaces) or several hrefs on one element, more than MAX_GRADIENT_STOPS
 * gradient stops, or more than SVG_ELEMENT_BUDGET elements once <use> is expanded. Elements of other
 * namespaces (an editor's metadata) are skipped whole: renderers ignore them. Embedded images are
 * checked where they are decoded (raster.ts, parts.ts).
 */
export function undrawable(root: XmlElement): string | null {
  let stops = 0;
  let problem: string | null = null;
  const visit = (el: XmlElement) => {
    if (problem) return;
    if (el.namespaceURI && el.namespaceURI !== SVG_NS) return;
    if (!DRAWN.has(el.localName ?? "")) {
      problem = `The SVG uses <${el.localName}>, which we do not draw: filters, masks, patterns, markers, clip paths and style sheets can make one image cost minutes. Export it without them (flatten effects)`;
      return;
    }
    if (el.localName === "stop" && ++stops > MAX_GRADIENT_STOPS) {
      problem = `The SVG's gradients have more than ${MAX_GRADIENT_STOPS} stops`;
      return;
    }
    const hrefs = hrefsOf(el);
    if (hrefs.length > 1) {
      problem = `An <${el.localName}> of the SVG has ${hrefs.length} href attributes: keep one`;
      return;
    }
    if (hrefs.length === 1 && el.localName !== "image" && el.localName !== "a" && !/^#[^\s#]+$/.test(hrefs[0]!)) {
      problem = `An <${el.localName}> of the SVG refers to "${hrefs[0]!.slice(0, 40)}": only #id references within the file are drawn`;
      return;
    }
    for (let i = 0; i < el.attributes.length; i++) {
      const attribute = el.attributes.item(i)!;
      const name = attribute.localName ?? attribute.name;
      if ((EFFECT_ATTRIBUTES.test(name) && attribute.value.trim() !== "none") || (name === "style" && EFFECT_IN_STYLE.test(attribute.value))) {
        problem = `The SVG applies ${name === "style" ? "an effect in a style" : name}, which we do not draw: export it without effects`;
        return;
      }
    }
    for (let c = el.firstChild; c; c = c.nextSibling) if (c.nodeType === 1) visit(c as XmlElement);
  };
  visit(root);
  return problem ?? overBudget(root);
}
