// Baked badges: the signed credential embedded in its image, so the image alone can be verified.
// PNG: an iTXt chunk with keyword "openbadgecredential" before IEND (OB 3.0 §5.3.1). SVG: an
// <openbadges:credential> element holding the JSON in CDATA, in the OB 3.0 namespace (§5.3.2), written
// and read through a real XML parser so that comments, CDATA and DOCTYPEs cannot fool it.
import { crc32 } from "node:zlib";
import { DOMParser, XMLSerializer, type Document as XmlDocument, type Element as XmlElement } from "@xmldom/xmldom";
import { overBudget } from "../../lib/svg-budget.js";

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const KEYWORD = "openbadgecredential";
const OB_NS = "https://purl.imsglobal.org/ob/v3p0";

/** One PNG chunk: length, type, data and the CRC-32 of type and data (PNG §5.3). */
export function pngChunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, "latin1");
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

function* chunks(png: Buffer): Generator<{ type: string; data: Buffer; start: number; end: number }> {
  if (!png.subarray(0, 8).equals(PNG_SIGNATURE)) throw new Error("not a PNG");
  let offset = 8;
  while (offset + 12 <= png.length) {
    const length = png.readUInt32BE(offset);
    const type = png.toString("latin1", offset + 4, offset + 8);
    const end = offset + 12 + length;
    if (end > png.length) throw new Error("truncated PNG");
    yield { type, data: png.subarray(offset + 8, offset + 8 + length), start: offset, end };
    offset = end;
  }
}

export function bakePng(png: Buffer, credentialJson: string): Buffer {
  const parts: Buffer[] = [PNG_SIGNATURE];
  const text = Buffer.concat([Buffer.from(`${KEYWORD}\0\0\0\0\0`, "latin1"), Buffer.from(credentialJson, "utf8")]);
  let baked = false;
  for (const c of chunks(png)) {
    if (c.type === "iTXt" && c.data.subarray(0, KEYWORD.length + 1).toString("latin1") === `${KEYWORD}\0`) continue; // replace an old one
    if (c.type === "IEND") {
      parts.push(pngChunk("iTXt", text));
      baked = true;
    }
    parts.push(png.subarray(c.start, c.end));
  }
  if (!baked) throw new Error("PNG has no IEND chunk");
  return Buffer.concat(parts);
}

export function unbakePng(png: Buffer): string | null {
  for (const c of chunks(png)) {
    if (c.type !== "iTXt") continue;
    const nul = c.data.indexOf(0);
    if (c.data.subarray(0, nul).toString("latin1") !== KEYWORD) continue;
    const compressed = c.data[nul + 1] === 1;
    let rest = c.data.subarray(nul + 3);
    rest = rest.subarray(rest.indexOf(0) + 1); // language tag
    rest = rest.subarray(rest.indexOf(0) + 1); // translated keyword
    if (compressed) throw new Error("compressed iTXt credentials are not supported");
    return rest.toString("utf8");
  }
  return null;
}

/** Why an SVG cannot be baked or read: not well-formed, not an SVG, or carrying a DOCTYPE we refuse. */
export class SvgError extends Error {
  override name = "SvgError";
}

const XMLNS_NS = "http://www.w3.org/2000/xmlns/";
const SVG_NS = "http://www.w3.org/2000/svg";
const OB_PREFIX = "openbadges";
const TEXT_NODE = 3;
const CDATA_SECTION_NODE = 4;

/**
 * Parses an SVG as XML (namespace-aware; xmldom expands no entities and fetches nothing). Refuses what
 * is not well-formed, a root that is not <svg>, an encoding other than UTF-8, and any DOCTYPE that
 * declares or references entities or names a DTD other than the W3C's SVG ones (XXE, entity bombs), and
 * one that draws more than SVG_ELEMENT_BUDGET elements once its <use> references are expanded.
 * @throws SvgError with a message fit to show the uploader.
 */
export function parseSvg(svg: string): XmlDocument {
  const text = svg.replace(/^\uFEFF/, "");
  const errors: string[] = [];
  let doc: XmlDocument;
  try {
    doc = new DOMParser({
      onError: (level, message) => {
        if (level === "warning") return;
        errors.push(message.split("\n")[0]!);
        if (level === "fatalError") throw new SvgError(message);
      },
    }).parseFromString(text, "application/xml");
  } catch {
    throw new SvgError(`The SVG is not well-formed XML: ${errors[0] ?? "unreadable"}`);
  }
  const doctype = doc.doctype;
  if (doctype) {
    const internal = doctype.internalSubset ?? "";
    if (/<!ENTITY/i.test(internal) || /%[^\s%;]+;/.test(internal)) {
      throw new SvgError("The SVG's DOCTYPE declares entities, which we refuse (they can read files or expand without bound): export it without a DOCTYPE");
    }
    const systemId = (doctype.systemId ?? "").replace(/^["']|["']$/g, "");
    if (systemId && !/^https?:\/\/www\.w3\.org\/Graphics\/SVG\//.test(systemId)) {
      throw new SvgError("The SVG's DOCTYPE names an external DTD other than the W3C's SVG DTD: export it without a DOCTYPE");
    }
  }
  if (errors.length) throw new SvgError(`The SVG is not well-formed XML: ${errors[0]}`);
  const declaration = doc.firstChild?.nodeType === 7 && doc.firstChild.nodeName === "xml" ? (doc.firstChild as unknown as { data: string }).data : "";
  const encoding = /encoding\s*=\s*["']([^"']+)["']/.exec(declaration)?.[1];
  if (encoding && !/^(utf-?8|us-ascii)$/i.test(encoding)) throw new SvgError(`The SVG declares the encoding ${encoding}: save it as UTF-8`);
  const root = doc.documentElement;
  if (!root || root.localName !== "svg" || (root.namespaceURI !== SVG_NS && root.namespaceURI !== null)) {
    throw new SvgError("The file is XML but its root element is not <svg>");
  }
  const tooMuch = overBudget(root);
  if (tooMuch) throw new SvgError(tooMuch);
  return doc;
}

/** OB 3.0's credential elements anywhere in the document, in document order (§5.3.2 Baked Badge, SVG). */
function credentialElements(doc: XmlDocument): XmlElement[] {
  const byNamespace = Array.from(doc.getElementsByTagNameNS(OB_NS, "credential"));
  // Some bakers bind the prefix to a misspelt namespace: the spec names the tag, so read those too.
  return byNamespace.length ? byNamespace : Array.from(doc.getElementsByTagName(`${OB_PREFIX}:credential`));
}

/**
 * Bakes an OB 3.0 credential (embedded proof, so JSON) into an SVG, per OB 3.0 §5.3.2 (Baked Badge,
 * SVG): an <openbadges:credential> element in the https://purl.imsglobal.org/ob/v3p0 namespace,
 * first child of the root <svg>, the JSON in CDATA (split where it contains "]]>"). Any credential
 * element already there is replaced, never duplicated. Returns the serialised SVG (UTF-8 text).
 * @throws SvgError when the SVG is refused by parseSvg.
 */
export function bakeSvg(svg: string, credentialJson: string): string {
  const doc = parseSvg(svg);
  for (const old of credentialElements(doc)) old.parentNode?.removeChild(old);
  const root = doc.documentElement!;
  const element = doc.createElementNS(OB_NS, `${OB_PREFIX}:credential`);
  const bound = root.lookupNamespaceURI(OB_PREFIX);
  if (bound === null) root.setAttributeNS(XMLNS_NS, `xmlns:${OB_PREFIX}`, OB_NS);
  else if (bound !== OB_NS) element.setAttributeNS(XMLNS_NS, `xmlns:${OB_PREFIX}`, OB_NS); // the root uses the prefix for something else
  // A CDATA section cannot hold "]]>": end one section after "]]" and start the next with ">".
  for (const piece of credentialJson.split("]]>").map((p, i, all) => (i > 0 ? ">" : "") + p + (i < all.length - 1 ? "]]" : ""))) {
    element.appendChild(doc.createCDATASection(piece));
  }
  root.insertBefore(element, root.firstChild);
  return new XMLSerializer().serializeToString(doc);
}

/**
 * The credential baked into an SVG (OB 3.0 §5.3.2, Extracting): the first <openbadges:credential>'s
 * `verify` attribute (VC-JWT) or its text and CDATA content, trimmed; null when there is none.
 * @throws SvgError when the SVG is refused by parseSvg.
 */
export function unbakeSvg(svg: string): string | null {
  const [element] = credentialElements(parseSvg(svg));
  if (!element) return null;
  const verify = element.getAttribute("verify");
  if (verify) return verify;
  let text = "";
  for (let node = element.firstChild; node; node = node.nextSibling) {
    if (node.nodeType === TEXT_NODE || node.nodeType === CDATA_SECTION_NODE) text += (node as unknown as { data: string }).data;
  }
  return text.trim() || null;
}
