// Splits a paragraph into runs a font can shape in one go: the same bidi embedding level (UAX #9, by
// bidi-js), the same script and the same face. Faces are chosen per grapheme cluster, by script first
// and by coverage second, so a name mixing scripts or holding an emoji gets a glyph for each character.
import bidiModule, { type Bidi, type EmbeddingLevels } from "bidi-js";
import { getScript } from "unicode-properties";
import { face, FALLBACK_ORDER, familyForScript, hanFamily, type Family, type Weight } from "./fonts.js";

// bidi-js is CommonJS whose module.exports is the factory; its types describe an ES default export.
export const bidi = (bidiModule as unknown as () => Bidi)();
const graphemes = new Intl.Segmenter("und", { granularity: "grapheme" });

export type Direction = "ltr" | "rtl" | "auto";

/** A logical range of the paragraph [start, end) in UTF-16 code units, shaped as one piece. */
export interface Run {
  start: number;
  end: number;
  level: number;
  script: string;
  family: Family;
}

export interface Paragraph {
  text: string;
  bidi: EmbeddingLevels;
  /** 0 when the paragraph reads left to right, 1 when right to left. */
  baseLevel: number;
  runs: Run[];
  /**
   * Characters that no face we embed has a glyph for, each once, in order of first use: drawn, they
   * would come out as empty boxes (.notdef). Default-ignorable characters (ZWJ, variation selectors)
   * and controls are never drawn, so never listed.
   */
  unprintable: string[];
}

// Emoji presentation: pictographs that default to it, or any cluster asking for it (VS16, skin tone,
// keycap, flags). Text-style symbols such as © stay with the text face.
const EMOJI = /\p{Emoji_Presentation}|\uFE0F|\p{Emoji_Modifier}|\u20E3|\p{Regional_Indicator}/u;
const IGNORABLE = /[\p{Default_Ignorable_Code_Point}\p{M}]/u;
// Characters no face needs a glyph for: invisible formatting and line or paragraph ends.
const UNDRAWN = /[\p{Default_Ignorable_Code_Point}\p{Cc}\p{Zl}\p{Zp}]/u;

interface Cluster {
  start: number;
  end: number;
  script: string;
  family: Family | null;
}

/**
 * Itemizes `text` for shaping. `direction` is the paragraph direction ("auto": from its first strong
 * character, UAX #9 P2-P3); `locale` (BCP 47) picks the CJK face for ideographs; `weight` the faces
 * whose coverage is checked.
 */
export function itemize(text: string, options: { direction?: Direction; locale?: string; weight: Weight }): Paragraph {
  const levels = bidi.getEmbeddingLevels(text, options.direction === "auto" ? undefined : options.direction);
  const han = hanFamily(text, options.locale);
  const clusters: Cluster[] = [];
  for (const { segment, index } of graphemes.segment(text)) {
    const base = [...segment].find((c) => !IGNORABLE.test(c)) ?? segment;
    const script = getScript(base.codePointAt(0)!);
    const family = EMOJI.test(segment) ? "emoji" : familyForScript(script, han);
    clusters.push({ start: index, end: index + segment.length, script, family });
  }
  resolveNeutrals(clusters);
  const unprintable = new Set<string>();
  for (const c of clusters) {
    const cover = covering(text.slice(c.start, c.end), c.family!, options.weight);
    c.family = cover.family;
    for (const m of cover.missing) unprintable.add(m);
  }

  const runs: Run[] = [];
  for (const c of clusters) {
    const level = levels.levels[c.start]!;
    const last = runs.at(-1);
    if (last && last.level === level && last.family === c.family && last.script === c.script) last.end = c.end;
    else runs.push({ start: c.start, end: c.end, level, script: c.script, family: c.family! });
  }
  return { text, bidi: levels, baseLevel: levels.paragraphs[0]?.level ?? 0, runs, unprintable: [...unprintable] };
}

// Spaces, digits and punctuation take the script and face of the text before them (or after, at the
// start), so "محمد (2)" shapes as one Arabic run; emoji lend neither.
function resolveNeutrals(clusters: Cluster[]) {
  let previous: Cluster | null = null;
  for (const c of clusters) {
    if (c.family === null && previous) {
      c.family = previous.family;
      c.script = previous.script;
    } else if (c.family !== null && c.family !== "emoji") previous = c;
  }
  const first = clusters.find((c) => c.family !== null && c.family !== "emoji");
  for (const c of clusters) {
    if (c.family !== null) continue; // only those before the first text cluster are left
    c.family = first?.family ?? "sans";
    c.script = first?.script ?? c.script;
  }
}

/**
 * The face a grapheme cluster is drawn in: the preferred one if it has a glyph for every character of
 * the cluster (base and marks alike: a face with "a" but not U+0304 would draw a box for the macron),
 * else the first fallback that has them all, else the one that has the base, with what it lacks.
 */
function covering(cluster: string, preferred: Family, weight: Weight): { family: Family; missing: string[] } {
  const needed = [...cluster].filter((c) => !UNDRAWN.test(c));
  const lacks = (family: Family) => needed.filter((c) => !face(family, weight).font.hasGlyphForCodePoint(c.codePointAt(0)!));
  if (lacks(preferred).length === 0) return { family: preferred, missing: [] };
  const complete = FALLBACK_ORDER.find((f) => lacks(f).length === 0);
  if (complete) return { family: complete, missing: [] };
  const base = ([...cluster].find((c) => !IGNORABLE.test(c)) ?? cluster).codePointAt(0)!;
  const family = FALLBACK_ORDER.find((f) => face(f, weight).font.hasGlyphForCodePoint(base)) ?? preferred;
  return { family, missing: lacks(family) };
}
