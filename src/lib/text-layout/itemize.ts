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
}

// Emoji presentation: pictographs that default to it, or any cluster asking for it (VS16, skin tone,
// keycap, flags). Text-style symbols such as © stay with the text face.
const EMOJI = /\p{Emoji_Presentation}|\uFE0F|\p{Emoji_Modifier}|\u20E3|\p{Regional_Indicator}/u;
const IGNORABLE = /[\p{Default_Ignorable_Code_Point}\p{M}]/u;

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
  for (const c of clusters) c.family = covering(text.slice(c.start, c.end), c.family!, options.weight);

  const runs: Run[] = [];
  for (const c of clusters) {
    const level = levels.levels[c.start]!;
    const last = runs.at(-1);
    if (last && last.level === level && last.family === c.family && last.script === c.script) last.end = c.end;
    else runs.push({ start: c.start, end: c.end, level, script: c.script, family: c.family! });
  }
  return { text, bidi: levels, baseLevel: levels.paragraphs[0]?.level ?? 0, runs };
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

function covering(cluster: string, preferred: Family, weight: Weight): Family {
  const codePoint = ([...cluster].find((c) => !IGNORABLE.test(c)) ?? cluster).codePointAt(0)!;
  if (face(preferred, weight).font.hasGlyphForCodePoint(codePoint)) return preferred;
  return FALLBACK_ORDER.find((f) => face(f, weight).font.hasGlyphForCodePoint(codePoint)) ?? preferred;
}
