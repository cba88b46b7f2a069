// Hand-written SQL the rotation and legacy passes share: identifiers from the registry, and bytea values
// carried through unnest() as hex text (postgres.js has no bytea[] parameter of its own).
import type postgres from "postgres";

const NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** A registry name as a quoted SQL identifier. @throws Error for anything but a plain lower-case name */
export function ident(name: string): string {
  if (!NAME.test(name)) throw new Error(`sealed table registry: "${name}" is not a plain SQL name`);
  return `"${name}"`;
}

/**
 * The next batch of a tenant's rows after a cursor, locked, in primary-key order: `select t.id::text as
 * id, <columns> from <table> t where t.tenant_id = $1 and <condition> [and t.id > $cursor] order by t.id
 * limit $limit for update skip locked`. Ordered by the uuid itself, never the text alias (which would
 * sort every remaining row for each batch: a rotation of 1,000,000 slowed to 1,200 rows/s), so each batch
 * is a walk of the (tenant_id, id) index from the cursor (test/vault/batch-plans.test.ts). Not resuming,
 * `$cursor` must be passed as null (`$n::text is null`) so the parameters line up either way.
 */
export function keysetBatchSql(table: string, columns: string[], condition: string, params: { cursor: number; limit: number }, resuming: boolean): string {
  return `select t.id::text as id, ${columns.map((c) => `t.${ident(c)}`).join(", ")} from ${ident(table)} t
           where t.tenant_id = $1::uuid and ${condition} ${resuming ? `and t.id > $${params.cursor}::uuid` : `and $${params.cursor}::text is null`}
           order by t.id limit $${params.limit} for update skip locked`;
}

/** Bytes as the hex text decode(x, 'hex') reads; null stays null. */
export function hex(bytes: Uint8Array | null): string | null {
  return bytes === null ? null : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

/** A bytea[] value as the text of an array literal PostgreSQL casts with ::bytea[]. */
export function byteaArrayLiteral(values: readonly Uint8Array[]): string {
  return `{${values.map((v) => `"\\\\x${hex(v)}"`).join(",")}}`;
}

/** One row's update of named columns, Uint8Array as bytea and Uint8Array[] as bytea[], the rest as given. */
export async function updateRow(tx: postgres.TransactionSql, table: string, tenantId: string, id: string, values: Record<string, unknown>): Promise<void> {
  const params: unknown[] = [tenantId, id];
  const sets = Object.entries(values).map(([column, value]) => {
    if (value instanceof Uint8Array) {
      params.push(hex(value));
      return `${ident(column)} = decode($${params.length}, 'hex')`;
    }
    if (Array.isArray(value) && value.every((v) => v instanceof Uint8Array)) {
      params.push(byteaArrayLiteral(value as Uint8Array[]));
      return `${ident(column)} = $${params.length}::bytea[]`;
    }
    params.push(value);
    return `${ident(column)} = $${params.length}`;
  });
  await tx.unsafe(`update ${ident(table)} set ${sets.join(", ")} where tenant_id = $1::uuid and id = $2::uuid`, params as postgres.ParameterOrJSON<never>[]);
}
