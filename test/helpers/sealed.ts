// Tests read what the database holds sealed (sql/044, 047) through the deployment's own keys: the
// app's KEKs unwrap the tenant's data keys, as the services do. Reading the rows as superuser and
// opening them here keeps the assertions on the plain values without any plain column to read.
import type postgres from "postgres";
import { Vault, type TenantKeys } from "../../src/modules/vault/vault.js";
import type { WrappedKeyRow } from "../../src/modules/vault/data-keys.js";
import type { TestApp } from "./app.js";

/** The tenant's keys, loaded with superuser SQL (never creates keys: a tenant with none has sealed nothing). */
export async function testKeys(app: TestApp, tenantId: string): Promise<TenantKeys> {
  const vault = new Vault(app.config.keks, 0);
  const admin = app.db.admin as postgres.Sql;
  return vault.keysVia({
    list: (id) => admin<WrappedKeyRow[]>`select purpose, version, wrapped, kek_version from tenant_data_keys
                                          where tenant_id = ${id}::uuid and retired_at is null order by purpose, version`,
    add: async () => { throw new Error("the tenant has no data keys yet"); },
  }, tenantId);
}

export interface OpenedOutboxRow {
  id: string;
  kind: string;
  to_email: string;
  payload: Record<string, any>;
  status: string;
}

/** The tenant's outbox messages of `kind`, address and payload opened (payload {} once sent: the secret goes). */
export async function outboxOf(app: TestApp, tenantId: string, kind: string): Promise<OpenedOutboxRow[]> {
  const admin = app.db.admin as postgres.Sql;
  const rows = await admin<{ id: string; kind: string; status: string; key_version: number | null; to_email_sealed: Uint8Array | null; payload_sealed: Uint8Array | null; legacy_to_email: string | null; legacy_payload: Record<string, any> | null }[]>`
    select id, kind, status, key_version, to_email_sealed, payload_sealed, legacy_to_email, legacy_payload
      from email_outbox where tenant_id = ${tenantId}::uuid and kind = ${kind} order by created_at, id`;
  if (!rows.length) return [];
  const keys = await testKeys(app, tenantId);
  const at = (column: string, rowId: string) => ({ table: "email_outbox", column, rowId });
  return rows.map((r) => ({
    id: r.id, kind: r.kind, status: r.status,
    to_email: r.key_version === null ? r.legacy_to_email ?? "" : keys.open(at("to_email", r.id), r.to_email_sealed!),
    payload: r.key_version === null ? r.legacy_payload ?? {} : r.payload_sealed ? keys.openJson(at("payload", r.id), r.payload_sealed) : {},
  }));
}
