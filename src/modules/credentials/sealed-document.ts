// Signed credentials as the database holds them (sql/048): the exact JSON text, sealed under the
// tenant's data key with the row's place as AAD. Rows from before keep legacy JSON until sealed.
import type { TenantKeys } from "../vault/vault.js";

export type DocumentTable = "credentials" | "credential_documents";

export interface SealedDocumentRow {
  id: string;
  keyVersion: number | null;
  documentSealed: Uint8Array | null;
  legacyDocument?: unknown;
}

/** The Prisma select openDocument needs. */
export const SEALED_DOCUMENT = { id: true, tenantId: true, keyVersion: true, documentSealed: true, legacyDocument: true } as const;

/** Columns to write for a signed document of row `id` in `table`. */
export function sealDocument(keys: TenantKeys, table: DocumentTable, id: string, document: object) {
  return { keyVersion: keys.current, documentSealed: keys.seal({ table, column: "document", rowId: id }, JSON.stringify(document)) };
}

/** The signed document, or null when there is none (erased). @throws SealedFieldError */
export function openDocument(keys: TenantKeys, table: DocumentTable, row: SealedDocumentRow): Record<string, unknown> | null {
  if (row.documentSealed) {
    const document = keys.openJson<Record<string, unknown>>({ table, column: "document", rowId: row.id }, row.documentSealed);
    return Object.keys(document).length ? document : null;
  }
  const legacy = row.legacyDocument as Record<string, unknown> | null | undefined;
  return legacy && Object.keys(legacy).length ? legacy : null;
}
