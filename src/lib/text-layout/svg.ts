// Draws a laid-out TextBlock as SVG glyph outlines (<path>), so the picture looks the same wherever it
// is shown or rasterised: no font is needed by the viewer, and no system font can stand in for ours.
// Placement follows pdf.ts's drawText exactly; shaping, bidi order and mirroring were done by layout.ts.
import type { PathCommand } from "fontkit";
import type { TextBlock } from "./layout.js";

export interface SvgTextBox {
  /** Left edge and top of the block, in SVG user units (y grows downwards), like pdf.ts's Box. */
  x: number;
  y: number;
  width: number;
  /** "start" (the default) follows the paragraph's direction: left for LTR, right for RTL. */
  align?: "left" | "center" | "right" | "start";
}

export interface SvgTextOptions {
  /** Fill paint of the glyphs: a CSS colour such as "#1d4ed8" (validated: hex, rgb()/hsl() or a keyword). */
  fill?: string;
}

const COLOUR = /^(#[0-9a-f]{3,8}|(rgb|rgba|hsl|hsla)\([0-9.,%\s]+\)|[a-z]{3,20})$/i;

/** Two decimals of a user unit: far below a pixel at any size we render, and it keeps paths short. */
function n(value: number): string {
  const rounded = Math.round(value * 100) / 100;
  return Object.is(rounded, -0) ? "0" : String(rounded);
}

function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Appends a glyph outline (font units, y up) to `out`, moved to (ox, oy) and scaled by s with y flipped. */
function outline(commands: PathCommand[], ox: number, oy: number, s: number, out: string[]): void {
  const X = (v: number) => n(ox + v * s);
  const Y = (v: number) => n(oy - v * s);
  for (const { command, args } of commands) {
    if (command === "moveTo") out.push(`M${X(args[0]!)} ${Y(args[1]!)}`);
    else if (command === "lineTo") out.push(`L${X(args[0]!)} ${Y(args[1]!)}`);
    else if (command === "quadraticCurveTo") out.push(`Q${X(args[0]!)} ${Y(args[1]!)} ${X(args[2]!)} ${Y(args[3]!)}`);
    else if (command === "bezierCurveTo") out.push(`C${X(args[0]!)} ${Y(args[1]!)} ${X(args[2]!)} ${Y(args[3]!)} ${X(args[4]!)} ${Y(args[5]!)}`);
    else if (command === "closePath") out.push("Z");
  }
}

/**
 * Draws `block` (from layoutText; sizes in points are taken as SVG user units) as an SVG fragment: one
 * `<g>` holding one `<path>` per line, the first line's top at box.y, each line aligned in
 * [box.x, box.x + box.width] by the same rules as pdf.ts's drawText. The `<g>` carries the text as its
 * aria-label (escaped), since outlines are not text. Nothing in the output comes from the text but
 * that label: glyphs are numbers. An empty block gives an empty `<g>`.
 * @throws RangeError when `fill` is not a plain CSS colour (it is written into an attribute).
 */
export function svgText(block: TextBlock, box: SvgTextBox, options: SvgTextOptions = {}): string {
  const fill = options.fill ?? "#000";
  if (!COLOUR.test(fill)) throw new RangeError(`not a CSS colour: ${JSON.stringify(fill)}`);
  const align = box.align === "start" || !box.align ? (block.rtl ? "right" : "left") : box.align;
  const paths: string[] = [];
  let top = box.y;
  for (const line of block.lines) {
    const width = line.width * block.size;
    let x = align === "left" ? box.x : align === "right" ? box.x + box.width - width : box.x + (box.width - width) / 2;
    const baseline = top + line.ascent * block.size;
    const d: string[] = [];
    for (const run of line.runs) {
      const s = block.size / run.face.font.unitsPerEm;
      let pen = 0;
      run.glyphs.forEach((glyph, i) => {
        const p = run.positions[i]!;
        outline(glyph.path.commands, x + (pen + p.xOffset) * s, baseline - p.yOffset * s, s, d);
        pen += p.xAdvance;
      });
      x += run.advance * block.size;
    }
    if (d.length) paths.push(`<path d="${d.join("")}"/>`);
    top += (line.ascent + line.descent) * block.size * block.lineHeight;
  }
  const label = block.lines.map((l) => l.text).join(" ");
  return `<g fill="${fill}" aria-label="${escapeXml(label)}">${paths.join("")}</g>`;
}
