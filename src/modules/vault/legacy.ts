// The legacy pass: rows written before their table was sealed (key_version IS NULL) still hold plain
// text in legacy_* columns. This seals them under the tenant's current data key, writes the blind
// indexes their table's registry entry asks for, and empties the legacy columns, in batches of one
// tenant transaction each. It runs from the key maintenance job, which the worker also queues at start-up.
import type { Sql } from "../../db/database.js";
import { withTenantSql } from "../../db/tenant-transaction.js";
import { keysetBatchSql, updateRow } from "./batch-sql.js";
import { SEALED_TABLES, sealedFields, type SealedTable } from "./registry.js";
import type { Vault } from "./vault.js";

export const LEGACY_BATCH_ROWS = 500;

/**
 * Seals every legacy row of the tenant in every sealed table. Returns the number of rows sealed
 * (0 when there were none: one indexed probe per table).
 */
export async function sealLegacyRows(deps: { sql: Sql; memberRole: string; vault: Vault }, tenantId: string, batchRows = LEGACY_BATCH_ROWS): Promise<number> {
  let sealed = 0;
  for (const entry of SEALED_TABLES.filter((e) => e.legacy !== false)) {
    let after: string | null = null;
    for (;;) {
      const batch: { n: number; last: string | null } = await withTenantSql(deps.sql, { dbRole: deps.memberRole, tenantId, userId: null }, (tx) =>
        sealBatch(tx, deps.vault, tenantId, entry, after, batchRows),
      );
      sealed += batch.n;
      after = batch.last;
      if (batch.n < batchRows) break;
    }
  }
  return sealed;
}

type Tx = Parameters<Parameters<typeof withTenantSql>[2]>[0];

async function sealBatch(tx: Tx, vault: Vault, tenantId: string, entry: SealedTable, after: string | null, size: number) {
  const fields = sealedFields(entry);
  const rows = await tx.unsafe<Record<string, unknown>[]>(
    keysetBatchSql(entry.table, fields.map((f) => `legacy_${f}`), "t.key_version is null", { cursor: 3, limit: 2 }, after !== null),
    [tenantId, size, after],
  );
  if (!rows.length) return { n: 0, last: after };
  const keys = await vault.forTenantSql(tx, tenantId);
  for (const row of rows) {
    const id = row.id as string;
    const legacy: Record<string, unknown> = {};
    const values: Record<string, unknown> = { key_version: keys.current };
    for (const field of fields) {
      const value = row[`legacy_${field}`] ?? null;
      legacy[field] = value;
      const place = { table: entry.table, column: field, rowId: id };
      const text = value === null ? null : entry.json.includes(field) ? JSON.stringify(value) : String(value);
      values[`${field}_sealed`] = keys.sealOrNull(place, text);
      values[`legacy_${field}`] = null;
    }
    Object.assign(values, entry.legacyIndexes?.(keys, id, legacy) ?? {});
    await updateRow(tx, entry.table, tenantId, id, values);
  }
  return { n: rows.length, last: rows[rows.length - 1]!.id as string };
}
