// A bulk file's rows as stored (sql/050): each row's input sealed under the tenant's data key, bound to
// the row's id, with the blind index of its email for erasure. Rows from before keep legacy JSON.
import { randomUUID } from "node:crypto";
import type { TenantKeys } from "../vault/vault.js";
import { normaliseEmail } from "../../lib/email-address.js";
import type { BulkRow } from "./rows.js";

const place = (rowId: string) => ({ table: "bulk_job_rows", column: "input", rowId });

/** The blind index of a row's email when it is a valid address (as recipients index it), else null. */
export function rowEmailIndex(keys: TenantKeys, email: unknown): Uint8Array<ArrayBuffer> | null {
  if (typeof email !== "string") return null;
  const checked = normaliseEmail(email);
  return checked.ok ? keys.blindIndex("email", checked.email) : null;
}

/** A new row's id and sealed columns. */
export function sealRow(keys: TenantKeys, row: object) {
  const id = randomUUID();
  return { id, keyVersion: keys.current, inputSealed: keys.sealJson(place(id), row), emailIndex: rowEmailIndex(keys, (row as { email?: unknown }).email) };
}

/** A stored row's input (an erased row's is {}). @throws SealedFieldError */
export function openRow(keys: TenantKeys, row: { id: string; key_version: number | null; input_sealed: Uint8Array | null; legacy_input: unknown }): BulkRow {
  if (row.input_sealed) return keys.openJson<BulkRow>(place(row.id), row.input_sealed);
  return (row.legacy_input ?? {}) as BulkRow;
}
