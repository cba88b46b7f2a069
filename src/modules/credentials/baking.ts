// Baked badges: the signed credential embedded in its image, so the image alone can be verified.
// PNG: an iTXt chunk with keyword "openbadgecredential" before IEND (OB 3.0 §baking). SVG: an
// <openbadges:credential> element holding the JSON in CDATA, in the OB 3.0 namespace.
import { crc32, deflateSync } from "node:zlib";
import { escapeHtml } from "../../public/html.js";

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const KEYWORD = "openbadgecredential";
const OB_NS = "https://purl.imsglobal.org/ob/v3p0";

function chunk(type: string, data: Buffer): Buffer {
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
      parts.push(chunk("iTXt", text));
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

export function bakeSvg(svg: string, credentialJson: string): string {
  const open = /<svg\b[^>]*>/i.exec(svg);
  if (!open) throw new Error("not an SVG");
  let tag = open[0];
  if (!/xmlns:openbadges=/.test(tag)) tag = tag.replace(/<svg\b/i, `<svg xmlns:openbadges="${OB_NS}"`);
  const cdata = credentialJson.replace(/]]>/g, "]]]]><![CDATA[>");
  const element = `<openbadges:credential><![CDATA[${cdata}]]></openbadges:credential>`;
  const withoutOld = svg.replace(/<openbadges:credential>[\s\S]*?<\/openbadges:credential>/g, "");
  const at = withoutOld.indexOf(open[0]);
  return withoutOld.slice(0, at) + tag + element + withoutOld.slice(at + open[0].length);
}

export function unbakeSvg(svg: string): string | null {
  const m = /<openbadges:credential[^>]*>\s*<!\[CDATA\[([\s\S]*?)\]\]>\s*<\/openbadges:credential>/.exec(svg);
  return m ? m[1]!.replace(/]]]]><!\[CDATA\[>/g, "]]>") : null;
}

/** A plain 256×256 PNG in the issuer's colour, for templates without an image of their own. */
export function defaultBadgePng(seed: string): Buffer {
  const size = 256;
  const hue = [...seed].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % 360, 7);
  const [r, g, b] = hslToRgb(hue / 360, 0.55, 0.45);
  const row = Buffer.alloc(1 + size * 3);
  for (let x = 0; x < size; x++) row.set([r, g, b], 1 + x * 3);
  const raw = Buffer.alloc(row.length * size);
  for (let y = 0; y < size; y++) {
    const cx = 128, cy = 128, rr = 120;
    const line = Buffer.from(row);
    for (let x = 0; x < size; x++) if ((x - cx) ** 2 + (y - cy) ** 2 > rr * rr) line.set([255, 255, 255], 1 + x * 3);
    line.copy(raw, y * row.length);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([PNG_SIGNATURE, chunk("IHDR", ihdr), chunk("IDAT", deflateSync(raw)), chunk("IEND", Buffer.alloc(0))]);
}

export function defaultBadgeSvg(name: string, issuer: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="256" height="256" viewBox="0 0 256 256"><circle cx="128" cy="128" r="120" fill="#1d4ed8"/><text x="128" y="124" fill="#fff" font-family="sans-serif" font-size="18" text-anchor="middle">${escapeHtml(name.slice(0, 28))}</text><text x="128" y="150" fill="#dbeafe" font-family="sans-serif" font-size="12" text-anchor="middle">${escapeHtml(issuer.slice(0, 36))}</text></svg>`;
}

function hslToRgb(h: number, s: number, l: number): [number, number, number] {
  const f = (n: number) => {
    const k = (n + h * 12) % 12;
    const a = s * Math.min(l, 1 - l);
    return Math.round(255 * (l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1))));
  };
  return [f(0), f(8), f(4)];
}
