// The no-trace search after an erasure: every text-like column of every table, the queue's included, and
// which of them still holds any of the needles (case-insensitive; bytea searched as text and as bytes).
import type postgres from "postgres";
import { expect } from "vitest";

/** Each column holding a needle, as `schema.table.column holds "needle" (n rows)`; [] when none does. */
export async function findTraces(admin: postgres.Sql, needles: string[]): Promise<string[]> {
  const columns = await admin<{ schema: string; table: string; column: string; type: string }[]>`
    select c.table_schema as schema, c.table_name as table, c.column_name as column, c.data_type as type
      from information_schema.columns c
      join pg_class k on k.relname = c.table_name
      join pg_namespace n on n.oid = k.relnamespace and n.nspname = c.table_schema
     where k.relkind in ('r', 'p')
       and c.table_schema not in ('pg_catalog', 'information_schema', 'pg_toast')
       and c.data_type in ('text', 'character varying', 'character', 'jsonb', 'json', 'bytea', 'ARRAY')`;
  // The search reaches the queue's payloads and the superseded documents, or it proves nothing.
  expect(columns.some((c) => c.schema === "graphile_worker" && c.column === "payload")).toBe(true);
  expect(columns.some((c) => c.table === "credential_documents" && c.column === "document")).toBe(true);
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
  return found;
}
