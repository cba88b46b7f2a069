// What a bulk row is, how a CSV becomes rows, and how one row is checked, column by column.
import { parse } from "csv-parse/sync";
import { ValidationError, type FieldProblem } from "../../errors.js";
import { checkRecipient } from "../recipients/service.js";
import { checkFieldValues } from "../credentials/service.js";
import type { CustomField } from "../templates/service.js";
import { DEFAULT_TIME_ZONE, issueDateProblem, parseDateInput } from "../../lib/calendar.js";
import { decodeCsv } from "../../lib/csv-decode.js";
import { nfc, nfcTree, storableText, storableTree, textProblem, textProblemsIn } from "../../lib/text.js";

export const MAX_ROWS = 100_000;

export interface BulkRow {
  email: string;
  name?: string | null;
  externalId?: string | null;
  locale?: string | null;
  fieldValues?: Record<string, unknown> | null;
  /** ISO 8601: a date (the start of that day in the tenant's zone) or a date-time with offset or Z. */
  issuedAt?: string | null;
  /** ISO 8601: a date (valid through the end of that day in the tenant's zone) or a date-time with offset or Z. */
  validUntil?: string | null;
  idempotencyKey?: string | null;
}

export interface RowProblem {
  row: number;
  column: string;
  message: string;
  /** The credential the row's person already holds, when that is the problem (duplicate policy REFUSE). */
  credentialId?: string;
}

const STANDARD_COLUMNS: Record<string, keyof BulkRow> = {
  email: "email",
  name: "name",
  external_id: "externalId",
  locale: "locale",
  issued_at: "issuedAt",
  valid_until: "validUntil",
  idempotency_key: "idempotencyKey",
};

/**
 * A CSV upload's bytes as text (lib/csv-decode.ts: UTF-8 with or without BOM, UTF-16 with BOM, or the
 * encoding the uploader states). Throws ValidationError on ["input", "csv"] naming the first bad row.
 */
export function csvText(bytes: Uint8Array, encoding?: string | null): string {
  const decoded = decodeCsv(bytes, encoding);
  if (!decoded.ok) throw ValidationError.field(["input", encoding && /^Unknown encoding/.test(decoded.message) ? "encoding" : "csv"], decoded.message);
  return decoded.text;
}

/**
 * The separator the header line uses: a comma, or a semicolon (what Excel writes where the decimal mark
 * is a comma: most of Europe) or a tab (Excel's "Unicode text"). Column names hold none of the three, so
 * the most frequent one outside quotes in the first line decides; a comma when there is none.
 */
export function csvDelimiter(text: string): "," | ";" | "\t" {
  const firstLine = text.replace(/^\uFEFF/, "").split(/\r?\n/, 1)[0] ?? "";
  const unquoted = firstLine.replace(/"[^"]*"/g, "");
  const count = (c: string) => unquoted.split(c).length - 1;
  const best = ([",", ";", "\t"] as const).reduce((a, b) => (count(b) > count(a) ? b : a));
  return count(best) > 0 ? best : ",";
}

/** Parses a CSV (comma, semicolon or tab separated: csvDelimiter) whose header names the standard columns and the template's custom fields. */
export function rowsFromCsv(text: string, fields: CustomField[]): BulkRow[] {
  let records: string[][];
  try {
    records = parse(text, { bom: true, skip_empty_lines: true, relax_column_count: false, trim: true, delimiter: csvDelimiter(text) });
  } catch (error) {
    throw ValidationError.field(["input", "csv"], `The CSV cannot be read: ${(error as Error).message}`);
  }
  const [header, ...body] = records;
  if (!header) throw ValidationError.field(["input", "csv"], "The CSV is empty");
  const custom = new Set(fields.map((f) => f.name));
  const columns = header.map((h) => h.trim());
  const unknown = columns.filter((c) => !(c.toLowerCase() in STANDARD_COLUMNS) && !custom.has(c));
  if (unknown.length) {
    throw ValidationError.field(["input", "csv"], `Unknown column(s): ${unknown.join(", ")}. Use ${[...Object.keys(STANDARD_COLUMNS), ...custom].join(", ")}`);
  }
  if (!columns.some((c) => c.toLowerCase() === "email")) throw ValidationError.field(["input", "csv"], "The CSV needs an email column");
  if (body.length > MAX_ROWS) throw ValidationError.field(["input", "csv"], `At most ${MAX_ROWS.toLocaleString("en")} rows`);
  return body.map((cells) => {
    const row: BulkRow = { email: "", fieldValues: {} };
    columns.forEach((column, i) => {
      const value = cells[i] ?? "";
      const standard = STANDARD_COLUMNS[column.toLowerCase()];
      if (standard) (row as unknown as Record<string, unknown>)[standard] = value === "" ? null : value;
      else if (value !== "") row.fieldValues![column] = value;
    });
    return row;
  });
}

const TEXT_COLUMNS = Object.entries(STANDARD_COLUMNS).map(([column, key]) => [key, column] as const);

/**
 * A row's text by lib/text.ts: values that are text come back in NFC; each value that is not is a
 * problem of the row, and is kept only in a form the database can store (for the report).
 */
export function cleanRowText(rowNumber: number, row: BulkRow): { row: BulkRow; problems: RowProblem[] } {
  const problems: RowProblem[] = [];
  const clean: Record<string, unknown> = { ...row };
  for (const [key, column] of TEXT_COLUMNS) {
    const value = row[key];
    if (typeof value !== "string") continue;
    const problem = textProblem(value);
    if (problem) problems.push({ row: rowNumber, column, message: problem });
    clean[key] = problem ? storableText(value) : nfc(value);
  }
  const values = row.fieldValues && typeof row.fieldValues === "object" ? row.fieldValues : {};
  for (const p of textProblemsIn(values)) problems.push({ row: rowNumber, column: p.path[0] ?? "fieldValues", message: p.message });
  clean.fieldValues = storableTree(nfcTree(row.fieldValues ?? null));
  return { row: clean as unknown as BulkRow, problems };
}

const COLUMN_OF: Record<string, string> = { email: "email", name: "name", externalId: "external_id", locale: "locale", attributes: "attributes" };

function toProblems(row: number, error: unknown, fallbackColumn: string): RowProblem[] {
  if (error instanceof ValidationError) {
    const list: FieldProblem[] = error.fieldErrors.length ? error.fieldErrors : [{ path: [fallbackColumn], message: error.message }];
    return list.map((p) => ({ row, column: COLUMN_OF[p.path[p.path.length - 1]!] ?? p.path[p.path.length - 1]!, message: p.message }));
  }
  throw error;
}

/**
 * A row's issued_at and valid_until as instants, read in the tenant's IANA `timeZone` (parseDateInput:
 * a date alone is the start of that day for issued_at, 23:59:59.999 of it for valid_until), with a
 * problem per column that cannot be read, is out of range, or ends before it starts.
 */
export function rowDates(rowNumber: number, row: BulkRow, timeZone: string, now = new Date()) {
  const problems: RowProblem[] = [];
  const read = (value: string | null | undefined, column: string, edge: "start" | "end") => {
    if (!value) return null;
    const parsed = parseDateInput(value, timeZone, edge);
    if (parsed.ok) return parsed.date;
    problems.push({ row: rowNumber, column, message: parsed.message });
    return null;
  };
  const issuedAt = read(row.issuedAt, "issued_at", "start");
  const validUntil = read(row.validUntil, "valid_until", "end");
  const ahead = issuedAt && issueDateProblem(issuedAt, now);
  if (ahead) problems.push({ row: rowNumber, column: "issued_at", message: ahead });
  if (validUntil && validUntil <= (issuedAt ?? now)) {
    problems.push({ row: rowNumber, column: "valid_until", message: issuedAt ? "Must be after issued_at" : "Must be in the future (or give an earlier issued_at)" });
  }
  return { issuedAt, validUntil, problems };
}

/** The row with its dates written as exact instants (RFC 3339, UTC), so issuing it later needs no zone. */
export function withExactDates(row: BulkRow, timeZone: string): BulkRow {
  const { issuedAt, validUntil } = rowDates(0, row, timeZone);
  return { ...row, ...(issuedAt ? { issuedAt: issuedAt.toISOString() } : {}), ...(validUntil ? { validUntil: validUntil.toISOString() } : {}) };
}

/** Checks one row against the template's fields; returns its problems (empty when it can be issued). */
export function checkRow(rowNumber: number, row: BulkRow, fields: CustomField[], timeZone = DEFAULT_TIME_ZONE): RowProblem[] {
  const problems: RowProblem[] = [];
  try {
    checkRecipient({ email: row.email ?? "", name: row.name, externalId: row.externalId, locale: row.locale }, []);
  } catch (error) {
    problems.push(...toProblems(rowNumber, error, "email"));
  }
  try {
    checkFieldValues(fields, row.fieldValues ?? {}, []);
  } catch (error) {
    problems.push(...toProblems(rowNumber, error, "fieldValues"));
  }
  problems.push(...rowDates(rowNumber, row, timeZone).problems);
  if ((row.idempotencyKey?.length ?? 0) > 200) problems.push({ row: rowNumber, column: "idempotency_key", message: "At most 200 characters" });
  return problems;
}
