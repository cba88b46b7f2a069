// Draws a laid-out TextBlock into a pdfkit document. Each face is embedded as a TrueType subset (only
// the glyphs used) with a ToUnicode map, so the text can be searched, copied and extracted. Where a
// left-to-right run's glyphs would not read back as its text (the Devanagari vowel sign i is drawn
// before its consonant; one glyph serves two characters; a mark is shifted back over its base), the run is marked with its logical text
// (PDF 32000-1 §14.9.4 ActualText).
// Right-to-left runs are not: readers reorder those themselves (poppler reversed an ActualText again).
import type { Font } from "fontkit";
import type { Face } from "./fonts.js";
import { unmirrored, type ShapedRun, type TextBlock } from "./layout.js";

type Doc = PDFKit.PDFDocument;

/** Tells the face wrapper below which direction pdfkit's call to layout() must shape in. */
class ShapingRequest {
  constructor(readonly direction: "ltr" | "rtl") {}
}

const wrappers = new Map<string, Font>();

// pdfkit accepts any object with fontkit's interface as a font, but shapes with layout(text, features)
// only, letting fontkit guess the direction from the script. This wrapper passes our bidi-resolved
// direction on, so a run draws exactly as layout.ts measured it (Arabic-Indic digits stay LTR, a
// bracket in an RTL run stays RTL).
function pdfFont(face: Face): Font {
  let wrapper = wrappers.get(face.key);
  if (!wrapper) {
    const font = face.font;
    const layout = (text: string, features?: unknown) => {
      if (!(features instanceof ShapingRequest)) return font.layout(text, features as string[] | undefined);
      const run = font.layout(text, [], undefined, undefined, features.direction);
      if (features.direction === "rtl") run.glyphs = unmirrored(run.glyphs);
      return run;
    };
    wrapper = new Proxy(font, { get: (target, prop) => (prop === "layout" ? layout : Reflect.get(target, prop, target)) });
    wrappers.set(face.key, wrapper);
  }
  return wrapper;
}

// pdfkit maps each glyph of a face to the characters of its first use in the document: remember them.
const firstUse = new WeakMap<Doc, Map<string, string>>();

/** Whether the glyphs, read left to right through the document's ToUnicode map, spell the run's text. */
function extractsAsWritten(doc: Doc, run: ShapedRun): boolean {
  let mapped = firstUse.get(doc);
  if (!mapped) firstUse.set(doc, (mapped = new Map()));
  const drawn: number[] = [];
  for (const glyph of run.glyphs) {
    const key = `${run.face.key}:${glyph.id}`;
    const codePoints = mapped.get(key) ?? String.fromCodePoint(...glyph.codePoints);
    if (!mapped.has(key)) mapped.set(key, codePoints);
    drawn.push(...[...codePoints].map((c) => c.codePointAt(0)!));
  }
  const logical = [...run.text].map((c) => c.codePointAt(0)!);
  return drawn.length === logical.length && drawn.every((c, i) => c === logical[i]);
}

export interface Box {
  x: number;
  /** Top of the block, in pdfkit's coordinates (points from the top of the page). */
  y: number;
  width: number;
  /** "start" follows the paragraph's direction: left for LTR, right for RTL. */
  align?: "left" | "center" | "right" | "start";
  color?: string;
  /** Mark every run with its text, where extraction would otherwise lose it (e.g. rotated text). */
  actualText?: boolean;
}

/** Draws `block` with its first line's top at box.y; returns the y just below the block. */
export function drawText(doc: Doc, block: TextBlock, box: Box): number {
  const align = box.align === "start" || !box.align ? (block.rtl ? "right" : "left") : box.align;
  if (box.color) doc.fillColor(box.color);
  let top = box.y;
  for (const line of block.lines) {
    const width = line.width * block.size;
    let x = align === "left" ? box.x : align === "right" ? box.x + box.width - width : box.x + (box.width - width) / 2;
    const baseline = top + line.ascent * block.size;
    for (const run of line.runs) {
      // A mark moved back over its base (Lao vowels above, stacked diacritics) is read by poppler as
      // a character after a gap, i.e. after a space: mark such runs with their text too.
      const readable = extractsAsWritten(doc, run) && run.positions.every((p) => p.xOffset === 0);
      const marked = run.direction === "ltr" && (!readable || box.actualText);
      if (marked) doc.markContent("Span", { actual: line.text.slice(run.start - line.start, run.end - line.start) } as Record<string, unknown>);
      doc.font(pdfFont(run.face) as unknown as string, run.face.key).fontSize(block.size);
      doc.text(run.text, x, baseline, { lineBreak: false, baseline: "alphabetic", features: new ShapingRequest(run.direction) as unknown as PDFKit.Mixins.OpenTypeFeatures[] });
      if (marked) doc.endMarkedContent();
      x += run.advance * block.size;
    }
    top += (line.ascent + line.descent) * block.size * block.lineHeight;
  }
  return top;
}
