// Lays a paragraph out in a box: shapes its runs with fontkit (OpenType features, so Arabic joins and
// Devanagari conjuncts form), wraps it at UAX #14 break opportunities, shrinks it to fit a number of
// lines, and orders each line's runs visually (UAX #9 L2). The result is independent of any output
// format: pdf.ts draws it into pdfkit; glyph outlines (glyph.path) would draw it anywhere else.
import type { Glyph, GlyphPosition } from "fontkit";
import LineBreaker from "linebreak";
import { face, type Face, type Weight } from "./fonts.js";
import { bidi, itemize, type Direction, type Paragraph } from "./itemize.js";

export interface ShapedRun {
  /** The characters given to the font: the logical text, with bidi mirroring applied where RTL. */
  text: string;
  start: number;
  end: number;
  direction: "ltr" | "rtl";
  face: Face;
  /** Glyphs in visual (left-to-right) order and their positions, in font units. */
  glyphs: Glyph[];
  positions: GlyphPosition[];
  /** Advance width in ems. */
  advance: number;
}

export interface Line {
  /** The line's characters in logical order (what a reader copies out of it), from `start` in the text. */
  text: string;
  start: number;
  /** Runs left to right as drawn. */
  runs: ShapedRun[];
  /** Width, ascent and descent in ems. */
  width: number;
  ascent: number;
  descent: number;
}

export interface TextBlock {
  /** Font size in points the block was set at (after shrinking). */
  size: number;
  lines: Line[];
  /** The paragraph reads right to left: "start" alignment is then the right edge. */
  rtl: boolean;
  /** Widest line and total height, in points. */
  width: number;
  height: number;
  lineHeight: number;
  /** The text was cut to maxLines and ended with "…". */
  truncated: boolean;
  /**
   * Characters of the text that no embedded face has a glyph for, each once: drawn, they are empty
   * boxes. Callers that must not print boxes (a signed certificate) refuse the text when this is not
   * empty; see UnprintableTextError.
   */
  unprintable: string[];
}

export interface LayoutOptions {
  /** Box width in points. */
  maxWidth: number;
  /** Preferred font size in points; shrunk towards minSize until the text fits in maxLines. */
  size: number;
  minSize?: number;
  maxLines?: number;
  weight?: Weight;
  /** BCP 47 language of the text: picks the Chinese, Japanese or Korean face for ideographs. */
  locale?: string;
  direction?: Direction;
  /** At minSize and still over maxLines: keep every line ("wrap", a name is never cut) or cut with "…". */
  overflow?: "wrap" | "ellipsis";
  /** Line advance as a multiple of the faces' ascent + descent. */
  lineHeight?: number;
}

interface Segment {
  start: number;
  /** End without trailing spaces and line terminators; width up to there, and up to the next segment. */
  contentEnd: number;
  end: number;
  width: number;
  fullWidth: number;
  required: boolean;
}

const SHRINK_STEP = 0.94;
const TRAILING = /[\s\u200B]+$/u;
const graphemes = new Intl.Segmenter("und", { granularity: "grapheme" });

/**
 * Lays out `text` (any script, any mix) to fit `maxWidth` points in at most `maxLines` lines, shrinking
 * from `size` down to `minSize` points first, then breaking inside words, and only then (overflow
 * "ellipsis") cutting. Newlines are hard breaks.
 */
export function layoutText(text: string, options: LayoutOptions): TextBlock {
  const weight = options.weight ?? "regular";
  const maxLines = options.maxLines ?? Infinity;
  const minSize = Math.min(options.minSize ?? options.size, options.size);
  const shaper = new Shaper(itemize(text, { direction: options.direction ?? "auto", locale: options.locale, weight }), weight);
  const segments = shaper.segments();
  for (let size = options.size; ; size = Math.max(minSize, size * SHRINK_STEP)) {
    const last = size <= minSize;
    const ranges = shaper.wrap(segments, options.maxWidth / size, last);
    if (ranges && (ranges.length <= maxLines || last)) {
      if (ranges.length > maxLines && options.overflow === "ellipsis") return ellipsized(text, options, size, maxLines, ranges[maxLines - 1]![1]);
      return shaper.block(ranges, size, options.lineHeight ?? 1, false);
    }
  }
}

// Cut where the last allowed line ends, then step back a character at a time until "…" fits too.
function ellipsized(text: string, options: LayoutOptions, size: number, maxLines: number, lastLineEnd: number): TextBlock {
  const cuts = [...graphemes.segment(text.slice(0, lastLineEnd))].map((g) => g.index).reverse();
  for (const cut of cuts) {
    const shorter = `${text.slice(0, cut).replace(TRAILING, "")}…`;
    const block = layoutText(shorter, { ...options, size, minSize: size, maxLines: Infinity, overflow: "wrap" });
    if (block.lines.length <= maxLines) return { ...block, truncated: true };
  }
  return { ...layoutText("…", { ...options, size, minSize: size }), truncated: true };
}

/**
 * An RTL run is shaped with its brackets mirrored (UAX #9 L4), so a glyph drawn as "(" stands for the
 * ")" that was written: give such glyphs the written character, which is what a reader copies.
 */
export function unmirrored(glyphs: Glyph[]): Glyph[] {
  return glyphs.map((g) => {
    const mirror = g.codePoints.length === 1 ? bidi.getMirroredCharacter(String.fromCodePoint(g.codePoints[0]!)) : null;
    return mirror ? (Object.create(g, { codePoints: { value: [mirror.codePointAt(0)!], enumerable: true } }) as Glyph) : g;
  });
}

class Shaper {
  private cache = new Map<string, ShapedRun>();

  constructor(
    private paragraph: Paragraph,
    private weight: Weight,
  ) {}

  /** Break opportunities (UAX #14) as segments, measured once in ems: wrapping at any size reuses them. */
  segments(): Segment[] {
    const text = this.paragraph.text;
    const breaker = new LineBreaker(text);
    const segments: Segment[] = [];
    let start = 0;
    for (let bk = breaker.nextBreak(); bk; bk = breaker.nextBreak()) {
      const end = bk.position;
      const withSpaces = start + text.slice(start, end).replace(/[\r\n\u2028\u2029\u0085]+$/u, "").length;
      const contentEnd = start + text.slice(start, end).replace(TRAILING, "").length;
      segments.push({ start, contentEnd, end, width: this.width(start, contentEnd), fullWidth: this.width(start, withSpaces), required: bk.required });
      start = end;
    }
    return segments;
  }

  /** Greedy line ranges for a width in ems; null when a segment would need breaking and that is not allowed. */
  wrap(segments: Segment[], width: number, breakWords: boolean): [number, number][] | null {
    const lines: [number, number][] = [];
    let lineStart = segments[0]?.start ?? 0;
    let lineEnd = lineStart;
    let used = 0;
    const place = (s: Segment) => {
      if (lineEnd > lineStart && used + s.width > width) {
        lines.push([lineStart, lineEnd]);
        lineStart = s.start;
        used = 0;
      }
      used += s.fullWidth;
      lineEnd = s.end;
    };
    for (const segment of segments) {
      if (segment.width > width) {
        if (!breakWords) return null;
        for (const piece of this.graphemePieces(segment)) place(piece);
      } else place(segment);
      if (segment.required) {
        lines.push([lineStart, segment.end]);
        lineStart = lineEnd = segment.end;
        used = 0;
      }
    }
    if (lineEnd > lineStart || lines.length === 0) lines.push([lineStart, lineEnd]);
    return lines;
  }

  block(ranges: [number, number][], size: number, lineHeight: number, truncated: boolean): TextBlock {
    const lines = ranges.map(([start, end]) => this.line(start, start + this.paragraph.text.slice(start, end).replace(TRAILING, "").length));
    const width = Math.max(0, ...lines.map((l) => l.width)) * size;
    const height = lines.reduce((h, l) => h + (l.ascent + l.descent) * size * lineHeight, 0);
    // Coverage is checked per character when itemizing; a .notdef the shaper still produced (a font
    // whose cmap has the character but whose substitutions lose it) is caught here.
    const unprintable = new Set(this.paragraph.unprintable);
    for (const line of lines) for (const run of line.runs) for (const g of run.glyphs) if (g.id === 0) for (const c of g.codePoints) if (!/\s/u.test(String.fromCodePoint(c))) unprintable.add(String.fromCodePoint(c));
    return { size, lines, rtl: this.paragraph.baseLevel % 2 === 1, width, height, lineHeight, truncated, unprintable: [...unprintable] };
  }

  private line(start: number, end: number): Line {
    const { text, runs, bidi: levels } = this.paragraph;
    const pieces: ShapedRun[] = [];
    for (const run of runs) {
      const s = Math.max(run.start, start);
      const e = Math.min(run.end, end);
      if (s < e) pieces.push(this.shape(s, e));
    }
    // UAX #9 L2: reverse from the highest level down; a run is uniform in level, so it moves whole.
    const order = Array.from({ length: end - start }, (_, i) => start + i);
    for (const [from, to] of (end > start ? bidi.getReorderSegments(text, levels, start, end - 1) : []) as [number, number][]) {
      order.splice(from - start, to - from + 1, ...order.slice(from - start, to - start + 1).reverse());
    }
    const visual: ShapedRun[] = [];
    for (const index of order) {
      const piece = pieces.find((p) => p.start <= index && index < p.end)!;
      if (visual.at(-1) !== piece && !visual.includes(piece)) visual.push(piece);
    }
    const metrics = visual.length ? visual.map((r) => r.face) : [face("sans", this.weight)];
    return {
      text: text.slice(start, end),
      start,
      runs: visual,
      width: visual.reduce((w, r) => w + r.advance, 0),
      ascent: Math.max(...metrics.map((f) => f.ascent)),
      descent: Math.max(...metrics.map((f) => f.descent)),
    };
  }

  /** Width in ems of [start, end), shaped run by run. */
  private width(start: number, end: number): number {
    let width = 0;
    for (const run of this.paragraph.runs) {
      const s = Math.max(run.start, start);
      const e = Math.min(run.end, end);
      if (s < e) width += this.shape(s, e).advance;
    }
    return width;
  }

  private *graphemePieces(segment: Segment): Generator<Segment> {
    const text = this.paragraph.text.slice(segment.start, segment.end);
    for (const { index, segment: g } of graphemes.segment(text)) {
      const start = segment.start + index;
      const end = start + g.length;
      const contentEnd = Math.min(end, segment.contentEnd);
      const width = contentEnd > start ? this.width(start, contentEnd) : 0;
      yield { start, end, contentEnd, width, fullWidth: this.width(start, end), required: false };
    }
  }

  private shape(start: number, end: number): ShapedRun {
    const key = `${start}:${end}`;
    const cached = this.cache.get(key);
    if (cached) return cached;
    const { text, bidi: levels, runs } = this.paragraph;
    const run = runs.find((r) => r.start <= start && end <= r.end)!;
    const rtl = run.level % 2 === 1;
    let chars = text.slice(start, end);
    if (rtl) {
      const units = chars.split("");
      for (const [i, mirrored] of bidi.getMirroredCharactersMap(text, levels.levels, start, end - 1)) units[i - start] = mirrored;
      chars = units.join("");
    }
    const f = face(run.family, this.weight);
    const glyphRun = f.font.layout(chars, [], undefined, undefined, rtl ? "rtl" : "ltr");
    const shaped: ShapedRun = {
      text: chars,
      start,
      end,
      direction: rtl ? "rtl" : "ltr",
      face: f,
      glyphs: rtl ? unmirrored(glyphRun.glyphs) : glyphRun.glyphs,
      positions: glyphRun.positions,
      advance: glyphRun.positions.reduce((w, p) => w + p.xAdvance, 0) / f.font.unitsPerEm,
    };
    this.cache.set(key, shaped);
    return shaped;
  }
}
