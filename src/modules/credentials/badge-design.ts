// The badge Laurel draws for a template without an uploaded image: a shape (circle, shield, hexagon or
// rosette) in colours derived from the tenant and the template, the achievement's name set as outlines
// in any script, the issuer's name under it, and the issuer's own uploaded logo above it when there is
// one. Same inputs, same bytes: nothing is stored, everything is derived.
import { BoundedMemo } from "../../lib/memo.js";
import { createHash } from "node:crypto";
import { layoutText, type TextBlock } from "../../lib/text-layout/layout.js";
import { svgText } from "../../lib/text-layout/svg.js";
import { pngDimensions, RasterError, svgToPng, userSvgToPng } from "../../lib/raster.js";
import { storableText } from "../../lib/text.js";

export const BADGE_SHAPES = ["circle", "shield", "hexagon", "rosette"] as const;
export type BadgeShape = (typeof BADGE_SHAPES)[number];

export interface BadgeDesignInput {
  /** The achievement's name (any script; normalised here: NFC, one line, unprintable characters dropped). */
  name: string;
  /** The issuer's name, drawn small under the achievement's; empty: none. */
  issuerName?: string;
  /** The tenant's id: the hue every badge of the tenant shares. */
  tenantId: string;
  /** The template's id: which shape, and a small shift of the tenant's hue. */
  templateId: string;
  /** A PNG from badgeIcon (already validated and re-encoded), drawn above the name. */
  icon?: Buffer | null;
  /** Chooses the shape instead of the template id (for previews and tests). */
  shape?: BadgeShape;
}

const SIZE = 512;
const C = SIZE / 2;

interface ShapeSpec {
  /** The outline (SVG), its centre line's y for the text stack, the text width and the stack's height. */
  outline: string;
  centreY: number;
  textWidth: number;
  maxStack: number;
}

function star(cx: number, cy: number, points: number, outer: number, inner: number, turn = 0): string {
  const corners = Array.from({ length: points * 2 }, (_, i) => {
    const angle = turn + (Math.PI * i) / points;
    const r = i % 2 ? inner : outer;
    return `${round(cx + r * Math.sin(angle))},${round(cy - r * Math.cos(angle))}`;
  });
  return `<polygon points="${corners.join(" ")}"/>`;
}

const round = (v: number) => String(Math.round(v * 100) / 100);

const SHAPES: Record<BadgeShape, ShapeSpec> = {
  circle: { outline: `<circle cx="${C}" cy="${C}" r="240"/>`, centreY: C, textWidth: 330, maxStack: 330 },
  hexagon: {
    outline: `<polygon points="256,16 463.85,136 463.85,376 256,496 48.15,376 48.15,136"/>`,
    centreY: C,
    textWidth: 320,
    maxStack: 320,
  },
  shield: { outline: `<path d="M256 18 L462 78 L462 232 C462 366 374 452 256 496 C138 452 50 366 50 232 L50 78 Z"/>`, centreY: 238, textWidth: 320, maxStack: 300 },
  rosette: {
    outline:
      `<polygon points="168,300 232,340 196,500 168,470 128,486"/><polygon points="344,300 280,340 316,500 344,470 384,486"/>` +
      star(C, 216, 24, 206, 188),
    centreY: 216,
    textWidth: 260,
    maxStack: 260,
  },
};

/** hsl (degrees, 0..1, 0..1) as #rrggbb. */
function hex(h: number, s: number, l: number): string {
  const f = (n: number) => {
    const k = (n + h / 30) % 12;
    const a = s * Math.min(l, 1 - l);
    return Math.round(255 * (l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1))));
  };
  return `#${[f(0), f(8), f(4)].map((v) => v.toString(16).padStart(2, "0")).join("")}`;
}

const digest = (value: string) => createHash("sha256").update(value).digest();

/** The colours and shape a tenant and template get: dark enough under white text (WCAG AA at L ≤ 0.3). */
export function badgeStyle(tenantId: string, templateId: string) {
  const tenant = digest(`laurel-badge-hue:${tenantId}`);
  const template = digest(`laurel-badge:${templateId}`);
  const hue = (tenant.readUInt16BE(0) % 360 + ((template[0]! % 5) - 2) * 10 + 360) % 360;
  return {
    shape: BADGE_SHAPES[template[1]! % BADGE_SHAPES.length]!,
    edge: hex(hue, 0.6, 0.2),
    field: hex(hue, 0.55, 0.3),
    accent: hex((hue + 40) % 360, 0.75, 0.78),
  };
}

/** `text` as one line of printable text: storable characters, NFC, spaces collapsed, at most 200 characters. */
function oneLine(text: string): string {
  return [...storableText(text).replace(/\uFFFD/g, "").normalize("NFC").replace(/\s+/gu, " ").trim()].slice(0, 200).join("");
}

/** Lays a text out; characters no face has are dropped (they would be boxes), and it fits `maxHeight`. */
function fit(text: string, width: number, size: number, minSize: number, maxLines: number, maxHeight: number): TextBlock | null {
  const options = { maxWidth: width, size, minSize, maxLines, overflow: "ellipsis" as const };
  let block = layoutText(text, options);
  if (block.unprintable.length) {
    text = [...text].filter((c) => !block.unprintable.includes(c)).join("").trim();
    if (!text) return null;
    block = layoutText(text, options);
  }
  if (block.height > maxHeight) {
    const scale = maxHeight / block.height;
    block = layoutText(text, { ...options, size: block.size * scale, minSize: block.size * scale });
  }
  return block.lines.length ? block : null;
}

/**
 * The generated badge as an SVG document (512×512 user units, UTF-8 text with no external references),
 * deterministic for the same input. The name is drawn as outlines (svgText), shrunk to fit in at most
 * three lines and cut with "…" beyond; the SVG's <title> carries it as text. An empty name draws none.
 */
export function badgeDesignSvg(input: BadgeDesignInput): string {
  return remembered("svg", input, () => Buffer.from(drawBadge(input), "utf8")).toString("utf8");
}

function drawBadge(input: BadgeDesignInput): string {
  const style = badgeStyle(input.tenantId, input.templateId);
  const spec = SHAPES[input.shape ?? style.shape];
  const name = oneLine(input.name);
  const issuer = oneLine(input.issuerName ?? "");
  const icon = input.icon && pngDimensions(input.icon) ? input.icon : null; // only what badgeIcon made is meant to come here
  const nameBlock = name ? fit(name, spec.textWidth, 40, 20, 3, spec.maxStack * 0.55) : null;
  const issuerBlock = issuer ? fit(issuer, spec.textWidth * 0.8, 20, 14, 1, 48) : null;
  const mark = icon ? 96 : 40;
  const gap = 14;
  const stack = mark + gap + (nameBlock?.height ?? 0) + (issuerBlock ? gap + issuerBlock.height : 0);
  let y = spec.centreY - stack / 2;
  const parts: string[] = [];
  if (icon) {
    parts.push(`<image x="${C - mark / 2}" y="${round(y)}" width="${mark}" height="${mark}" href="data:image/png;base64,${icon.toString("base64")}"/>`);
  } else {
    parts.push(`<g fill="${style.accent}">${star(C, y + mark / 2, 5, mark / 2, mark / 5)}</g>`);
  }
  y += mark + gap;
  const left = C - spec.textWidth / 2;
  if (nameBlock) parts.push(svgText(nameBlock, { x: left, y, width: spec.textWidth, align: "center" }, { fill: "#ffffff" }));
  y += (nameBlock?.height ?? 0) + gap;
  if (issuerBlock) parts.push(svgText(issuerBlock, { x: left, y, width: spec.textWidth, align: "center" }, { fill: style.accent }));
  const title = (name || "Badge").replace(/[&<>]/g, (c) => `&#${c.charCodeAt(0)};`);
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${SIZE}" height="${SIZE}" viewBox="0 0 ${SIZE} ${SIZE}" role="img">` +
    `<title>${title}</title>` +
    `<g fill="${style.edge}">${spec.outline}</g>` +
    `<g fill="${style.field}" stroke="${style.accent}" stroke-width="5" transform="translate(${C} ${spec.centreY}) scale(0.86) translate(-${C} -${spec.centreY})">${spec.outline}</g>` +
    parts.join("") +
    `</svg>`
  );
}

/** The generated badge as a PNG `width` pixels square (default 512), rasterised by svgToPng. */
export function badgeDesignPng(input: BadgeDesignInput, width = SIZE): Buffer {
  return remembered(`png:${width}`, input, () => svgToPng(badgeDesignSvg(input), { width }));
}

// Every credential of a template shows the same design: keep the last few rather than shaping and
// rasterising (tens of milliseconds) on each download.
const designs = new BoundedMemo<Buffer>(256);

function remembered(kind: string, input: BadgeDesignInput, make: () => Buffer): Buffer {
  const { icon, ...rest } = input;
  const key = createHash("sha256").update(JSON.stringify([kind, rest, icon ? createHash("sha256").update(icon).digest("hex") : null])).digest("hex");
  const value = designs.get(key, make);
  return Buffer.from(value); // a copy: a caller writing into it must not change the next badge
}

const ICON_PIXELS = 192;

/**
 * An uploaded image made fit to embed as a badge's icon: a PNG (at most 4096×4096) or an SVG (no
 * external references) drawn into a fresh ICON_PIXELS-square PNG, so nothing of the upload (metadata,
 * a credential baked into it, scripts) is carried over. Null when the image cannot be used.
 */
export function badgeIcon(bytes: Buffer, contentType: string): Buffer | null {
  try {
    const size = `width="${ICON_PIXELS}" height="${ICON_PIXELS}"`;
    if (contentType === "image/png") {
      if (!pngDimensions(bytes)) return null;
      return svgToPng(`<svg xmlns="http://www.w3.org/2000/svg" ${size}><image ${size} href="data:image/png;base64,${bytes.toString("base64")}"/></svg>`, { width: ICON_PIXELS });
    }
    if (contentType === "image/svg+xml") return userSvgToPng(bytes.toString("utf8"), { width: ICON_PIXELS });
    return null;
  } catch (error) {
    if (error instanceof RasterError) return null;
    throw error;
  }
}
