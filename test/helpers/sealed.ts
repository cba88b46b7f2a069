// Reading sealed personal data in tests: as the superuser the rows show only ciphertext, so a test that
// checks what was stored opens it with the app's own vault, loading the tenant's keys as the tenant.
import { withTenantSql } from "../../src/db/tenant-transaction.js";
import type { TenantKeys } from "../../src/modules/vault/vault.js";
import { fromSqlRow, openRecipient, type RecipientPersonal } from "../../src/modules/recipients/personal.js";
import { openDocument } from "../../src/modules/credentials/sealed-document.js";
import { openClaimed, openListed, type ClaimedSealedRow } from "../../src/modules/delivery/sealed-outbox.js";
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

/**
 * Credentials (all tenants, or one) with their holder's opened email and name and the opened signed
 * document, plus every other credentials column as stored; in issue order.
 */
export async function openedCredentials(app: TestApp, tenantId?: string) {
  const rows = await app.db.admin<Record<string, any>[]>`
    select c.*, r.key_version as r_key_version, r.email_sealed, r.name_sealed, r.attributes_sealed, r.legacy_email, r.legacy_name, r.legacy_attributes
      from credentials c join recipients r on r.tenant_id = c.tenant_id and r.id = c.recipient_id
     where ${tenantId ? app.db.admin`c.tenant_id = ${tenantId}` : app.db.admin`true`} order by c.issued_at, c.id`;
  const out = [];
  for (const row of rows) {
    const keys = await keysOf(app, row.tenant_id);
    const holder = openRecipient(keys, fromSqlRow({ ...row, id: row.recipient_id, key_version: row.r_key_version } as Parameters<typeof fromSqlRow>[0]));
    const document = openDocument(keys, "credentials", { id: row.id, keyVersion: row.key_version, documentSealed: row.document_sealed, legacyDocument: row.legacy_document });
    out.push({ ...row, email: holder.email, name: holder.name, document } as Record<string, any>);
  }
  return out;
}

/**
 * Outbox messages (all tenants, or one), opened: every column as stored plus to_email, subject, html,
 * text_body, last_error, payload and content as sent; in queue order.
 */
export async function openedMessages(app: TestApp, tenantId?: string) {
  const rows = await app.db.admin<Record<string, any>[]>`
    select * from email_outbox o where ${tenantId ? app.db.admin`o.tenant_id = ${tenantId}` : app.db.admin`true`} order by o.created_at, o.id`;
  const out = [];
  for (const row of rows) {
    const keys = await keysOf(app, row.tenant_id);
    const listed = openListed(keys, {
      id: row.id, keyVersion: row.key_version, toEmailSealed: row.to_email_sealed, subjectSealed: row.subject_sealed, htmlSealed: row.html_sealed,
      textBodySealed: row.text_body_sealed, lastErrorSealed: row.last_error_sealed, legacyToEmail: row.legacy_to_email, legacySubject: row.legacy_subject,
      legacyHtml: row.legacy_html, legacyTextBody: row.legacy_text_body, legacyLastError: row.legacy_last_error,
    });
    const claimed = openClaimed(keys, row as ClaimedSealedRow);
    out.push({ ...row, to_email: listed.toEmail, subject: listed.subject, html: listed.html, text_body: listed.text, last_error: listed.lastError, payload: claimed.payload, content: claimed.content } as Record<string, any>);
  }
  return out;
}

/** The tenant's outbox messages of `kind`, opened (payload {} once sent: a sent message's secret goes). */
export async function outboxOf(app: TestApp, tenantId: string, kind: string) {
  return (await openedMessages(app, tenantId)).filter((m) => m.kind === kind);
}
