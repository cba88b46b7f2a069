// Visual regression of the certificate layouts: each layout with a name in eight scripts (and one of 200
// characters) drawn to PNG at 600 px from fixed inputs (samples.ts: fixed dates, ids, colours; the clock
// is frozen), compared with the references in test/designs/reference/ by pixelmatch. A change that
// moves ink on more than MAX_DIFF of the pixels fails, with the actual and diff PNGs written to a temp
// folder to look at. `UPDATE_REFERENCES=1` rewrites the references (look at them before committing).
// Then the PNG and the PDF of the same design are held to agree: pdftoppm rasterises the PDF at the same
// size, and the two may differ only by anti-aliasing (a looser tolerance), and the name's ink box must match.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pixelmatch from "pixelmatch";
import { PNG } from "pngjs";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { certificatePdf, certificatePng } from "../../src/modules/credentials/certificate-pdf.js";
import { LAYOUTS, type Layout } from "../../src/modules/designs/design.js";
import { sampleCredential, sampleDesign, samplePng } from "./samples.js";

const WIDTH = 600;
/** pixelmatch's per-pixel colour threshold (0..1; YIQ distance), and the share of pixels allowed to differ. */
const THRESHOLD = 0.1;
const MAX_DIFF = 0.005;
/** PDF (poppler) against PNG (resvg): two rasterisers anti-alias glyph edges differently. */
const MAX_DIFF_PDF = 0.03;
const REFERENCES = join(import.meta.dirname, "reference");
const UPDATE = process.env.UPDATE_REFERENCES === "1";

const NAMES: Record<string, string> = {
  latin: "Amelia Rosalind Fairweather",
  cyrillic: "Александр Пушкин",
  greek: "Γιώργος Παπαδόπουλος",
  chinese: "王小明",
  arabic: "محمد عبد الله",
  hebrew: "דוד כהן",
  devanagari: "किरण शर्मा",
  long: "Maximiliana Alexandra Konstantinopoulou Wojciechowska von Hohenzollern Sigmaringen ".repeat(3).slice(0, 200),
};

let out: string;
beforeAll(() => {
  // The status ("Valid", "Expired") depends on today: freeze it inside the sample's validity.
  vi.useFakeTimers({ toFake: ["Date"], now: new Date("2026-06-01T12:00:00Z") });
  out = mkdtempSync(join(tmpdir(), "laurel-visual-"));
});
afterAll(() => vi.useRealTimers());

// Classic with a PNG background too, so the embedded-PNG path is covered by the pictures; minimal's title
// in a colour of its own, so the name (in ink) can be found by its colour.
const design = (layout: Layout) =>
  sampleDesign(layout, layout === "classic" ? { background: { contentType: "image/png", bytes: samplePng(32, 32, [252, 250, 244], [240, 234, 220]) } } : layout === "minimal" ? { primaryColor: "#7c2d12" } : {});
const render = (layout: Layout, name: string) =>
  certificatePng(sampleCredential(name), "https://laurel.test/verify", { timeZone: "Europe/Berlin", design: design(layout), width: WIDTH });

/** Number of pixels that differ between two PNGs of the same size, and the diff picture. */
function compare(actual: PNG, expected: PNG): { differing: number; diff: PNG } {
  const diff = new PNG({ width: actual.width, height: actual.height });
  const differing = pixelmatch(actual.data, expected.data, diff.data, actual.width, actual.height, { threshold: THRESHOLD });
  return { differing, diff };
}

describe("certificate pictures match their references", () => {
  for (const layout of LAYOUTS) {
    for (const [script, name] of Object.entries(NAMES)) {
      it(`${layout} with a ${script} name`, async () => {
        const bytes = await render(layout, name);
        const file = join(REFERENCES, `${layout}-${script}.png`);
        if (UPDATE || !existsSync(file)) {
          if (!UPDATE) throw new Error(`no reference ${file}: run with UPDATE_REFERENCES=1 and look at it`);
          mkdirSync(REFERENCES, { recursive: true });
          writeFileSync(file, bytes);
          return;
        }
        const actual = PNG.sync.read(bytes);
        const expected = PNG.sync.read(readFileSync(file));
        expect([actual.width, actual.height]).toEqual([expected.width, expected.height]);
        const { differing, diff } = compare(actual, expected);
        const share = differing / (actual.width * actual.height);
        if (share > MAX_DIFF) {
          writeFileSync(join(out, `${layout}-${script}.actual.png`), bytes);
          writeFileSync(join(out, `${layout}-${script}.diff.png`), PNG.sync.write(diff));
        }
        expect(share, `${differing} pixels differ (${(share * 100).toFixed(2)}%, at most ${MAX_DIFF * 100}% allowed): see ${out}`).toBeLessThanOrEqual(MAX_DIFF);
      });
    }
  }
});

/** Rasterises a one-page PDF with poppler at `width` pixels (height by the page's aspect). */
function pdfToPng(pdf: Buffer, width: number, height: number): PNG {
  const base = join(out, `pdf-${Math.random().toString(36).slice(2)}`);
  writeFileSync(`${base}.pdf`, pdf);
  execFileSync("pdftoppm", ["-png", "-singlefile", "-scale-to-x", String(width), "-scale-to-y", String(height), `${base}.pdf`, base]);
  return PNG.sync.read(readFileSync(`${base}.png`));
}

/** Where each layout may draw the name, as fractions of the page (left, top, right, bottom): away from frames and panels. */
const NAME_AREA: Record<Layout, [number, number, number, number]> = {
  classic: [0.1, 0.25, 0.9, 0.75],
  modern: [0.33, 0.2, 1, 0.75], // right of the panel, which is in the name's colour
  minimal: [0, 0.25, 1, 0.7],
};

/**
 * The ink box of the name: pixels in `color` (within 40 per channel: solid ink, not anti-aliased edges)
 * inside `area`, grouped into text lines (rows of ink, gaps under 4 rows merged); the name is the
 * tallest line and any line at least 75% as tall (it is set far larger than anything else in its colour).
 */
function nameBox(png: PNG, color: [number, number, number], area: [number, number, number, number]) {
  const [left, top, right, bottom] = [area[0] * png.width, area[1] * png.height, area[2] * png.width, area[3] * png.height].map(Math.round) as [number, number, number, number];
  const inked = (x: number, y: number) => {
    const i = (y * png.width + x) * 4;
    return color.every((c, k) => Math.abs(png.data[i + k]! - c) < 40) && png.data[i + 3]! > 200;
  };
  const lines: [number, number][] = [];
  for (let y = top; y < bottom; y++) {
    let any = false;
    for (let x = left; x < right && !any; x++) any = inked(x, y);
    if (!any) continue;
    const last = lines.at(-1);
    if (last && y - last[1] <= 4) last[1] = y;
    else lines.push([y, y]);
  }
  const tallest = Math.max(...lines.map(([a, b]) => b - a));
  const name = lines.filter(([a, b]) => b - a >= 0.75 * tallest);
  let [x0, x1] = [Infinity, -1];
  for (const [a, b] of name)
    for (let y = a; y <= b; y++)
      for (let x = left; x < right; x++) if (inked(x, y)) [x0, x1] = [Math.min(x0, x), Math.max(x1, x)];
  return { x0, y0: name[0]![0], x1, y1: name.at(-1)![1] };
}

describe("the PNG and the PDF of a certificate agree", () => {
  for (const layout of LAYOUTS) {
    for (const script of ["latin", "arabic", "chinese"]) {
      it(`${layout} with a ${script} name`, async () => {
        const name = NAMES[script]!;
        const png = PNG.sync.read(await render(layout, name));
        const pdf = pdfToPng(await certificatePdf(sampleCredential(name), "https://laurel.test/verify", { timeZone: "Europe/Berlin", design: design(layout) }), png.width, png.height);
        expect([pdf.width, pdf.height]).toEqual([png.width, png.height]);
        // The PNG's footer does not say the credential is attached (it is not): blank the footer rows out.
        const footerTop = Math.round(png.height * 0.86);
        for (const image of [png, pdf]) image.data.fill(255, footerTop * png.width * 4);
        const { differing, diff } = compare(png, pdf);
        const share = differing / (png.width * png.height);
        if (share > MAX_DIFF_PDF) writeFileSync(join(out, `${layout}-${script}.pdf-diff.png`), PNG.sync.write(diff));
        expect(share, `${differing} pixels differ between PNG and PDF: see ${out}`).toBeLessThanOrEqual(MAX_DIFF_PDF);
        // The name is drawn in the layout's name colour: its ink box is where it is in both, within 2 px.
        const rgb = (hex: string) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)) as [number, number, number];
        const d = design(layout);
        const colour = rgb(layout === "minimal" ? "#1a1a1a" : d.primaryColor);
        const a = nameBox(png, colour, NAME_AREA[layout]);
        const b = nameBox(pdf, colour, NAME_AREA[layout]);
        expect(a.x1).toBeGreaterThan(a.x0);
        for (const k of ["x0", "y0", "x1", "y1"] as const) expect(Math.abs(a[k] - b[k]), `${k}: PNG ${a[k]}, PDF ${b[k]}`).toBeLessThanOrEqual(2);
      });
    }
  }
});
