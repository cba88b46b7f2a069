// Hand-written SQL the rotation and legacy passes share: identifiers from the registry, and bytea values
// carried through unnest() as hex text (postgres.js has no bytea[] parameter of its own).
import type postgres from "postgres";

const NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** A registry name as a quoted SQL identifier. @throws Error for anything but a plain lower-case name */
export function ident(name: string): string {
  if (!NAME.test(name)) throw new Error(`sealed table registry: "${name}" is not a plain SQL name`);
  return `"${name}"`;
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
