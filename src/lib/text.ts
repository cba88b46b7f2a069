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

/**
 * Explicit bidi embeddings, overrides and isolates (LRE RLE PDF LRO RLO U+202A-U+202E; LRI RLI FSI PDI
 * U+2066-U+2069): UAX #9 §2.1-2.4 lets each open a run that reorders everything after it until its
 * terminator, so "Ada \u202Eecalevol" shows as "Ada lovelace" and an unterminated one spills into text
 * that follows the name (a page, a certificate). The implicit marks LRM, RLM and ALM (U+200E, U+200F,
 * U+061C, UAX #9 §2.6) only affect neutrals next to them and stay allowed. Also U+2028/U+2029 (a line or
 * paragraph break, Unicode §5.8), and tag characters U+E0000-U+E007F (invisible; valid only inside an
 * emoji flag tag sequence, which no name needs).
 */
const NAME_FORBIDDEN = /[\u202A-\u202E\u2066-\u2069]|[\r\n\t\u2028\u2029]|[\u{E0000}-\u{E007F}]/u;

/**
 * A letter, digit or symbol that shows: not a default-ignorable code point (Unicode §5.21; the Hangul
 * fillers U+115F, U+1160, U+3164 and U+FFA0 are letters by category yet draw nothing) nor the blank
 * braille pattern U+2800 (a symbol that draws nothing).
 */
const VISIBLE = /(?![\p{Default_Ignorable_Code_Point}\u2800])[\p{L}\p{N}\p{S}]/u;

/**
 * Invisible characters with no use in a name that would make what shows differ from what is signed
 * (and break matching "AdaLovelace" against "Ada\u200BLovelace"): ZERO WIDTH SPACE U+200B, WORD JOINER
 * U+2060, ZERO WIDTH NO-BREAK SPACE (BOM) U+FEFF, SOFT HYPHEN U+00AD (shown only at a line break), and
 * the invisible operators U+2061-U+2064. ZWNJ U+200C stays (Persian, Indic scripts need it).
 */
const NAME_INVISIBLE = /[\u200B\u2060\uFEFF\u00AD\u2061-\u2064]/u;
/** ZERO WIDTH JOINER between two letters of a script where it joins nothing (Latin, Greek, Cyrillic). */
const IDLE_JOINER = /[\p{Script=Latin}\p{Script=Greek}\p{Script=Cyrillic}]\u200D[\p{Script=Latin}\p{Script=Greek}\p{Script=Cyrillic}]/u;
/** More combining marks on one character than any script writes (Tibetan stacks, Vietnamese tone + vowel marks use few). */
const MAX_MARKS = 8;
const MARK_RUN = new RegExp(`\\p{M}{${MAX_MARKS + 1},}`, "u");

/**
 * Why `name` cannot be a person's name, or null when it can. Applies to a name as it will be stored and
 * signed (after `textProblem` accepted it, in NFC, trimmed): one line (no tab, CR, LF, U+2028 or
 * U+2029), no bidi embedding/override/isolate controls (Unicode Standard Annex #9; the marks
 * LRM/RLM/ALM are fine), no tag characters, and at least one visible character (a letter, digit or
 * symbol: \p{L}, \p{N} or \p{S}, but not a Hangul filler or blank braille), so an invisible "\u200B",
 * "\u3164" or marks alone "\u0301\u0301" are refused. Any script, combining marks after a base letter
 * and emoji ZWJ sequences pass. The message names the problem and its 1-based position in code points.
 * Also the rule for the other one-line names signed or shown with a credential: an organisation's
 * (tenant, issuer profile) and an achievement's.
 */
export function personNameProblem(name: string): string | null {
  const match = NAME_FORBIDDEN.exec(name);
  if (match) {
    const codePoint = match[0].codePointAt(0)!;
    const hex = `U+${codePoint.toString(16).toUpperCase().padStart(4, "0")}`;
    const at = `at character ${[...name.slice(0, match.index)].length + 1}`;
    if (/[\r\n\t\u2028\u2029]/.test(match[0])) return `A name is one line: no line breaks, tabs or line/paragraph separators (${hex} ${at})`;
    if (codePoint >= 0xe0000) return `A name cannot contain invisible tag characters (${hex} ${at})`;
    return `A name cannot contain bidirectional embedding, override or isolate controls (${hex} ${at}): they make it display differently from what is stored and signed`;
  }
  if (!VISIBLE.test(name)) return "A name needs at least one visible letter, digit or symbol";
  const invisible = NAME_INVISIBLE.exec(name) ?? IDLE_JOINER.exec(name);
  if (invisible) {
    const index = invisible.index + (invisible[0].length > 1 ? [...invisible[0]][0]!.length : 0);
    const hex = `U+${name.codePointAt(index)!.toString(16).toUpperCase().padStart(4, "0")}`;
    return `A name cannot contain invisible characters that join or split nothing (${hex} at character ${[...name.slice(0, index)].length + 1}): what shows would differ from what is signed`;
  }
  const marks = MARK_RUN.exec(name);
  if (marks) return `A name cannot stack more than ${MAX_MARKS} combining marks on one character (at character ${[...name.slice(0, marks.index)].length + 1})`;
  return null;
}

/**
 * Why `text` (already accepted by `textProblem`) cannot be signed into a credential's free text (a
 * custom field's value merged into its description, say), or null: no bidi embedding, override or
 * isolate controls (UAX #9: "Data \u202E101 ecnacifingis" shows reordered) and no tag characters. Line
 * breaks are a field's own business and stay.
 */
export function signedTextProblem(text: string): string | null {
  const match = /[\u202A-\u202E\u2066-\u2069]|[\u{E0000}-\u{E007F}]/u.exec(text);
  if (!match) return null;
  const hex = `U+${match[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`;
  return `Text signed into a credential cannot contain bidirectional controls or tag characters (${hex} at character ${[...text.slice(0, match.index)].length + 1}): it would display differently from what is signed`;
}
