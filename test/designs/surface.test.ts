// The SVG backend of the certificate surface: pdfkit's calls recorded as SVG, images embedded under
// lib/raster.ts's rules (refused ones left out, the rest still drawn), ids of embedded SVGs kept apart.
import { PNG } from "pngjs";
import { describe, expect, it } from "vitest";
import { svgToPng } from "../../src/lib/raster.js";
import { SvgSurface } from "../../src/modules/designs/surface.js";
import { samplePng } from "./samples.js";

const pixel = (png: PNG, x: number, y: number) => [...png.data.subarray((y * png.width + x) * 4, (y * png.width + x) * 4 + 3)];
const raster = (s: SvgSurface) => PNG.sync.read(svgToPng(s.toSvg(), { width: s.page.width }));

describe("SvgSurface", () => {
  it("fills, strokes and clips as pdfkit does, restoring colours and clips on restore()", () => {
    const s = new SvgSurface(100, 50);
    s.save().rect(0, 0, 50, 50).clip();
    s.rect(0, 0, 100, 50).fill("#ff0000"); // clipped to the left half
    s.restore();
    s.rect(60, 10, 20, 20).fill("#0000ff");
    const png = raster(s);
    expect(pixel(png, 25, 25)).toEqual([255, 0, 0]);
    expect(pixel(png, 55, 25)).toEqual([255, 255, 255]);
    expect(pixel(png, 70, 20)).toEqual([0, 0, 255]);
  });

  it("refuses a colour that is not #hex rather than writing it into the SVG", () => {
    expect(() => new SvgSurface(10, 10).rect(0, 0, 1, 1).fill('red"/><script/>')).toThrow(RangeError);
  });

  it("embeds a PNG, leaves out a JPEG and an SVG that refers outside itself, and says which it drew", () => {
    const s = new SvgSurface(100, 50);
    expect(s.image(samplePng(10, 10, [0, 128, 0], [0, 128, 0]), "image/png", 0, 0, 50, 50, "xMidYMid slice")).toBe(true);
    expect(s.image(Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0]), "image/jpeg", 50, 0, 50, 50, "xMidYMid meet")).toBe(false);
    const outside = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><image href="/etc/passwd" width="10" height="10"/></svg>`;
    expect(s.image(Buffer.from(outside), "image/svg+xml", 50, 0, 50, 50, "xMidYMid meet")).toBe(false);
    expect(s.toSvg()).not.toContain("passwd");
    const png = raster(s);
    expect(pixel(png, 25, 25)).toEqual([0, 128, 0]);
    expect(pixel(png, 75, 25)).toEqual([255, 255, 255]);
  });

  it("scales an SVG without a viewBox by its width and height, and keeps two images' ids apart", () => {
    const withGradient = (colour: string) =>
      Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><defs><linearGradient id="g"><stop offset="0" stop-color="${colour}"/><stop offset="1" stop-color="${colour}"/></linearGradient></defs><rect width="10" height="10" fill="url(#g)"/></svg>`);
    const s = new SvgSurface(100, 50);
    expect(s.image(withGradient("#ff0000"), "image/svg+xml", 0, 0, 50, 50, "xMidYMid meet")).toBe(true);
    expect(s.image(withGradient("#0000ff"), "image/svg+xml", 50, 0, 50, 50, "xMidYMid meet")).toBe(true);
    const png = raster(s);
    expect(pixel(png, 25, 10)).toEqual([255, 0, 0]); // scaled from 10×10 to the 50×50 box
    expect(pixel(png, 75, 10)).toEqual([0, 0, 255]); // its own gradient, not the first image's "g"
  });
});
