// What Laurel accepts as text, in one rule for every input (GraphQL arguments, bulk rows, CSV cells):
// Unicode in NFC, without characters that PostgreSQL cannot store or that no person types. A signed
// credential is kept forever, so text is refused with a reason rather than silently repaired.
import type { FieldProblem } from "../errors.js";

/**
 * Control characters (C0 except tab, line feed and carriage return; DEL; C1), unpaired surrogates,
 * Unicode noncharacters and U+FFFD (a replacement character means the text was damaged before it
 * reached us: Unicode 15 §3.9, §23.7). Under the `u` flag a lone surrogate is its own code point.
 */
const NOT_TEXT = /(?![\t\n\r])[\p{Cc}\p{Cs}\p{Noncharacter_Code_Point}\uFFFD]/u;
const NOT_TEXT_ALL = new RegExp(NOT_TEXT.source, "gu");

const NAMES: Record<number, string> = { 0: "NUL", 0x7f: "DEL", 0xfffd: "the replacement character" };

function describe(codePoint: number): string {
  const hex = `U+${codePoint.toString(16).toUpperCase().padStart(4, "0")}`;
  if (codePoint >= 0xd800 && codePoint <= 0xdfff) return `an unpaired surrogate (${hex})`;
  const name = NAMES[codePoint];
  return name ? `${hex} (${name})` : codePoint <= 0x9f ? `the control character ${hex}` : `the noncharacter ${hex}`;
}

/**
 * Why `value` is not acceptable text, or null when it is. Positions are 1-based and count code points,
 * as a person counts characters.
 */
export function textProblem(value: string): string | null {
  const match = NOT_TEXT.exec(value);
  if (!match) return null;
  const position = [...value.slice(0, match.index)].length + 1;
  return `Contains ${describe(match[0].codePointAt(0)!)} at character ${position}: only text can be stored (no NUL, control characters or unpaired surrogates)`;
}

/** The NFC form of `value` (Unicode Standard Annex #15); call only on text `textProblem` accepts. */
export function nfc(value: string): string {
  return value.normalize("NFC");
}

/**
 * `value` with every character `textProblem` refuses replaced by U+FFFD: only for keeping a refused
 * input where it can be shown back (a failed bulk row), never for anything signed or sent.
 */
export function storableText(value: string): string {
  return value.replace(NOT_TEXT_ALL, "\uFFFD");
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object") return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Every string in a JSON-like tree (plain objects, arrays; object keys too) that is not text, with its
 * path under `base`. Other values (numbers, Dates, Files) are left alone.
 */
export function textProblemsIn(value: unknown, base: string[] = []): FieldProblem[] {
  if (typeof value === "string") {
    const problem = textProblem(value);
    return problem ? [{ path: base, message: problem }] : [];
  }
  if (Array.isArray(value)) return value.flatMap((v, i) => textProblemsIn(v, [...base, String(i)]));
  if (!isPlainObject(value)) return [];
  return Object.entries(value).flatMap(([key, v]) => {
    const keyProblem = textProblem(key);
    return keyProblem ? [{ path: [...base, storableText(key)], message: `Key ${keyProblem.slice(0, 1).toLowerCase()}${keyProblem.slice(1)}` }] : textProblemsIn(v, [...base, key]);
  });
}

/** A copy of a JSON-like tree with every string (and key) that is text put in NFC; the rest as it was. */
export function nfcTree<T>(value: T): T {
  if (typeof value === "string") return (textProblem(value) ? value : nfc(value)) as T;
  if (Array.isArray(value)) return value.map((v) => nfcTree(v)) as T;
  if (!isPlainObject(value)) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [textProblem(k) ? k : nfc(k), nfcTree(v)])) as T;
}

/** A copy of a JSON-like tree that PostgreSQL can store (see `storableText`). */
export function storableTree<T>(value: T): T {
  if (typeof value === "string") return storableText(value) as T;
  if (Array.isArray(value)) return value.map((v) => storableTree(v)) as T;
  if (!isPlainObject(value)) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [storableText(k), storableTree(v)])) as T;
}
