// What a bulk row is, how a CSV becomes rows, and how one row is checked, column by column.
import { parse } from "csv-parse/sync";
import { ValidationError, type FieldProblem } from "../../errors.js";
import { checkRecipient } from "../recipients/service.js";
import { checkFieldValues } from "../credentials/service.js";
import type { CustomField } from "../templates/service.js";
import { decodeCsv } from "../../lib/csv-decode.js";
import { nfc, nfcTree, storableText, storableTree, textProblem, textProblemsIn } from "../../lib/text.js";

export const MAX_ROWS = 100_000;

export interface BulkRow {
  email: string;
  name?: string | null;
  externalId?: string | null;
  locale?: string | null;
  fieldValues?: Record<string, unknown> | null;
  issuedAt?: string | null;
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

/** Parses a CSV whose header names the standard columns and the template's custom fields. */
export function rowsFromCsv(text: string, fields: CustomField[]): BulkRow[] {
  let records: string[][];
  try {
    records = parse(text, { bom: true, skip_empty_lines: true, relax_column_count: false, trim: true });
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

/** Checks one row against the template's fields; returns its problems (empty when it can be issued). */
export function checkRow(rowNumber: number, row: BulkRow, fields: CustomField[]): RowProblem[] {
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
  for (const [key, column] of [["issuedAt", "issued_at"], ["validUntil", "valid_until"]] as const) {
    const value = row[key];
    if (value && Number.isNaN(Date.parse(value))) problems.push({ row: rowNumber, column, message: "Not a date (use ISO 8601, e.g. 2026-11-29)" });
  }
  if (row.issuedAt && row.validUntil && Date.parse(row.validUntil) <= Date.parse(row.issuedAt)) {
    problems.push({ row: rowNumber, column: "valid_until", message: "Must be after issued_at" });
  }
  if ((row.idempotencyKey?.length ?? 0) > 200) problems.push({ row: rowNumber, column: "idempotency_key", message: "At most 200 characters" });
  return problems;
}
