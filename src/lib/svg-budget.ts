// How much an SVG draws once its <use> references are expanded. A 1.6 KB file of six nested groups,
// each using the one before ten times, draws a million shapes: svg-to-pdfkit expanded it until the
// process ran out of memory (QA, issue 12). Every SVG a user gives us is measured before anything
// parses it further or draws it.
import type { Element as XmlElement } from "@xmldom/xmldom";

/** At most this many elements once every <use> is expanded (a detailed logo draws a few thousand). */
export const SVG_ELEMENT_BUDGET = 20_000;

const XLINK_NS = "http://www.w3.org/1999/xlink";

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
      const href = el.getAttributeNS(XLINK_NS, "href") ?? el.getAttribute("href") ?? el.getAttribute("xlink:href") ?? "";
      const target = href.startsWith("#") ? byId.get(href.slice(1)) : undefined;
      if (target) total += size(target);
    }
    for (let c = el.firstChild; c && total <= budget; c = c.nextSibling) if (c.nodeType === 1) total += size(c as XmlElement);
    visiting.delete(el);
    sizes.set(el, total);
    return total;
  };
  return size(root);
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
