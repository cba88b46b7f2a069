// What a tenant's export holds, read from the catalog rather than listed by hand: every table in
// public with a tenant_id column travels, unless LEFT_OUT names it with a reason, and minus the secret
// columns in SECRET_COLUMNS. A table added later is therefore exported by default (never silently
// forgotten); test/tenant-export/coverage.test.ts pins the whole list so each addition is a decision.
import type postgres from "postgres";

/** Tenant tables that do not travel, and why (also written into the manifest). */
export const LEFT_OUT: Readonly<Record<string, string>> = {
  analytics_credentials: "derived from credentials and engagement events; rebuilt by triggers as the import inserts them",
  analytics_first_touches: "derived from engagement events; rebuilt by triggers on import",
  analytics_event_rollups: "derived from engagement events; rebuilt by triggers on import",
  analytics_cohort_rollups: "derived from credentials and engagement events; rebuilt by triggers on import",
  analytics_latency_rollups: "derived from credentials and engagement events; rebuilt by triggers on import",
  analytics_delivery_rollups: "derived from the email outbox; rebuilt by triggers on import",
  invitations: "open invitations are bearer secrets mailed to people; the new deployment invites again",
  tenant_exports: "the export's own bookkeeping, not tenant content",
  tenant_export_parts: "the export's own bookkeeping, not tenant content",
  privacy_links: "one-time identity checks that expire within days; a new deployment must not honour links the old one sent",
  data_key_rotations: "the source deployment's rotation bookkeeping; the new deployment's key maintenance keeps its own",
};

/**
 * Columns that never leave: they are secrets, or would let a secret work elsewhere. The import fills
 * them with fresh, unusable values (see import.ts).
 *
 * Signing keys are the exception on purpose: signing_keys.sealed_secret_key travels, still sealed
 * (AES-256-GCM under the source's key-encryption key, the row's tenant and id as AAD). The promise of
 * the export is that the same credentials verify at the same URLs after an import. Their proofs need
 * only the public keys, but the Bitstring Status List credentials are signed when served
 * (credentials/public.ts statusListCredential), so revocations verify at the new deployment only with
 * the same private key behind the same did:web; so do credentials issued after the move. The ZIP alone cannot sign anything: opening the key needs the KEK, which the
 * operator carries over separately (LAUREL_KEKS), and the import re-seals it under the new deployment's
 * current KEK. Webhook secrets do not travel: they are shared with a partner, who must get a new one.
 *
 * The import fills the columns below with fresh, unusable values (see import.ts): a webhook endpoint
 * arrives disabled with a new secret, an API key arrives revoked, a queued email arrives without its
 * payload.
 */
export const SECRET_COLUMNS: Readonly<Record<string, readonly string[]>> = {
  webhook_endpoints: ["secret_sealed", "secret_kek_version"],
  api_keys: ["secret_hash"],
  // payload may hold an invitation's token until it is sent; content is cleared once sent anyway.
  email_outbox: ["payload_sealed", "content_sealed", "legacy_payload", "legacy_content"],
};

export interface ExportTable {
  /** Table name, also the file's name: tables/<name>.ndjson. */
  name: string;
  /** Columns written, in table order. */
  columns: string[];
  /** Keyset order: the primary key's columns after tenant_id, with their SQL types. */
  key: { column: string; type: string }[];
  /** How the tenant's rows are found: tenant_id = $1, except for the tenant row and its members' users. */
  scope: "tenant_id" | "tenant_row" | "members";
}

const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;

/**
 * The tables of an export in parent-before-child order (foreign keys), read from the catalog. The
 * pseudo-tables `tenants` (the tenant's own row) and `users` (its members' id, email and name, never a
 * password) come first.
 */
export async function exportTables(sql: postgres.Sql | postgres.TransactionSql): Promise<ExportTable[]> {
  const rows = await sql<{ name: string; columns: string[]; key: string[]; key_types: string[]; parents: string[] }[]>`
    select c.relname as name,
           array(select a.attname::text from pg_attribute a where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
                  and a.attgenerated = '' order by a.attnum) as columns,
           array(select a.attname::text from pg_index i cross join unnest(i.indkey) with ordinality k(attnum, n)
                  join pg_attribute a on a.attrelid = c.oid and a.attnum = k.attnum
                  where i.indrelid = c.oid and i.indisprimary order by k.n) as key,
           array(select format_type(a.atttypid, a.atttypmod) from pg_index i cross join unnest(i.indkey) with ordinality k(attnum, n)
                  join pg_attribute a on a.attrelid = c.oid and a.attnum = k.attnum
                  where i.indrelid = c.oid and i.indisprimary order by k.n) as key_types,
           array(select distinct f.confrelid::regclass::text from pg_constraint f
                  where f.conrelid = c.oid and f.contype = 'f' and f.confrelid <> c.oid) as parents
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = 'public' and c.relkind in ('r', 'p') and not c.relispartition
       and (c.relname in ('tenants', 'users')
            or exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped))`;
  const byName = new Map(rows.filter((r) => !(r.name in LEFT_OUT)).map((r) => [r.name, r]));
  const ordered: ExportTable[] = [];
  const seen = new Set<string>();
  const visit = (name: string, path: string[]) => {
    const row = byName.get(name);
    if (!row || seen.has(name)) return;
    if (path.includes(name)) throw new Error(`foreign keys form a cycle: ${[...path, name].join(" -> ")}`);
    for (const parent of row.parents.sort()) visit(parent, [...path, name]);
    seen.add(name);
    const secret = new Set(SECRET_COLUMNS[name] ?? []);
    const fullKey = row.key.map((column, i) => ({ column, type: row.key_types[i]! }));
    // tenant_id is constant within an export; a one-row-per-tenant table keeps it as its whole key.
    const rest = fullKey.filter((k) => k.column !== "tenant_id");
    const key = rest.length ? rest : fullKey;
    ordered.push({
      name,
      columns: row.columns.filter((c) => !secret.has(c)),
      key,
      scope: name === "tenants" ? "tenant_row" : name === "users" ? "members" : "tenant_id",
    });
  };
  for (const name of ["tenants", "users", ...[...byName.keys()].sort()]) visit(name, []);
  return ordered;
}

const scopeWhere = (table: ExportTable, tenant: string) =>
  table.scope === "tenant_row"
    ? `id = ${tenant}`
    : table.scope === "members"
      ? `id in (select user_id from memberships where tenant_id = ${tenant})`
      : `tenant_id = ${tenant}`;
const keyList = (table: ExportTable) => table.key.map((k) => ident(k.column)).join(", ");
const keyTuple = (table: ExportTable, values: string[]) => `(${values.map((v, i) => `${v}::${table.key[i]!.type}`).join(", ")})`;

/**
 * The key (a JSON array of key texts) of the row that ends the next chunk of N rows in key order: an
 * index walk of the primary key. $1 is the tenant; resuming, $2 is the last key written and $3 is N,
 * else $2 is N. No row: the rest of the table is the last chunk.
 */
export function chunkEndSql(table: ExportTable, resuming: boolean): string {
  const after = resuming ? `and (${keyList(table)}) > ${keyTuple(table, table.key.map((_, i) => `($2::text::jsonb ->> ${i})`))}` : "";
  const texts = table.key.map((k) => `to_jsonb(${ident(k.column)}) #>> '{}'`).join(", ");
  return `select json_build_array(${texts})::text as k from ${ident(table.name)}
           where ${scopeWhere(table, "$1::uuid")} ${after}
           order by ${keyList(table)} offset ($${resuming ? 3 : 2}::int - 1) limit 1`;
}

/**
 * COPY of one chunk (rows after `after`, up to and including `upTo`, both key-text arrays) as one
 * row_to_json line per row, in key order: CSV whose quote and delimiter (U+0001, U+0002) JSON never
 * holds unescaped, so each line is the JSON text unchanged. COPY takes no bind parameters: values are
 * literals, escaped with `literal` (pg's escapeLiteral).
 */
export function chunkCopySql(table: ExportTable, tenantId: string, after: string[] | null, upTo: string[] | null, literal: (v: string) => string): string {
  const cols = table.columns.map(ident).join(", ");
  const bounds = [
    after ? `and (${keyList(table)}) > ${keyTuple(table, after.map(literal))}` : "",
    upTo ? `and (${keyList(table)}) <= ${keyTuple(table, upTo.map(literal))}` : "",
  ].join(" ");
  return `copy (select row_to_json(r) from (select ${cols} from ${ident(table.name)}
                 where ${scopeWhere(table, `${literal(tenantId)}::uuid`)} ${bounds} order by ${keyList(table)}) r)
          to stdout with (format csv, quote e'\\x01', delimiter e'\\x02')`;
}
