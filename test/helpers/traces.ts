// The no-trace search after an erasure: every text-like column of every table, the queue's included, and
// which of them still holds any of the needles (case-insensitive; bytea searched as text and as bytes).
// Sealed fields (src/modules/vault/registry*.ts) show only ciphertext to SQL, so each is also opened with
// its tenant's keys and searched as text, and every bytea column is searched for the needles' blind
// indexes (an address's, a name's words) under each tenant's index key: a sealed trace is still a trace.
import type postgres from "postgres";
import { expect } from "vitest";
import { SEALED_TABLES, sealedFields } from "../../src/modules/vault/registry.js";
import { hex } from "../../src/modules/vault/batch-sql.js";
import { normaliseEmail } from "../../src/lib/email-address.js";
import type { TenantKeys } from "../../src/modules/vault/vault.js";
import type { TestApp } from "./app.js";
import { keysOf } from "./sealed.js";

/**
 * Each column holding a needle, as `schema.table.column holds "needle" (n rows)`; [] when none does.
 * A sealed field is reported under its plain name (`public.recipients.email holds ... (n rows, sealed)`),
 * a blind index under its column (`public.recipients.email_index holds the index of "needle" ...`).
 */
export async function findTraces(admin: postgres.Sql, needles: string[], app: TestApp): Promise<string[]> {
  const columns = await admin<{ schema: string; table: string; column: string; type: string; udt: string }[]>`
    select c.table_schema as schema, c.table_name as table, c.column_name as column, c.data_type as type, c.udt_name as udt
      from information_schema.columns c
      join pg_class k on k.relname = c.table_name
      join pg_namespace n on n.oid = k.relnamespace and n.nspname = c.table_schema
     where k.relkind in ('r', 'p')
       and c.table_schema not in ('pg_catalog', 'information_schema', 'pg_toast')
       and c.data_type in ('text', 'character varying', 'character', 'jsonb', 'json', 'bytea', 'ARRAY')`;
  // The search reaches the queue's payloads and the superseded documents, or it proves nothing.
  expect(columns.some((c) => c.schema === "graphile_worker" && c.column === "payload")).toBe(true);
  expect(columns.some((c) => c.table === "credential_documents" && c.column === "document_sealed")).toBe(true);
  expect(SEALED_TABLES.some((t) => t.table === "credential_documents")).toBe(true);
  const found: string[] = [];
  for (const { schema, table, column, type } of columns) {
    const col = admin(column);
    for (const needle of needles) {
      const [row] = type === "bytea"
        ? await admin`select count(*)::int as n from ${admin(schema)}.${admin(table)}
                       where encode(${col}, 'escape') ilike ${"%" + needle + "%"} or position(convert_to(${needle}, 'UTF8') in ${col}) > 0`
        : await admin`select count(*)::int as n from ${admin(schema)}.${admin(table)} where ${col}::text ilike ${"%" + needle + "%"}`;
      if (row!.n > 0) found.push(`${schema}.${table}.${column} holds "${needle}" (${row!.n} rows)`);
    }
  }
  const keysByTenant = new Map<string, TenantKeys>();
  const keysFor = async (tenantId: string) => {
    let keys = keysByTenant.get(tenantId);
    if (!keys) keysByTenant.set(tenantId, (keys = await keysOf(app, tenantId)));
    return keys;
  };
  // Sealed fields, opened.
  for (const entry of SEALED_TABLES) {
    const fields = sealedFields(entry);
    const rows = await admin<Record<string, any>[]>`select tenant_id, id, ${admin(fields.map((f) => `${f}_sealed`))} from ${admin(entry.table)}`;
    for (const field of fields) {
      const counts = new Map<string, number>();
      for (const row of rows) {
        const sealed = row[`${field}_sealed`] as Uint8Array | null;
        if (!sealed) continue;
        const text = (await keysFor(row.tenant_id)).open({ table: entry.table, column: field, rowId: row.id }, sealed).toLowerCase();
        for (const needle of needles) if (text.includes(needle.toLowerCase())) counts.set(needle, (counts.get(needle) ?? 0) + 1);
      }
      for (const [needle, n] of counts) found.push(`public.${entry.table}.${field} holds "${needle}" (${n} rows, sealed)`);
    }
  }
  // Blind indexes of the needles, under every tenant's index key.
  const tenants = await admin<{ id: string }[]>`select id from tenants`;
  const indexes: { needle: string; hex: string }[] = [];
  for (const { id } of tenants) {
    const keys = await keysFor(id);
    for (const needle of needles) {
      const email = normaliseEmail(needle);
      if (email.ok) indexes.push({ needle, hex: hex(keys.blindIndex("email", email.email))! });
      for (const word of keys.nameWordIndexes(needle)) indexes.push({ needle, hex: hex(word)! });
    }
  }
  expect(indexes.length).toBeGreaterThan(0);
  for (const { schema, table, column, type, udt } of columns) {
    if (type !== "bytea" && udt !== "_bytea") continue;
    const col = admin(column);
    const hexes = indexes.map((i) => i.hex);
    const hits = type === "bytea"
      ? await admin<{ h: string }[]>`select encode(${col}, 'hex') as h from ${admin(schema)}.${admin(table)} where encode(${col}, 'hex') = any(${hexes}::text[])`
      : await admin<{ h: string }[]>`select encode(e, 'hex') as h from ${admin(schema)}.${admin(table)}, unnest(${col}) e where encode(e, 'hex') = any(${hexes}::text[])`;
    for (const needle of new Set(hits.map((h) => indexes.find((i) => i.hex === h.h)!.needle))) {
      found.push(`${schema}.${table}.${column} holds the index of "${needle}"`);
    }
  }
  return found;
}
