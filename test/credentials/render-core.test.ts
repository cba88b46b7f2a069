// The rendering core under generated badges: text set as SVG outlines (svgText) and SVG rasterised to
// PNG (svgToPng). Checked on the pixels: ink where the box is, none outside it, RTL set from the right.
import { PNG } from "pngjs";
import { describe, expect, it } from "vitest";
import { layoutText, type TextBlock } from "../../src/lib/text-layout/layout.js";
import { svgText, type SvgTextBox } from "../../src/lib/text-layout/svg.js";
import { RasterError, svgToPng } from "../../src/lib/raster.js";

const SCALE = 2; // user units to pixels: the PNG is rendered at twice the SVG's width
const BOX = { x: 40, y: 30, width: 320 };
const WIDTH = 400;

/** Lays `name` out in BOX (max 3 lines, shrink to fit) and renders it alone on a transparent page. */
function render(name: string, box: Partial<SvgTextBox> = {}) {
  const block = layoutText(name, { maxWidth: BOX.width, size: 28, minSize: 6, maxLines: 3, overflow: "ellipsis" });
  const height = Math.ceil(block.height + 2 * BOX.y);
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}">${svgText(block, { ...BOX, ...box }, { fill: "#102030" })}</svg>`;
  const png = svgToPng(svg, { width: WIDTH * SCALE });
  return { block, svg, png, image: PNG.sync.read(png), height };
}

/** Pixel bounds of everything drawn (alpha > 0), in user units, or null when nothing is. */
function ink(image: PNG) {
  let left = Infinity, right = -Infinity, top = Infinity, bottom = -Infinity, count = 0;
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < image.width; x++) {
      if (image.data[(y * image.width + x) * 4 + 3]! === 0) continue;
      count++;
      left = Math.min(left, x);
      right = Math.max(right, x + 1);
      top = Math.min(top, y);
      bottom = Math.max(bottom, y + 1);
    }
  }
  return count ? { left: left / SCALE, right: right / SCALE, top: top / SCALE, bottom: bottom / SCALE, count } : null;
}

/** Ink inside the block's box, and none outside it (half a unit of antialiasing allowed). */
function expectInsideBox(image: PNG, block: TextBlock) {
  const bounds = ink(image);
  expect(bounds, "nothing was drawn").not.toBeNull();
  expect(bounds!.left).toBeGreaterThanOrEqual(BOX.x - 0.5);
  expect(bounds!.right).toBeLessThanOrEqual(BOX.x + BOX.width + 0.5);
  expect(bounds!.top).toBeGreaterThanOrEqual(BOX.y - 0.5);
  expect(bounds!.bottom).toBeLessThanOrEqual(BOX.y + block.height + 0.5);
  return bounds!;
}

const NAMES = {
  latin: "Zoë Ångström-Łukasiewicz",
  cyrillic: "Пётр Ильич Чайковский",
  greek: "Ἀριστοτέλης Παπαδόπουλος",
  chinese: "王小明 鄭麗君",
  arabic: "محمد بن عبد الله",
  hebrew: "שלום עליכם",
  devanagari: "श्रीमती क्षितिज शर्मा",
};

describe("svgText + svgToPng", () => {
  it.each(Object.entries(NAMES))("draws a %s name inside its box, at the PNG size asked for", (_, name) => {
    const { block, image, height } = render(name);
    expect(block.unprintable).toEqual([]);
    expect([image.width, image.height]).toEqual([WIDTH * SCALE, height * SCALE]);
    expectInsideBox(image, block);
  });

  it("sets right-to-left names from the right edge and left-to-right ones from the left", () => {
    for (const name of [NAMES.arabic, NAMES.hebrew]) {
      const bounds = ink(render(name).image)!;
      expect(bounds.right).toBeGreaterThan(BOX.x + BOX.width - 4);
      expect(bounds.left).toBeGreaterThan(BOX.x + 60); // short names: the left of the box stays empty
    }
    const latin = ink(render("Ana Lima").image)!;
    expect(latin.left).toBeLessThan(BOX.x + 4);
    expect(latin.right).toBeLessThan(BOX.x + BOX.width - 100);
  });

  it("draws Arabic joined, not as isolated letters", () => {
    // Joined forms are narrower than the letters set apart: the shaped glyphs were drawn.
    const joined = ink(render("محمد").image)!;
    const isolated = ink(render("م ح م د").image)!;
    expect(joined.right - joined.left).toBeLessThan((isolated.right - isolated.left) * 0.8);
  });

  it("centres a line when asked", () => {
    const bounds = ink(render("Ana Lima", { align: "center" }).image)!;
    const middle = BOX.x + BOX.width / 2;
    expect(Math.abs((bounds.left + bounds.right) / 2 - middle)).toBeLessThan(2);
  });

  it("fits a 200-character name in three lines of its box, ink on each", () => {
    const name = "Maximiliana Alexandrovna ".repeat(8).slice(0, 200);
    expect(name).toHaveLength(200);
    const { block, image } = render(name);
    expect(block.lines.length).toBeGreaterThanOrEqual(2);
    expect(block.lines.length).toBeLessThanOrEqual(3);
    expect(block.size).toBeLessThan(28);
    expectInsideBox(image, block);
    // Each line's band has ink of its own.
    let top = BOX.y;
    for (const line of block.lines) {
      const bottom = top + (line.ascent + line.descent) * block.size * block.lineHeight;
      let inked = 0;
      for (let y = Math.ceil(top * SCALE); y < Math.floor(bottom * SCALE); y++) for (let x = 0; x < image.width; x++) inked += image.data[(y * image.width + x) * 4 + 3]! > 0 ? 1 : 0;
      expect(inked).toBeGreaterThan(50);
      top = bottom;
    }
  });

  it("gives the same bytes for the same input", () => {
    expect(render(NAMES.devanagari).png.equals(render(NAMES.devanagari).png)).toBe(true);
  });

  it("keeps the text as a label and refuses a fill that is not a colour", () => {
    const block = layoutText('A <b>&"', { maxWidth: 300, size: 12 });
    expect(svgText(block, { x: 0, y: 0, width: 300 })).toContain('aria-label="A &#60;b&#62;&#38;&#34;"');
    expect(() => svgText(block, { x: 0, y: 0, width: 300 }, { fill: 'red" onload="x' })).toThrow(RangeError);
  });
});

describe("svgToPng refuses what would reach outside the SVG", () => {
  const red = svgToPng('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect width="4" height="4" fill="red"/></svg>', { width: 4 });
  const withImage = (attribute: string, extra = "") =>
    `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" ${extra} width="10" height="10"><image ${attribute} width="10" height="10"/></svg>`;

  it("draws an embedded PNG", () => {
    const image = PNG.sync.read(svgToPng(withImage(`href="data:image/png;base64,${red.toString("base64")}"`), { width: 10 }));
    expect([...image.data.subarray(0, 4)]).toEqual([255, 0, 0, 255]);
  });

  it.each<[string, string, string?]>([
    ["a file by absolute path", 'href="/etc/hostname"'],
    ["a file by relative path", 'xlink:href="../../etc/hostname"'],
    ["a file under a renamed xlink prefix", 'l:href="/etc/hostname"', 'xmlns:l="http://www.w3.org/1999/xlink"'],
    ["a URL", 'href="http://127.0.0.1:9/x.png"'],
    ["an embedded SVG (parsed in turn)", 'href="data:image/svg+xml;base64,PHN2Zy8+"'],
    ["embedded text (sniffed)", 'href="data:text/plain;base64,PHN2Zy8+"'],
  ])("refuses %s", (_, attribute, extra) => {
    expect(() => svgToPng(withImage(attribute, extra), { width: 10 })).toThrow(RasterError);
  });

  it("refuses DOCTYPEs, stylesheet imports, bad XML and silly widths", () => {
    const plain = '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>';
    expect(() => svgToPng(`<!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/hostname">]>${plain}`, { width: 10 })).toThrow(RasterError);
    expect(() => svgToPng('<svg xmlns="http://www.w3.org/2000/svg"><style>@import "/etc/x.css";</style></svg>', { width: 10 })).toThrow(RasterError);
    expect(() => svgToPng('<svg xmlns="http://www.w3.org/2000/svg"><rect fill="url(/x.svg#p)"/></svg>', { width: 10 })).toThrow(RasterError);
    expect(() => svgToPng("<svg><rect></svg>", { width: 10 })).toThrow(RasterError);
    expect(() => svgToPng("<html/>", { width: 10 })).toThrow(RasterError);
    for (const width of [0, -1, 1.5, 5000, NaN]) expect(() => svgToPng(plain, { width })).toThrow(RasterError);
    expect(PNG.sync.read(svgToPng(plain, { width: 10 })).width).toBe(10);
  });

  it("draws no <text> with system fonts: text must come as outlines", () => {
    const image = PNG.sync.read(svgToPng('<svg xmlns="http://www.w3.org/2000/svg" width="100" height="30"><text x="0" y="20" font-size="20">Hello</text></svg>', { width: 100 }));
    expect(ink(image)).toBeNull();
  });
});
