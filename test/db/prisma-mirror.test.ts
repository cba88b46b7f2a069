// prisma/schema.prisma mirrors sql/ (Prisma never migrates here). This compares the two: every table,
// column, type, nullability, enum, primary and unique key. Prisma's CLI cannot introspect offline, so
// the schema file is read by a small parser that knows the subset of the language we use.
import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";

let db: TestDatabase;
let schemaText: string;
beforeAll(async () => {
  db = await createTestDatabase();
  schemaText = await readFile(new URL("../../prisma/schema.prisma", import.meta.url), "utf8");
});
afterAll(async () => db.drop());

interface Column {
  name: string;
  type: string;
  nullable: boolean;
}
interface Table {
  columns: Column[];
  primaryKey: string[];
  uniques: string[][];
}

function parseSchema(text: string) {
  const enums = new Map<string, { dbName: string; values: string[] }>();
  for (const m of text.matchAll(/^enum (\w+) \{\n([\s\S]*?)\n\}/gm)) {
    const body = m[2]!;
    const values = body.split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("@@") && !l.startsWith("//"));
    enums.set(m[1]!, { dbName: /@@map\("([^"]+)"\)/.exec(body)?.[1] ?? m[1]!, values });
  }
  const blocks = [...text.matchAll(/^model (\w+) \{\n([\s\S]*?)\n\}/gm)].map((m) => ({ name: m[1]!, body: m[2]! }));
  const models = new Set(blocks.map((b) => b.name));
  const tables = new Map<string, Table>();
  for (const { name, body } of blocks) {
    const columns: Column[] = [];
    const fieldToColumn = new Map<string, string>();
    let table = name;
    let primaryKey: string[] = [];
    const uniqueFields: string[][] = [];
    for (const raw of body.split("\n")) {
      const line = raw.trim();
      if (!line || line.startsWith("//")) continue;
      if (line.startsWith("@@map")) table = /"([^"]+)"/.exec(line)![1]!;
      else if (line.startsWith("@@id")) primaryKey = /\[([^\]]+)\]/.exec(line)![1]!.split(",").map((s) => s.trim());
      else if (line.startsWith("@@unique")) uniqueFields.push(/\[([^\]]+)\]/.exec(line)![1]!.split(",").map((s) => s.trim()));
      else if (!line.startsWith("@@")) {
        const [field, typeToken] = line.split(/\s+/) as [string, string];
        const base = typeToken.replace(/[?[\]]/g, "");
        if (models.has(base)) continue; // relation field, no column
        const column = /@map\("([^"]+)"\)/.exec(line)?.[1] ?? field;
        fieldToColumn.set(field, column);
        const list = typeToken.endsWith("[]");
        let type: string;
        if (enums.has(base)) type = (list ? "_" : "") + enums.get(base)!.dbName;
        else if (base === "String") type = (list ? "_" : "") + (line.includes("@db.Uuid") ? "uuid" : "text");
        else if (base === "DateTime") type = (list ? "_" : "") + (line.includes("@db.Date") ? "date" : "timestamptz");
        else if (base === "Json") type = line.includes("@db.Json") ? "json" : "jsonb";
        else if (base === "Int" && line.includes("@db.SmallInt")) type = (list ? "_" : "") + "int2";
        else type = (list ? "_" : "") + (({ Bytes: "bytea", Int: "int4", Boolean: "bool", BigInt: "int8" } as Record<string, string>)[base] ?? `?${base}`);
        columns.push({ name: column, type, nullable: typeToken.endsWith("?") });
        if (line.includes("@id")) primaryKey = [field];
        if (line.includes("@unique")) uniqueFields.push([field]);
      }
    }
    const toColumns = (fields: string[]) => fields.map((f) => fieldToColumn.get(f) ?? `?${f}`);
    tables.set(table, { columns, primaryKey: toColumns(primaryKey), uniques: uniqueFields.map(toColumns) });
  }
  return { enums, tables };
}

async function compare(text: string): Promise<string[]> {
  const { enums, tables } = parseSchema(text);
  const problems: string[] = [];
  const dbTables = (await db.admin<{ t: string }[]>`
    select table_name as t from information_schema.tables
     where table_schema = 'public' and table_type = 'BASE TABLE' and table_name <> 'laurel_migrations'`).map((r) => r.t);
  for (const t of dbTables) if (!tables.has(t)) problems.push(`table ${t} is not in schema.prisma`);
  for (const [t, model] of tables) {
    if (!dbTables.includes(t)) {
      problems.push(`model for ${t} has no table`);
      continue;
    }
    const cols = await db.admin<{ column_name: string; udt_name: string; is_nullable: string }[]>`
      select column_name, udt_name, is_nullable from information_schema.columns where table_schema = 'public' and table_name = ${t}`;
    for (const c of cols) if (!model.columns.some((m) => m.name === c.column_name)) problems.push(`${t}.${c.column_name} is not in schema.prisma`);
    for (const m of model.columns) {
      const c = cols.find((x) => x.column_name === m.name);
      if (!c) problems.push(`${t}.${m.name} has no column`);
      else {
        if (c.udt_name !== m.type) problems.push(`${t}.${m.name}: database ${c.udt_name}, prisma ${m.type}`);
        if ((c.is_nullable === "YES") !== m.nullable) problems.push(`${t}.${m.name}: nullability differs`);
      }
    }
    const keys = await db.admin<{ contype: string; cols: string[] }[]>`
      select con.contype, array(select a.attname from unnest(con.conkey) with ordinality k(n, o)
                                join pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.n order by k.o)::text[] as cols
        from pg_constraint con where con.conrelid = ${`public.${t}`}::regclass and con.contype in ('p', 'u')`;
    const pk = keys.find((k) => k.contype === "p")?.cols ?? [];
    if (pk.join() !== model.primaryKey.join()) problems.push(`${t}: primary key (${pk}) vs prisma (${model.primaryKey})`);
    const dbUniques = keys.filter((k) => k.contype === "u").map((k) => k.cols.join()).sort();
    const prismaUniques = model.uniques.map((u) => u.join()).sort();
    if (dbUniques.join("|") !== prismaUniques.join("|")) problems.push(`${t}: unique keys [${dbUniques}] vs prisma [${prismaUniques}]`);
  }
  for (const [, e] of enums) {
    const values = (await db.admin<{ v: string }[]>`
      select e.enumlabel as v from pg_enum e join pg_type t on t.oid = e.enumtypid where t.typname = ${e.dbName} order by e.enumsortorder`).map((r) => r.v);
    if (values.join() !== e.values.join()) problems.push(`enum ${e.dbName}: database [${values}] vs prisma [${e.values}]`);
  }
  return problems;
}

describe("prisma/schema.prisma", () => {
  it("agrees with the migrated database: tables, columns, types, nullability, keys and enums", async () => {
    const { tables } = parseSchema(schemaText);
    expect(tables.size).toBeGreaterThanOrEqual(9);
    expect(await compare(schemaText)).toEqual([]);
  });

  it("would notice a drifted column, a missing table and a changed enum", async () => {
    const drifted = schemaText
      .replace("revokedAt       DateTime?     @map(\"revoked_at\")", "revokedAt       DateTime      @map(\"revoked_at\")")
      .replace(/model UserPassword \{\n[\s\S]*?\n\}/, "")
      .replace("  viewer\n", "  viewer\n  guest\n");
    const problems = await compare(drifted);
    expect(problems).toEqual(
      expect.arrayContaining([
        "api_keys.revoked_at: nullability differs",
        "table user_passwords is not in schema.prisma",
        expect.stringMatching(/^enum member_role/),
      ]),
    );
  });
});
