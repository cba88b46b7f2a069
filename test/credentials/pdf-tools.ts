// Reading a PDF as a person's tools do: poppler's pdftotext (the text a reader would copy, and where
// each word sits) and pdffonts (which fonts it carries). Debian's poppler-utils; .ci/run installs it.
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

async function withFile<T>(pdf: Buffer, use: (path: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), "laurel-pdf-"));
  try {
    const path = join(dir, "doc.pdf");
    await writeFile(path, pdf);
    return await use(path);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// pdftotext wraps right-to-left text in embedding controls (U+202B … U+202C); they are not the text.
const BIDI_CONTROLS = /[\u200E\u200F\u202A-\u202E\u2066-\u2069]/g;

/** The PDF's text in reading order, bidi controls removed and every run of white space made one space. */
export async function pdfText(pdf: Buffer): Promise<string> {
  const { stdout } = await withFile(pdf, (path) => run("pdftotext", ["-enc", "UTF-8", path, "-"]));
  return stdout.replace(BIDI_CONTROLS, "").replace(/\s+/g, " ").trim();
}

export interface PdfWord {
  text: string;
  xMin: number;
  yMin: number;
  xMax: number;
  yMax: number;
}

/** Every word pdftotext finds, with its box in points (origin top left). */
export async function pdfWords(pdf: Buffer): Promise<{ width: number; height: number; words: PdfWord[] }> {
  const { stdout } = await withFile(pdf, (path) => run("pdftotext", ["-bbox", "-enc", "UTF-8", path, "-"]));
  const page = /<page width="([\d.]+)" height="([\d.]+)"/.exec(stdout)!;
  const words = [...stdout.matchAll(/<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)<\/word>/g)].map((m) => ({
    xMin: Number(m[1]),
    yMin: Number(m[2]),
    xMax: Number(m[3]),
    yMax: Number(m[4]),
    text: m[5]!.replace(/&amp;/g, "&").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&apos;/g, "'"),
  }));
  return { width: Number(page[1]), height: Number(page[2]), words };
}

export interface PdfFont {
  name: string;
  type: string;
  embedded: boolean;
  subset: boolean;
  unicode: boolean;
}

/** The fonts pdffonts lists (every font a page uses). */
export async function pdfFonts(pdf: Buffer): Promise<PdfFont[]> {
  const { stdout } = await withFile(pdf, (path) => run("pdffonts", [path]));
  return stdout
    .split("\n")
    .slice(2)
    .filter((line) => line.trim())
    .map((line) => {
      const m = /^(\S+)\s+(.+?)\s+(\S+)\s+(yes|no)\s+(yes|no)\s+(yes|no)\s+\d+\s+\d+\s*$/.exec(line)!;
      return { name: m[1]!, type: m[2]!, embedded: m[4] === "yes", subset: m[5] === "yes", unicode: m[6] === "yes" };
    });
}
