// Reading sealed personal data in tests: as the superuser the rows show only ciphertext, so a test that
// checks what was stored opens it with the app's own vault, loading the tenant's keys as the tenant.
import { withTenantSql } from "../../src/db/tenant-transaction.js";
import type { TenantKeys } from "../../src/modules/vault/vault.js";
import { fromSqlRow, openRecipient, type RecipientPersonal } from "../../src/modules/recipients/personal.js";
import { openDocument } from "../../src/modules/credentials/sealed-document.js";
import { openClaimed, openListed, type ClaimedSealedRow } from "../../src/modules/delivery/sealed-outbox.js";
import type { FixedContent } from "../../src/modules/delivery/compose.js";
import { openInvitationEmail } from "../../src/modules/members/invitation-email.js";
import { openGuardian, openRectification, openRequestedChanges, openSubjectEmail } from "../../src/modules/privacy/sealed.js";
import { openLinkPayload } from "../../src/modules/privacy/links.js";
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

/** An outbox message as stored, with its sealed fields opened (legacy rows read the same way). */
export interface OpenedMessage {
  id: string;
  tenantId: string;
  kind: string;
  status: string;
  createdAt: Date;
  credentialId: string | null;
  recipientId: string | null;
  toEmail: string;
  payload: Record<string, unknown>;
  content: FixedContent | null;
  subject: string | null;
  html: string | null;
  text: string | null;
  lastError: string | null;
  /** The raw row, for asserting what the database itself holds (ciphertext, legacy columns). */
  raw: Record<string, unknown>;
}

/**
 * Outbox messages (of one tenant, or of all when none is given), oldest first, opened with each tenant's
 * keys. `toEmail` keeps those sent to that exact address; `kind` those of that kind.
 */
export async function openedMessages(app: TestApp, filter: { tenantId?: string; toEmail?: string; kind?: string } = {}): Promise<OpenedMessage[]> {
  const sql = app.db.admin;
  const rows = await sql<Record<string, any>[]>`
    select * from email_outbox
     where ${filter.tenantId ? sql`tenant_id = ${filter.tenantId}` : sql`true`} and ${filter.kind ? sql`kind = ${filter.kind}` : sql`true`}
     order by created_at, id`;
  const keysByTenant = new Map<string, TenantKeys>();
  const out: OpenedMessage[] = [];
  for (const row of rows) {
    let keys = keysByTenant.get(row.tenant_id);
    if (!keys) keysByTenant.set(row.tenant_id, (keys = await keysOf(app, row.tenant_id)));
    const claimed = openClaimed(keys, row as ClaimedSealedRow);
    const listed = openListed(keys, {
      id: row.id, keyVersion: row.key_version, toEmailSealed: row.to_email_sealed, subjectSealed: row.subject_sealed, htmlSealed: row.html_sealed,
      textBodySealed: row.text_body_sealed, lastErrorSealed: row.last_error_sealed, legacyToEmail: row.legacy_to_email, legacySubject: row.legacy_subject,
      legacyHtml: row.legacy_html, legacyTextBody: row.legacy_text_body, legacyLastError: row.legacy_last_error,
    });
    if (filter.toEmail !== undefined && claimed.to_email !== filter.toEmail) continue;
    out.push({
      id: row.id, tenantId: row.tenant_id, kind: row.kind, status: row.status, createdAt: row.created_at, credentialId: row.credential_id ?? null,
      recipientId: row.recipient_id ?? null, toEmail: claimed.to_email, payload: claimed.payload, content: claimed.content,
      subject: listed.subject, html: listed.html, text: listed.text, lastError: listed.lastError, raw: row,
    });
  }
  return out;
}

/** The tenant's outbox messages of `kind`, opened, in the stored columns' names (payload {} once sent: a sent message's secret goes). */
export async function outboxOf(app: TestApp, tenantId: string, kind: string) {
  return (await openedMessages(app, { tenantId, kind })).map((m) => ({ id: m.id, kind: m.kind, status: m.status, to_email: m.toEmail, payload: m.payload as Record<string, any> }));
}

/** The token in the newest message sent to this address (in that tenant when given). @throws Error when it holds none */
export async function tokenSentTo(app: TestApp, email: string, tenantId?: string): Promise<string> {
  const newest = (await openedMessages(app, { toEmail: email, tenantId })).at(-1);
  if (typeof newest?.payload.token !== "string") throw new Error(`no token in the newest message to ${email}`);
  return newest.payload.token;
}

/** The tenant's invitations with their address opened (staff copy; legacy rows read their plain column), oldest first. */
export async function openedInvitations(app: TestApp, tenantId: string) {
  const rows = await app.db.admin<{ id: string; role: string; key_version: number | null; email_sealed: Uint8Array | null; legacy_email: string | null; accepted_at: Date | null; revoked_at: Date | null }[]>`
    select id, role::text, key_version, email_sealed, legacy_email, accepted_at, revoked_at from invitations where tenant_id = ${tenantId} order by created_at, id`;
  const keys = await keysOf(app, tenantId);
  return rows.map((r) => ({
    id: r.id, role: r.role, acceptedAt: r.accepted_at, revokedAt: r.revoked_at,
    email: openInvitationEmail(keys, { id: r.id, keyVersion: r.key_version, emailSealed: r.email_sealed, legacyEmail: r.legacy_email }),
  }));
}

/** Guardian consents (of one tenant, or all), each raw row with the guardian's opened address and name (null once erased). */
export async function openedGuardianConsents(app: TestApp, tenantId?: string) {
  const sql = app.db.admin;
  const rows = await sql<Record<string, any>[]>`
    select * from guardian_consents where ${tenantId ? sql`tenant_id = ${tenantId}` : sql`true`} order by requested_at, id`;
  const out = [];
  for (const row of rows) {
    const keys = await keysOf(app, row.tenant_id);
    const opened = openGuardian(keys, {
      id: row.id, keyVersion: row.key_version, guardianEmailSealed: row.guardian_email_sealed, guardianNameSealed: row.guardian_name_sealed,
      legacyGuardianEmail: row.legacy_guardian_email, legacyGuardianName: row.legacy_guardian_name,
    });
    out.push({ ...row, guardianEmail: opened.guardianEmail, guardianName: opened.guardianName } as Record<string, any>);
  }
  return out;
}

/** Privacy links (of one tenant, or all), each raw row with its opened address (`sentTo`, null when none) and payload. */
export async function openedPrivacyLinks(app: TestApp, tenantId?: string) {
  const sql = app.db.admin;
  const rows = await sql<Record<string, any>[]>`
    select * from privacy_links where ${tenantId ? sql`tenant_id = ${tenantId}` : sql`true`} order by created_at, id`;
  const out = [];
  for (const row of rows) {
    const keys = await keysOf(app, row.tenant_id);
    const sentTo = row.sent_to_sealed ? keys.open({ table: "privacy_links", column: "sent_to", rowId: row.id }, row.sent_to_sealed) : (row.legacy_sent_to ?? null);
    const payload = openLinkPayload(keys, { id: row.id, payloadSealed: row.payload_sealed, legacyPayload: row.legacy_payload });
    out.push({ ...row, sentTo, payload } as Record<string, any>);
  }
  return out;
}

/** Data subject requests (of one tenant, or all), each raw row with its opened subject address and requested changes. */
export async function openedRequests(app: TestApp, tenantId?: string) {
  const sql = app.db.admin;
  const rows = await sql<Record<string, any>[]>`
    select * from data_subject_requests where ${tenantId ? sql`tenant_id = ${tenantId}` : sql`true`} order by created_at, id`;
  const out = [];
  for (const row of rows) {
    const keys = await keysOf(app, row.tenant_id);
    const sealed = {
      id: row.id, keyVersion: row.key_version, requestedChangesSealed: row.requested_changes_sealed, legacyRequestedChanges: row.legacy_requested_changes,
      subjectEmailSealed: row.subject_email_sealed, legacySubjectEmail: row.legacy_subject_email,
    };
    out.push({ ...row, subjectEmail: openSubjectEmail(keys, sealed), requestedChanges: openRequestedChanges(keys, sealed) } as Record<string, any>);
  }
  return out;
}

/** Rectification history rows (of one tenant, or all), each raw row with its opened old/new name and email. */
export async function openedRectifications(app: TestApp, tenantId?: string) {
  const sql = app.db.admin;
  const rows = await sql<Record<string, any>[]>`
    select * from recipient_rectifications where ${tenantId ? sql`tenant_id = ${tenantId}` : sql`true`} order by rectified_at, id`;
  const out = [];
  for (const row of rows) {
    const keys = await keysOf(app, row.tenant_id);
    const values = openRectification(keys, {
      id: row.id, keyVersion: row.key_version, oldNameSealed: row.old_name_sealed, newNameSealed: row.new_name_sealed,
      oldEmailSealed: row.old_email_sealed, newEmailSealed: row.new_email_sealed, legacyOldName: row.legacy_old_name,
      legacyNewName: row.legacy_new_name, legacyOldEmail: row.legacy_old_email, legacyNewEmail: row.legacy_new_email,
    });
    out.push({ ...row, ...values } as Record<string, any>);
  }
  return out;
}
