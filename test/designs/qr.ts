// Reading a certificate's QR code as a phone would: the page rendered by pdftoppm, decoded by jsQR.
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import jsQRModule from "jsqr";
import { PNG } from "pngjs";

const run = promisify(execFile);
// jsqr's typings describe an ES module; at run time module.exports is the function itself.
const jsQR = jsQRModule as unknown as typeof jsQRModule.default;

/** The PDF's first page rendered by pdftoppm at `dpi`, decoded to RGBA. */
export async function renderPage(pdf: Buffer, dpi = 150): Promise<PNG> {
  const dir = await mkdtemp(join(tmpdir(), "laurel-design-"));
  try {
    await writeFile(join(dir, "c.pdf"), pdf);
    await run("pdftoppm", ["-png", "-r", String(dpi), "-singlefile", join(dir, "c.pdf"), join(dir, "c")]);
    return PNG.sync.read(await readFile(join(dir, "c.png")));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The text of the QR code on the PDF's first page, or null when none is found. */
export async function decodeQr(pdf: Buffer): Promise<string | null> {
  const png = await renderPage(pdf);
  return jsQR(new Uint8ClampedArray(png.data.buffer, png.data.byteOffset, png.data.length), png.width, png.height)?.data ?? null;
}
