// Hand-written multi-row inserts for bulk issuance: one statement per table and chunk, columns passed
// as arrays through unnest, on the unit of work's own connection (boundQuery: same transaction, same
// RLS claims). Prisma's createMany, and even its raw queries, spent more CPU handling 250 large JSON
// parameters than the database spent storing them.
import type { TenantKeys } from "../vault/vault.js";
import { fromSqlRow, openRecipient, SEALED_RECIPIENT_SQL } from "../recipients/personal.js";
import { sealRow } from "./sealed-rows.js";
import { boundQuery } from "../../db/request-connection.js";
import { packBytea } from "../../db/bytea.js";

export interface CredentialRow {
  id: string;
  recipientId: string;
  statusListId: string;
  statusIndex: number;
  suspensionListId: string;
  suspensionIndex: number;
  validFrom: Date;
  validUntil: Date | null;
  fieldValues: Record<string, string>;
  /** The signed document, sealed (credentials/sealed-document.ts). */
  documentSealed: Uint8Array;
  keyVersion: number;
  idempotencyKey: string | null;
}

/**
 * Inserts a chunk's credentials; `uniqueAward` per the template's duplicate policy. A credential
 * that would be a second award (credentials_unique_award: another issuance committed first) is
 * skipped. Returns the ids inserted.
 */
export async function insertCredentials(
  tenantId: string,
  templateId: string,
  version: number,
  rows: CredentialRow[],
  uniqueAward: boolean,
  bulkJobId: string,
): Promise<Set<string>> {
  if (!rows.length) return new Set();
  const documents = packBytea(rows.map((r) => r.documentSealed));
  const result = await boundQuery<{ id: string }>(
    `insert into credentials (tenant_id, id, template_id, template_version, recipient_id, status_list_id, status_index,
                              suspension_list_id, suspension_index, valid_from, valid_until, field_values, key_version, document_sealed, idempotency_key, unique_award,
                              bulk_job_id)
     select $1::uuid, u.id, $2::uuid, $3::int, u.recipient_id, u.status_list_id, u.status_index,
            u.suspension_list_id, u.suspension_index, u.valid_from, u.valid_until, u.field_values::jsonb, $17::int,
            substring($13::bytea from u.document_at for u.document_length), u.idempotency_key, $15::boolean, $16::uuid
       from unnest($4::uuid[], $5::uuid[], $6::uuid[], $7::int[], $8::uuid[], $9::int[], $10::timestamptz[], $11::timestamptz[],
                   $12::text[], $18::int[], $19::int[], $14::text[])
         as u(id, recipient_id, status_list_id, status_index, suspension_list_id, suspension_index, valid_from, valid_until,
              field_values, document_at, document_length, idempotency_key)
     on conflict (tenant_id, template_id, recipient_id) where unique_award and status <> 'REVOKED' do nothing
     returning id`,
    [
      tenantId,
      templateId,
      version,
      rows.map((r) => r.id),
      rows.map((r) => r.recipientId),
      rows.map((r) => r.statusListId),
      rows.map((r) => r.statusIndex),
      rows.map((r) => r.suspensionListId),
      rows.map((r) => r.suspensionIndex),
      rows.map((r) => r.validFrom),
      rows.map((r) => r.validUntil),
      rows.map((r) => JSON.stringify(r.fieldValues)),
      documents.bytes,
      rows.map((r) => r.idempotencyKey),
      uniqueAward,
      bulkJobId,
      rows[0]!.keyVersion,
      documents.starts,
      documents.lengths,
    ],
  );
  return new Set(result.rows.map((r) => r.id));
}

/** Which of these idempotency keys the tenant's credentials already use. */
export async function existingIdempotencyKeys(tenantId: string, keys: string[]): Promise<Set<string>> {
  if (!keys.length) return new Set();
  const { rows } = await boundQuery<{ key: string }>(
    `select idempotency_key as key from credentials where tenant_id = $1::uuid and idempotency_key = any($2::text[])`,
    [tenantId, keys],
  );
  return new Set(rows.map((r) => r.key));
}

/** The (opened) email of the tenant's recipient holding each of these external ids. */
export async function recipientsByExternalId(keys: TenantKeys, externalIds: string[]): Promise<Map<string, string>> {
  if (!externalIds.length) return new Map();
  const { rows } = await boundQuery<Parameters<typeof fromSqlRow>[0] & { external_id: string }>(
    `select r.external_id, ${SEALED_RECIPIENT_SQL} from recipients r where r.tenant_id = $1::uuid and r.external_id = any($2::text[])`,
    [keys.tenantId, externalIds],
  );
  return new Map(rows.map((r) => [r.external_id, openRecipient(keys, fromSqlRow(r)).email]));
}

export interface AuditRow {
  action: string;
  targetType: string;
  targetId: string;
  details: object;
}

export async function insertAudit(tenantId: string, actor: { kind: string; id: string | null }, requestId: string | null, rows: AuditRow[]) {
  if (!rows.length) return;
  await boundQuery(
    `insert into audit_log (tenant_id, actor_kind, actor_id, request_id, action, target_type, target_id, details)
     select $1::uuid, $2::actor_kind, $3::uuid, $4, u.action, u.target_type, u.target_id, u.details::jsonb
       from unnest($5::text[], $6::text[], $7::text[], $8::text[]) as u(action, target_type, target_id, details)`,
    [tenantId, actor.kind, actor.id, requestId, rows.map((r) => r.action), rows.map((r) => r.targetType), rows.map((r) => r.targetId), rows.map((r) => JSON.stringify(r.details))],
  );
}

export async function markRows(tenantId: string, jobId: string, rows: { rowNumber: number; status: "ISSUED" | "FAILED"; credentialId: string | null; problems: unknown[] }[]) {
  if (!rows.length) return;
  await boundQuery(
    `update bulk_job_rows r set status = u.status::bulk_row_status, credential_id = u.credential_id, errors = u.errors::jsonb
       from unnest($3::int[], $4::text[], $5::uuid[], $6::text[]) as u(row_number, status, credential_id, errors)
      where r.tenant_id = $1::uuid and r.job_id = $2::uuid and r.row_number = u.row_number`,
    [tenantId, jobId, rows.map((r) => r.rowNumber), rows.map((r) => r.status), rows.map((r) => r.credentialId), rows.map((r) => JSON.stringify(r.problems))],
  );
}

/** Inserts a job's rows, each sealed under the tenant's data key (sealed-rows.ts). */
export async function insertRows(keys: TenantKeys, jobId: string, rows: { rowNumber: number; row: object; problems: unknown[] }[]) {
  if (!rows.length) return;
  const sealed = rows.map((r) => sealRow(keys, r.row));
  await boundQuery(
    `insert into bulk_job_rows (tenant_id, job_id, row_number, id, key_version, input_sealed, email_index, status, errors)
     select $1::uuid, $2::uuid, u.row_number, u.id, $7::int, u.input_sealed, u.email_index,
            case when u.errors = '[]' then 'PENDING' else 'FAILED' end::bulk_row_status, u.errors::jsonb
       from unnest($3::int[], $4::uuid[], $5::bytea[], $6::bytea[], $8::text[]) as u(row_number, id, input_sealed, email_index, errors)`,
    [
      keys.tenantId,
      jobId,
      rows.map((r) => r.rowNumber),
      sealed.map((s) => s.id),
      sealed.map((s) => Buffer.from(s.inputSealed)),
      sealed.map((s) => (s.emailIndex ? Buffer.from(s.emailIndex) : null)),
      keys.current,
      rows.map((r) => JSON.stringify(r.problems)),
    ],
  );
}
