// The fonts text is set in: Noto families from npm packages (Google Fonts' TTFs as Expo publishes them),
// so a clean `npm ci` has every glyph and nothing is read from the OS or fetched at run time. Each face
// is parsed once per process, on first use: a Latin-only certificate never reads the 10 MB CJK files.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import * as fontkit from "fontkit";

export type Weight = "regular" | "bold";

// Each family: the npm package and the file name's stem (Expo publishes <Stem>_400Regular.ttf and
// <Stem>_700Bold.ttf). Noto Sans itself covers Latin, Greek, Cyrillic and Devanagari; every other
// script we print has its own Noto face, with the OpenType tables fontkit shapes it by.
const FILES = {
  sans: ["noto-sans", "NotoSans"],
  arabic: ["noto-sans-arabic", "NotoSansArabic"],
  hebrew: ["noto-sans-hebrew", "NotoSansHebrew"],
  armenian: ["noto-sans-armenian", "NotoSansArmenian"],
  georgian: ["noto-sans-georgian", "NotoSansGeorgian"],
  ethiopic: ["noto-sans-ethiopic", "NotoSansEthiopic"],
  bengali: ["noto-sans-bengali", "NotoSansBengali"],
  gurmukhi: ["noto-sans-gurmukhi", "NotoSansGurmukhi"],
  gujarati: ["noto-sans-gujarati", "NotoSansGujarati"],
  tamil: ["noto-sans-tamil", "NotoSansTamil"],
  telugu: ["noto-sans-telugu", "NotoSansTelugu"],
  kannada: ["noto-sans-kannada", "NotoSansKannada"],
  malayalam: ["noto-sans-malayalam", "NotoSansMalayalam"],
  sinhala: ["noto-sans-sinhala", "NotoSansSinhala"],
  thai: ["noto-sans-thai", "NotoSansThai"],
  lao: ["noto-sans-lao", "NotoSansLao"],
  khmer: ["noto-sans-khmer", "NotoSansKhmer"],
  myanmar: ["noto-sans-myanmar", "NotoSansMyanmar"],
  emoji: ["noto-emoji", "NotoEmoji"],
  chinese: ["noto-sans-sc", "NotoSansSC"],
  "chinese-traditional": ["noto-sans-tc", "NotoSansTC"],
  japanese: ["noto-sans-jp", "NotoSansJP"],
  korean: ["noto-sans-kr", "NotoSansKR"],
} as const satisfies Record<string, readonly [string, string]>;

export type Family = keyof typeof FILES;

/**
 * Where to look when the preferred family lacks a character, in order: the small faces first, the
 * CJK ones (10 MB each to read) last, so that looking costs little for anything but ideographs.
 */
export const FALLBACK_ORDER = Object.keys(FILES) as readonly Family[];

/** The Unicode scripts (unicode-properties' names) that have a face of their own. */
const SCRIPT_FAMILY: Record<string, Family> = {
  Arabic: "arabic",
  Syriac: "arabic",
  Thaana: "arabic",
  Hebrew: "hebrew",
  Armenian: "armenian",
  Georgian: "georgian",
  Ethiopic: "ethiopic",
  Bengali: "bengali",
  Gurmukhi: "gurmukhi",
  Gujarati: "gujarati",
  Tamil: "tamil",
  Telugu: "telugu",
  Kannada: "kannada",
  Malayalam: "malayalam",
  Sinhala: "sinhala",
  Thai: "thai",
  Lao: "lao",
  Khmer: "khmer",
  Myanmar: "myanmar",
  Hiragana: "japanese",
  Katakana: "japanese",
  Hangul: "korean",
};

export interface Face {
  /** Unique per family and weight: the key a PDF document registers the face under. */
  key: string;
  family: Family;
  weight: Weight;
  font: fontkit.Font;
  /** Ascent and descent (positive, below the baseline) in ems, from the font's hhea table. */
  ascent: number;
  descent: number;
}

const require = createRequire(import.meta.url);
const faces = new Map<string, Face>();

/** The face of a family at a weight, parsed on first use and kept for the life of the process. */
export function face(family: Family, weight: Weight): Face {
  const key = `noto-${family}-${weight}`;
  let found = faces.get(key);
  if (!found) {
    const [pkg, stem] = FILES[family];
    const file = weight === "bold" ? `700Bold/${stem}_700Bold.ttf` : `400Regular/${stem}_400Regular.ttf`;
    const path = join(dirname(require.resolve(`@expo-google-fonts/${pkg}/package.json`)), file);
    const font = truthfulGlyphs(fontkit.create(readFileSync(path)) as fontkit.Font);
    found = { key, family, weight, font, ascent: font.ascent / font.unitsPerEm, descent: -font.descent / font.unitsPerEm };
    faces.set(key, found);
  }
  return found;
}

/**
 * fontkit keeps one Glyph per id, holding the code points of whichever request created it, and pdfkit
 * writes those into the PDF's ToUnicode map. In a font shared by every document, a glyph first created
 * as a component of "ą" (no code points) would later extract as nothing, wherever it was drawn. So
 * each request for a glyph with code points gets a view of it carrying exactly those.
 */
function truthfulGlyphs(font: fontkit.Font): fontkit.Font {
  const getGlyph = font.getGlyph.bind(font);
  font.getGlyph = (id: number, codePoints?: number[]) => {
    const glyph = getGlyph(id, codePoints);
    const same = !codePoints?.length || (glyph.codePoints.length === codePoints.length && glyph.codePoints.every((c, i) => c === codePoints[i]));
    return same ? glyph : (Object.create(glyph, { codePoints: { value: codePoints, enumerable: true } }) as fontkit.Glyph);
  };
  return font;
}

/** The family a script is set in, or null for characters that take their neighbours' (Common, Inherited). */
export function familyForScript(script: string, han: Family): Family | null {
  if (script === "Han" || script === "Bopomofo") return han;
  if (script === "Common" || script === "Inherited" || script === "Unknown") return null;
  return SCRIPT_FAMILY[script] ?? "sans";
}

/**
 * Which CJK face ideographs take: Han characters are shared by Chinese, Japanese and Korean, but their
 * glyphs differ by region. Kana in the text means Japanese, Hangul means Korean; otherwise the locale
 * (BCP 47) decides: ja, ko, zh-Hant (and zh-TW, zh-HK, zh-MO) for Traditional Chinese, zh otherwise
 * Simplified. With no locale that says, a text whose ideographs are written in traditional forms
 * (see `traditionalHan`) takes the Traditional Chinese face, any other the Simplified one.
 */
export function hanFamily(text: string, locale?: string): Family {
  if (/[\p{Script=Hiragana}\p{Script=Katakana}]/u.test(text)) return "japanese";
  if (/\p{Script=Hangul}/u.test(text)) return "korean";
  if (locale && /^ja\b/i.test(locale)) return "japanese";
  if (locale && /^ko\b/i.test(locale)) return "korean";
  if (locale && /^zh-(?:Hant|TW|HK|MO)\b/i.test(locale)) return "chinese-traditional";
  if (locale && /^zh\b/i.test(locale)) return "chinese";
  return /\p{Script=Han}/u.test(text) && traditionalHan(text) ? "chinese-traditional" : "chinese";
}

let charsets: { simplified: Set<string>; traditional: Set<string> } | null = null;

/** Every character a double-byte legacy charset encodes, read through the WHATWG decoder (no data file). */
function charset(encoding: string, leads: [number, number], trails: [number, number][]): Set<string> {
  const bytes: number[] = [];
  for (let lead = leads[0]; lead <= leads[1]; lead++) for (const [from, to] of trails) for (let t = from; t <= to; t++) bytes.push(lead, t);
  return new Set(new TextDecoder(encoding).decode(Uint8Array.from(bytes)));
}

/**
 * Whether `text` writes its ideographs the traditional way: it has one that Big5 (Taiwan and Hong
 * Kong's charset, with HKSCS) encodes and GB 2312 (mainland China's, the simplified forms) does not,
 * e.g. 鄭 or 麗, and none the other way round, e.g. 郑 or 丽. Names in characters both share (王小明)
 * are not traditional.
 */
export function traditionalHan(text: string): boolean {
  charsets ??= {
    simplified: charset("gbk", [0xb0, 0xf7], [[0xa1, 0xfe]]), // GB 2312 level 1 and 2 hanzi
    traditional: charset("big5", [0x81, 0xfe], [[0x40, 0x7e], [0xa1, 0xfe]]),
  };
  const han = [...text].filter((c) => /\p{Script=Han}/u.test(c));
  const traditionalOnly = han.some((c) => charsets!.traditional.has(c) && !charsets!.simplified.has(c));
  const simplifiedOnly = han.some((c) => charsets!.simplified.has(c) && !charsets!.traditional.has(c));
  return traditionalOnly && !simplifiedOnly;
}
