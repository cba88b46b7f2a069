// The fonts text is set in: Noto families from npm packages (Google Fonts' TTFs as Expo publishes them),
// so a clean `npm ci` has every glyph and nothing is read from the OS or fetched at run time. Each face
// is parsed once per process, on first use: a Latin-only certificate never reads the 10 MB CJK files.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import * as fontkit from "fontkit";

export type Weight = "regular" | "bold";
export type Family = "sans" | "arabic" | "hebrew" | "chinese" | "japanese" | "korean" | "emoji";

// Noto Sans covers Latin, Greek, Cyrillic and Devanagari (with their OpenType shaping tables).
const FILES: Record<Family, { pkg: string; regular: string; bold: string }> = {
  sans: { pkg: "@expo-google-fonts/noto-sans", regular: "400Regular/NotoSans_400Regular.ttf", bold: "700Bold/NotoSans_700Bold.ttf" },
  arabic: { pkg: "@expo-google-fonts/noto-sans-arabic", regular: "400Regular/NotoSansArabic_400Regular.ttf", bold: "700Bold/NotoSansArabic_700Bold.ttf" },
  hebrew: { pkg: "@expo-google-fonts/noto-sans-hebrew", regular: "400Regular/NotoSansHebrew_400Regular.ttf", bold: "700Bold/NotoSansHebrew_700Bold.ttf" },
  chinese: { pkg: "@expo-google-fonts/noto-sans-sc", regular: "400Regular/NotoSansSC_400Regular.ttf", bold: "700Bold/NotoSansSC_700Bold.ttf" },
  japanese: { pkg: "@expo-google-fonts/noto-sans-jp", regular: "400Regular/NotoSansJP_400Regular.ttf", bold: "700Bold/NotoSansJP_700Bold.ttf" },
  korean: { pkg: "@expo-google-fonts/noto-sans-kr", regular: "400Regular/NotoSansKR_400Regular.ttf", bold: "700Bold/NotoSansKR_700Bold.ttf" },
  emoji: { pkg: "@expo-google-fonts/noto-emoji", regular: "400Regular/NotoEmoji_400Regular.ttf", bold: "700Bold/NotoEmoji_700Bold.ttf" },
};

/** Where to look when the preferred family lacks a character, in order. */
export const FALLBACK_ORDER: readonly Family[] = ["sans", "arabic", "hebrew", "chinese", "japanese", "korean", "emoji"];

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
    const file = FILES[family];
    const path = join(dirname(require.resolve(`${file.pkg}/package.json`)), file[weight]);
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
  switch (script) {
    case "Arabic":
    case "Syriac":
    case "Thaana":
      return "arabic";
    case "Hebrew":
      return "hebrew";
    case "Hiragana":
    case "Katakana":
      return "japanese";
    case "Hangul":
      return "korean";
    case "Han":
    case "Bopomofo":
      return han;
    case "Common":
    case "Inherited":
    case "Unknown":
      return null;
    default:
      return "sans";
  }
}

/**
 * Which CJK face ideographs take: Han characters are shared by Chinese, Japanese and Korean, but their
 * glyphs differ by region. Kana in the text means Japanese, Hangul means Korean; otherwise the locale
 * (BCP 47) decides, and Chinese when it does not say.
 */
export function hanFamily(text: string, locale?: string): Family {
  if (/[\p{Script=Hiragana}\p{Script=Katakana}]/u.test(text)) return "japanese";
  if (/\p{Script=Hangul}/u.test(text)) return "korean";
  if (locale && /^ja\b/i.test(locale)) return "japanese";
  if (locale && /^ko\b/i.test(locale)) return "korean";
  return "chinese";
}
