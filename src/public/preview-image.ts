// The share preview of a credential (Open Graph / Twitter card image): 1200×630 pixels, the badge on
// the left, the achievement, its holder and its issuer on the right. Composed as SVG with the text as
// glyph outlines (lib/text-layout/svg.ts: any script, shaped, no system fonts) and rasterised by resvg.
import { BoundedMemo } from "../lib/memo.js";
import { createHash } from "node:crypto";
import { layoutText, type TextBlock } from "../lib/text-layout/layout.js";
import { svgText } from "../lib/text-layout/svg.js";
import { svgToPng } from "../lib/raster.js";

/** The size social networks ask for (Facebook, LinkedIn, X summary_large_image): 1.91:1. */
export const PREVIEW_WIDTH = 1200;
export const PREVIEW_HEIGHT = 630;

export interface PreviewFacts {
  /** The achievement's (or credential's) name. */
  title: string;
  /** The holder's name as the signed credential states it, or null to leave it out. */
  recipientName: string | null;
  issuerName: string;
  /** Shown under the issuer when the credential is not valid today ("Revoked", "Expired", ...). */
  statusText: string | null;
  /** BCP 47 locale for ideographs in names (CJK face choice); default en. */
  locale?: string;
}

const INK = "#1d1d1b";
const MUTED = "#555555";
const ACCENT = "#1d4ed8";
const BAD = "#9b1c1c";
const BADGE = { x: 70, y: 115, size: 400 };
const TEXT = { x: 530, width: 600 };

/**
 * Renders the share preview: `badgePng` (a PNG, drawn inside a 400×400 square, aspect kept) beside the
 * title (bold, up to 3 lines, shrunk then cut with "…"), "Awarded to <name>", the issuer and, when
 * given, the status. Text lines are centred vertically as a block. Returns a PNG of exactly
 * PREVIEW_WIDTH × PREVIEW_HEIGHT pixels (the SVG's user units are pixels). The last 200 distinct
 * previews (by facts and badge bytes) are kept in memory.
 * @throws RasterError (lib/raster.ts) when the badge is not embeddable (never for a PNG).
 */
export function previewPng(facts: PreviewFacts, badgePng: Buffer): Buffer {
  // A render costs ~0.1-0.7 s of CPU, and a shared link is fetched by every network's scraper at once.
  const key = createHash("sha256").update(JSON.stringify(facts)).update(badgePng).digest("base64");
  return rendered.get(key, () => render(facts, badgePng));
}

const rendered = new BoundedMemo<Buffer>(200);

function render(facts: PreviewFacts, badgePng: Buffer): Buffer {
  const locale = facts.locale ?? "en";
  const blocks: [TextBlock, string, number][] = [];
  const add = (text: string, fill: string, gapAfter: number, o: { size: number; minSize: number; maxLines: number; weight?: "bold" }) =>
    blocks.push([layoutText(text, { maxWidth: TEXT.width, locale, overflow: "ellipsis", ...o }), fill, gapAfter]);
  add(facts.title, INK, 28, { size: 56, minSize: 30, maxLines: 3, weight: "bold" });
  if (facts.recipientName) add(`Awarded to ${facts.recipientName}`, ACCENT, 20, { size: 34, minSize: 22, maxLines: 2 });
  add(`Issued by ${facts.issuerName}`, MUTED, 16, { size: 28, minSize: 20, maxLines: 2 });
  if (facts.statusText) add(facts.statusText, BAD, 0, { size: 28, minSize: 28, maxLines: 1, weight: "bold" });

  const total = blocks.reduce((h, [b, , gap], i) => h + b.height + (i < blocks.length - 1 ? gap : 0), 0);
  let y = Math.max(40, (PREVIEW_HEIGHT - total) / 2);
  const text = blocks.map(([block, fill, gap]) => {
    const g = svgText(block, { x: TEXT.x, y, width: TEXT.width, align: "start" }, { fill });
    y += block.height + gap;
    return g;
  });
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${PREVIEW_WIDTH}" height="${PREVIEW_HEIGHT}" viewBox="0 0 ${PREVIEW_WIDTH} ${PREVIEW_HEIGHT}">
<rect width="${PREVIEW_WIDTH}" height="${PREVIEW_HEIGHT}" fill="#f5f5f0"/>
<clipPath id="card"><rect x="24" y="24" width="${PREVIEW_WIDTH - 48}" height="${PREVIEW_HEIGHT - 48}" rx="24"/></clipPath>
<g clip-path="url(#card)"><rect x="24" y="24" width="${PREVIEW_WIDTH - 48}" height="${PREVIEW_HEIGHT - 48}" fill="#ffffff"/><rect x="24" y="24" width="14" height="${PREVIEW_HEIGHT - 48}" fill="${ACCENT}"/></g>
<image x="${BADGE.x}" y="${BADGE.y}" width="${BADGE.size}" height="${BADGE.size}" preserveAspectRatio="xMidYMid meet" href="data:image/png;base64,${badgePng.toString("base64")}"/>
${text.join("\n")}
</svg>`;
  return svgToPng(svg, { width: PREVIEW_WIDTH });
}
