// Reading sealed personal data in tests: as the superuser the rows show only ciphertext, so a test that
// checks what was stored opens it with the app's own vault, loading the tenant's keys as the tenant.
import { withTenantSql } from "../../src/db/tenant-transaction.js";
import type { TenantKeys } from "../../src/modules/vault/vault.js";
import { fromSqlRow, openRecipient, type RecipientPersonal } from "../../src/modules/recipients/personal.js";
import { openDocument } from "../../src/modules/credentials/sealed-document.js";
import type { TestApp } from "./app.js";

/** The tenant's data keys, through the app's vault. */
export function keysOf(app: TestApp, tenantId: string): Promise<TenantKeys> {
  return withTenantSql(app.database.sql, { dbRole: app.config.roles.member, tenantId, userId: null }, (tx) => app.database.vault.forTenantSql(tx, tenantId));
}

/** Every recipient of the tenant (or of all tenants when none is given), opened: id, tenant, locale, email, name, attributes. */
export async function openedRecipients(app: TestApp, tenantId?: string): Promise<(RecipientPersonal & { id: string; tenantId: string; locale: string })[]> {
  const rows = await app.db.admin<(Parameters<typeof fromSqlRow>[0] & { tenant_id: string; locale: string })[]>`
    select r.tenant_id, r.locale, r.id, r.key_version, r.email_sealed, r.name_sealed, r.attributes_sealed, r.legacy_email, r.legacy_name, r.legacy_attributes
      from recipients r where ${tenantId ? app.db.admin`r.tenant_id = ${tenantId}` : app.db.admin`true`} order by r.created_at, r.id`;
  const out = [];
  for (const row of rows) {
    const keys = await keysOf(app, row.tenant_id);
    out.push({ id: row.id, tenantId: row.tenant_id, locale: row.locale, ...openRecipient(keys, fromSqlRow(row)) });
  }
  return out;
}

/** The recipient with this email in any tenant (emails are unique per tenant; tests use unique ones). */
export async function openedRecipientByEmail(app: TestApp, email: string) {
  return (await openedRecipients(app)).find((r) => r.email === email) ?? null;
}

/** A credential's signed document, opened (null when erased). */
export async function openedDocument(app: TestApp, credentialId: string): Promise<Record<string, unknown> | null> {
  const [row] = await app.db.admin<{ tenant_id: string; id: string; key_version: number | null; document_sealed: Uint8Array | null; legacy_document: unknown }[]>`
    select tenant_id, id, key_version, document_sealed, legacy_document from credentials where id = ${credentialId}`;
  if (!row) return null;
  const keys = await keysOf(app, row.tenant_id);
  return openDocument(keys, "credentials", { id: row.id, keyVersion: row.key_version, documentSealed: row.document_sealed, legacyDocument: row.legacy_document });
}
