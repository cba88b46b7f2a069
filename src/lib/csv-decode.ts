// Bytes of an uploaded CSV to text, by the WHATWG Encoding Standard's decoders (Node's TextDecoder):
// a byte-order mark decides (UTF-8, UTF-16LE, UTF-16BE); without one the file is UTF-8, or in the
// encoding the uploader states. Bytes that are not valid in that encoding are refused, naming the first
// bad row and column, never replaced: a U+FFFD in a name would be signed into a credential for good.
import { parse } from "csv-parse/sync";

export type CsvDecoding = { ok: true; text: string; encoding: string } | { ok: false; message: string };

/** WHATWG "BOM sniff" (Encoding Standard §6, decode): the encoding a byte-order mark names, if any. */
function sniffBom(bytes: Uint8Array): string | null {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return "utf-8";
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return "utf-16le";
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return "utf-16be";
  return null;
}

/** The canonical name of a WHATWG encoding label ("latin1" is windows-1252), or null if unknown. */
export function encodingOf(label: string): string | null {
  try {
    return new TextDecoder(label.trim()).encoding;
  } catch {
    return null;
  }
}

function decodes(encoding: string, bytes: Uint8Array, stream: boolean): boolean {
  try {
    new TextDecoder(encoding, { fatal: true }).decode(bytes, { stream });
    return true;
  } catch {
    return false;
  }
}

/** Where the first undecodable byte is, as a CSV row (1 = first row after the header) and column. */
function locate(bytes: Uint8Array, encoding: string): string {
  // The shortest prefix that cannot be decoded ends just past the first bad sequence.
  let lo = 0;
  let hi = bytes.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (decodes(encoding, bytes.subarray(0, mid), true)) lo = mid + 1;
    else hi = mid;
  }
  const offset = Math.max(0, lo - 1);
  // Replacement characters already in the valid prefix are the file's own; the next one is the damage.
  const genuine = [...new TextDecoder(encoding).decode(bytes.subarray(0, offset), { stream: true })].filter((c) => c === "\uFFFD").length;
  const lossy = new TextDecoder(encoding).decode(bytes);
  let records: string[][];
  try {
    records = parse(lossy, { skip_empty_lines: true, relax_column_count: true, relax_quotes: true });
  } catch {
    return `byte ${offset + 1}`;
  }
  let seen = 0;
  for (const [r, record] of records.entries()) {
    for (const [c, cell] of record.entries()) {
      seen += [...cell].filter((ch) => ch === "\uFFFD").length;
      if (seen > genuine) {
        const column = records[0]?.[c]?.trim();
        const where = r === 0 ? "the header" : `row ${r}`;
        return `${where}, column ${column && r > 0 ? `"${column}"` : c + 1} (byte ${offset + 1})`;
      }
    }
  }
  return `byte ${offset + 1}`;
}

const HOW_TO_FIX =
  'Save it as "CSV UTF-8" (Excel: File > Save As > CSV UTF-8), or give the encoding it was saved in (for example encoding: "windows-1252" for Excel\'s "CSV (Comma delimited)")';

/**
 * Decodes an uploaded CSV. `stated` is a WHATWG encoding label the uploader gave (e.g. "windows-1252");
 * a byte-order mark overrides it, as the Encoding Standard's decode algorithm does. The result's text
 * has no byte-order mark. Refusals say where the first bad byte is and how to fix the file.
 */
export function decodeCsv(bytes: Uint8Array, stated?: string | null): CsvDecoding {
  const bom = sniffBom(bytes);
  const encoding = bom ?? (stated ? encodingOf(stated) : "utf-8");
  if (!encoding) return { ok: false, message: `Unknown encoding "${stated}": use a label such as utf-8, windows-1252, iso-8859-15, utf-16le or shift_jis` };
  let text: string;
  try {
    text = new TextDecoder(encoding, { fatal: true }).decode(bytes);
  } catch {
    return { ok: false, message: `The CSV is not valid ${encoding === "utf-8" && !bom && !stated ? "UTF-8" : encoding}: ${locate(bytes, encoding)} has bytes that are not. ${HOW_TO_FIX}` };
  }
  const firstLine = text.slice(0, text.search(/\r|\n|$/));
  if (encoding === "utf-8" && firstLine.includes("\0")) {
    return { ok: false, message: 'The CSV\'s header contains NUL bytes: it looks like UTF-16 without a byte-order mark. Save it as "CSV UTF-8", or give encoding: "utf-16le"' };
  }
  return { ok: true, text, encoding };
}
