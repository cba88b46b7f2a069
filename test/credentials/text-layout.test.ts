// The text layout under certificates (and, next, badge and certificate designs): faces by script,
// OpenType shaping, bidi order, wrapping, shrinking to fit. Checked on the shaped glyphs themselves.
import { describe, expect, it } from "vitest";
import { face } from "../../src/lib/text-layout/fonts.js";
import { layoutText, type TextBlock } from "../../src/lib/text-layout/layout.js";

const set = (text: string, options: Partial<Parameters<typeof layoutText>[1]> = {}) => layoutText(text, { maxWidth: 600, size: 24, ...options });
const runs = (block: TextBlock) => block.lines.flatMap((l) => l.runs);
/** Each run's logical characters, left to right as drawn. */
const visual = (block: TextBlock, text: string) => runs(block).map((r) => text.slice(r.start, r.end));
const chars = (codePoints: number[]) => String.fromCodePoint(...codePoints);

describe("faces", () => {
  it("choose a face by script, ideographs by the text's language, emoji by presentation", () => {
    const families = (text: string, locale?: string) => runs(set(text, { locale })).map((r) => r.face.family);
    expect(families("Ana 🎓 Lima")).toEqual(["sans", "emoji", "sans"]);
    expect(families("Zoë © Müller")).toEqual(["sans"]);
    expect(families("محمد")).toEqual(["arabic"]);
    expect(families("דוד")).toEqual(["hebrew"]);
    expect(families("देवनागरी")).toEqual(["sans"]);
    expect(families("山田 さくら")).toEqual(["japanese", "japanese"]);
    expect(families("山田太郎")).toEqual(["chinese"]);
    expect(families("山田太郎", "ja-JP")).toEqual(["japanese"]);
    expect(families("김민준")).toEqual(["korean"]);
  });

  it("fall back to a face that has the character when the preferred one lacks it", () => {
    const [run] = runs(set("❤"));
    expect(face("sans", "regular").font.hasGlyphForCodePoint(0x2764)).toBe(false);
    expect(run!.face.family).toBe("emoji");
    expect(run!.glyphs[0]!.id).not.toBe(0);
  });
});

describe("shaping", () => {
  it("joins Arabic letters and draws them right to left", () => {
    const [run] = runs(set("محمد"));
    expect(run!.direction).toBe("rtl");
    expect(chars(run!.glyphs[0]!.codePoints)).toBe("د"); // the last letter is leftmost
    const isolated = [..."محمد"].map((c) => run!.face.font.glyphForCodePoint(c.codePointAt(0)!).id);
    expect(run!.glyphs.map((g) => g.id).reverse()).not.toEqual(isolated); // contextual forms, not isolated ones
  });

  it("forms Devanagari conjuncts and puts the vowel sign i before its consonant", () => {
    const [kshatriya] = runs(set("क्ष"));
    expect(kshatriya!.glyphs).toHaveLength(1);
    expect(chars(kshatriya!.glyphs[0]!.codePoints)).toBe("क्ष");
    const [kiran] = runs(set("किरण"));
    expect(kiran!.glyphs.map((g) => chars(g.codePoints))).toEqual(["ि", "क", "र", "ण"]);
  });

  it("orders mixed right-to-left and left-to-right text by the bidi algorithm, mirroring brackets", () => {
    const text = "مرحبا (123) ٤٥٦ world";
    const block = set(text);
    expect(block.rtl).toBe(true);
    expect(visual(block, text)).toEqual(["world", " ", "٤٥٦", ") ", "123", "مرحبا ("]);
    expect(runs(block).map((r) => r.text)).toEqual(["world", " ", "٤٥٦", "( ", "123", "مرحبا )"]);
    const hebrew = "שלום [x] עולם";
    expect(visual(set(hebrew), hebrew)).toEqual(["עולם", "] ", "x", "שלום ["]);
    const latin = "Ana (محمد) Lima";
    expect(visual(set(latin), latin)).toEqual(["Ana (", "محمد", ") ", "Lima"]);
  });
});

describe("fitting", () => {
  const width = (block: TextBlock) => Math.max(...block.lines.map((l) => l.width * block.size));

  it("keeps a short name at its size and shrinks a long one into its lines", () => {
    expect(set("Ada Lovelace", { size: 40, minSize: 14, maxLines: 3 }).size).toBe(40);
    const long = set("Maximiliana Alexandra Konstantinopoulou Wojciechowska ".repeat(4), { size: 40, minSize: 14, maxLines: 3, maxWidth: 700 });
    expect(long.size).toBeLessThan(40);
    expect(long.size).toBeGreaterThanOrEqual(14);
    expect(long.lines.length).toBeLessThanOrEqual(3);
    expect(width(long)).toBeLessThanOrEqual(700);
  });

  it("never cuts a name: past its smallest size it takes more lines, breaking inside a word if it must", () => {
    const name = "Wolfeschlegelsteinhausenbergerdorffvoralternwarengewissenhaftschaferswessenschafewarenwohlgepflegeundsorgfaltigkeitbeschutzenvonangreifendurchihrraubgierigfeindewelchevoralternzwolftausendjahresvorandieerscheinenwander";
    const block = set(name, { size: 40, minSize: 14, maxLines: 2, maxWidth: 400 });
    expect(block.size).toBe(14);
    expect(block.lines.length).toBeGreaterThan(2);
    expect(block.lines.map((l) => l.text).join("")).toBe(name);
    expect(width(block)).toBeLessThanOrEqual(400);
    expect(block.truncated).toBe(false);
  });

  it("cuts a long description at its last line with an ellipsis when asked", () => {
    const block = set("For completing the advanced welding programme with distinction. ".repeat(20), { size: 13, minSize: 10, maxLines: 3, overflow: "ellipsis" });
    expect(block.truncated).toBe(true);
    expect(block.lines).toHaveLength(3);
    expect(block.lines[2]!.text.endsWith("…")).toBe(true);
    expect(width(block)).toBeLessThanOrEqual(600);
  });

  it("breaks lines at newlines and between ideographs", () => {
    expect(set("first line\nsecond line").lines.map((l) => l.text)).toEqual(["first line", "second line"]);
    const cjk = set("王".repeat(60), { size: 24, maxWidth: 240 });
    expect(cjk.lines.length).toBeGreaterThan(1);
    expect(width(cjk)).toBeLessThanOrEqual(240);
  });
});
