// Guards every migration, present and future: reads the catalog of a migrated database and fails on
// any table or role that could let one tenant reach another's rows. Each check is also run against
// deliberately broken tables, to prove it can fail.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type postgres from "postgres";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { TEST_ROLES } from "../helpers/env.js";

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => db.drop());

const RUNTIME_ROLES = [TEST_ROLES.login, TEST_ROLES.member, TEST_ROLES.anonymous];

async function tenantTables(sql: postgres.Sql): Promise<string[]> {
  const rows = await sql<{ table_name: string }[]>`
    select c.table_name from information_schema.columns c
      join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = c.table_name
     where c.table_schema = 'public' and c.column_name = 'tenant_id' and t.table_type = 'BASE TABLE'
     order by 1`;
  return rows.map((r) => r.table_name);
}

/** Tables in public without enabled + forced RLS, or without any policy. */
async function weakTables(sql: postgres.Sql): Promise<string[]> {
  const rows = await sql<{ relname: string }[]>`
    select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = 'public' and c.relkind in ('r', 'p') and c.relname <> 'laurel_migrations'
       and (not c.relrowsecurity or not c.relforcerowsecurity
            or not exists (select 1 from pg_policy p where p.polrelid = c.oid))`;
  return rows.map((r) => r.relname);
}

/** Tenant tables whose <table>_tenant_isolation policy is missing or does not compare tenant_id in USING and WITH CHECK. */
async function tablesWithoutIsolation(sql: postgres.Sql): Promise<string[]> {
  const tables = await tenantTables(sql);
  const rows = await sql<{ table: string; using: string | null; check: string | null; cmd: string }[]>`
    select c.relname as table, pg_get_expr(p.polqual, p.polrelid) as using,
           pg_get_expr(p.polwithcheck, p.polrelid) as check, p.polcmd as cmd
      from pg_policy p join pg_class c on c.oid = p.polrelid
     where p.polname = c.relname || '_tenant_isolation' and p.polpermissive`;
  const ok = /tenant_id = \( SELECT current_tenant_id\(\) AS current_tenant_id\)/;
  const good = new Set(rows.filter((r) => r.cmd === "*" && ok.test(r.using ?? "") && ok.test(r.check ?? "")).map((r) => r.table));
  return tables.filter((t) => !good.has(t));
}

/** Tenant tables whose primary key does not start with tenant_id. */
async function tablesWithBadKey(sql: postgres.Sql): Promise<string[]> {
  const tables = await tenantTables(sql);
  const rows = await sql<{ table: string; first: string | null }[]>`
    select t.relname as table,
           (select a.attname from pg_constraint con join pg_attribute a on a.attrelid = con.conrelid and a.attnum = con.conkey[1]
             where con.conrelid = t.oid and con.contype = 'p') as first
      from pg_class t where t.relname = any(${tables}) and t.relkind in ('r', 'p')`;
  return rows.filter((r) => r.first !== "tenant_id").map((r) => r.table);
}

/** Unique indexes (constraints included) on tenant tables that do not contain tenant_id. */
async function uniqueWithoutTenant(sql: postgres.Sql): Promise<string[]> {
  const tables = await tenantTables(sql);
  const rows = await sql<{ index: string; cols: string[] }[]>`
    select i.relname as index,
           array(select a.attname from unnest(x.indkey) k join pg_attribute a on a.attrelid = x.indrelid and a.attnum = k)::text[] as cols
      from pg_index x join pg_class i on i.oid = x.indexrelid join pg_class t on t.oid = x.indrelid
     where x.indisunique and t.relname = any(${tables})
       and coalesce(obj_description(x.indexrelid, 'pg_class'), '') not like 'cross-tenant:%'`;
  return rows.filter((r) => !r.cols.includes("tenant_id")).map((r) => r.index);
}

/**
 * Indexes on tenant tables whose first column is not tenant_id. An index that must look across tenants
 * says so, and why, in a comment starting "cross-tenant:" (reviewed like any policy).
 */
async function indexesNotLeadingWithTenant(sql: postgres.Sql): Promise<string[]> {
  const tables = await tenantTables(sql);
  const rows = await sql<{ index: string; first: string }[]>`
    select i.relname as index, a.attname as first
      from pg_index x join pg_class i on i.oid = x.indexrelid join pg_class t on t.oid = x.indrelid
      join pg_attribute a on a.attrelid = x.indrelid and a.attnum = x.indkey[0]
     where t.relname = any(${tables})
       and coalesce(obj_description(x.indexrelid, 'pg_class'), '') not like 'cross-tenant:%'`;
  return rows.filter((r) => r.first !== "tenant_id").map((r) => r.index);
}

/** Foreign keys between two tenant tables that do not pair tenant_id with tenant_id. */
async function nonCompositeTenantForeignKeys(sql: postgres.Sql): Promise<string[]> {
  const tables = await tenantTables(sql);
  const rows = await sql<{ name: string; cols: string[]; refcols: string[] }[]>`
    select con.conname as name,
           array(select a.attname from unnest(con.conkey) k join pg_attribute a on a.attrelid = con.conrelid and a.attnum = k)::text[] as cols,
           array(select a.attname from unnest(con.confkey) k join pg_attribute a on a.attrelid = con.confrelid and a.attnum = k)::text[] as refcols
      from pg_constraint con join pg_class f on f.oid = con.conrelid join pg_class r on r.oid = con.confrelid
     where con.contype = 'f' and f.relname = any(${tables}) and r.relname = any(${tables})`;
  return rows.filter((r) => r.cols[0] !== "tenant_id" || r.refcols[0] !== "tenant_id").map((r) => r.name);
}

/** Runtime roles that are superuser, BYPASSRLS, own a table or can become the owner or the gatekeeper. */
async function dangerousRuntimeRoles(sql: postgres.Sql): Promise<string[]> {
  const rows = await sql<{ rolname: string }[]>`
    select r.rolname from pg_roles r
     where r.rolname = any(${RUNTIME_ROLES})
       and (r.rolsuper or r.rolbypassrls or pg_has_role(r.oid, ${TEST_ROLES.owner}, 'member')
            or pg_has_role(r.oid, ${TEST_ROLES.gatekeeper}, 'member')
            or exists (select 1 from pg_class c join pg_namespace n on n.oid = c.relnamespace
                        where n.nspname = 'public' and c.relowner = r.oid))`;
  return rows.map((r) => r.rolname);
}

/**
 * Policies through which the owner role, and so every definer function it owns, would see rows beyond
 * the transaction's tenant or user: any policy that applies to it (to PUBLIC or to the owner) without
 * comparing to current_tenant_id() or current_app_user_id(). Only the queue's own heartbeat table,
 * which holds no tenant's data, may be the owner's alone.
 */
async function ownerPoliciesAcrossTenants(sql: postgres.Sql): Promise<string[]> {
  const rows = await sql<{ policy: string; using: string | null; check: string | null }[]>`
    select c.relname || '.' || p.polname as policy, pg_get_expr(p.polqual, p.polrelid) as using,
           pg_get_expr(p.polwithcheck, p.polrelid) as check
      from pg_policy p join pg_class c on c.oid = p.polrelid join pg_namespace n on n.oid = c.relnamespace
     where n.nspname in ('public', 'laurel_private') and c.relname <> 'worker_heartbeats'
       and (0 = any(p.polroles) or (select oid from pg_roles where rolname = ${TEST_ROLES.owner}) = any(p.polroles))`;
  const scoped = /current_tenant_id\(\)|current_app_user_id\(\)/;
  return rows.filter((r) => !scoped.test(r.using ?? "") || (r.check !== null && !scoped.test(r.check))).map((r) => r.policy);
}

describe("the migrated catalog", () => {
  it("has the tenant tables the guards must cover (the guards are not vacuous)", async () => {
    expect(await tenantTables(db.admin)).toEqual(
      expect.arrayContaining(["memberships", "api_keys", "audit_log", "invitations", "email_outbox"]),
    );
  });

  it("forces row-level security, with a policy, on every table in public", async () => {
    expect(await weakTables(db.admin)).toEqual([]);
  });

  it("isolates every tenant table by the transaction's tenant, in USING and WITH CHECK", async () => {
    expect(await tablesWithoutIsolation(db.admin)).toEqual([]);
  });

  it("starts every tenant table's primary key with tenant_id", async () => {
    expect(await tablesWithBadKey(db.admin)).toEqual([]);
  });

  it("includes tenant_id in every unique constraint of a tenant table", async () => {
    expect(await uniqueWithoutTenant(db.admin)).toEqual([]);
  });

  it("leads every index of a tenant table with tenant_id", async () => {
    expect(await indexesNotLeadingWithTenant(db.admin)).toEqual([]);
  });

  it("makes every foreign key between tenant tables composite", async () => {
    expect(await nonCompositeTenantForeignKeys(db.admin)).toEqual([]);
  });

  it("gives the owner role, and so its definer functions, no policy that reaches beyond the transaction's tenant or user", async () => {
    expect(await ownerPoliciesAcrossTenants(db.admin)).toEqual([]);
  });

  it("gives no runtime role superuser, BYPASSRLS, table ownership or the owner's rights", async () => {
    const [count] = await db.admin<{ n: number }[]>`select count(*)::int as n from pg_roles where rolname = any(${RUNTIME_ROLES})`;
    expect(count!.n).toBe(3);
    const [gatekeeper] = await db.admin`select rolcanlogin from pg_roles where rolname = ${TEST_ROLES.gatekeeper}`;
    expect(gatekeeper!.rolcanlogin).toBe(false);
    expect(await dangerousRuntimeRoles(db.admin)).toEqual([]);
  });

  it("gives the login role no table rights and no inherited ones", async () => {
    const [row] = await db.admin<{ n: number }[]>`
      select count(*)::int as n from information_schema.role_table_grants where grantee = ${TEST_ROLES.login}`;
    expect(row!.n).toBe(0);
    const [login] = await db.admin`select rolinherit from pg_roles where rolname = ${TEST_ROLES.login}`;
    expect(login!.rolinherit).toBe(false);
  });

  it("pins search_path to pg_catalog, pg_temp on every SECURITY DEFINER function, and comments policies and definer functions", async () => {
    const fns = await db.admin<{ name: string; config: string[] | null; comment: string | null }[]>`
      select p.oid::regprocedure::text as name, p.proconfig as config, obj_description(p.oid, 'pg_proc') as comment
        from pg_proc p join pg_namespace n on n.oid = p.pronamespace
       where n.nspname not in ('pg_catalog', 'information_schema', 'graphile_worker') and p.prosecdef`;
    expect(fns.length).toBeGreaterThan(20);
    expect(fns.filter((f) => !f.config?.includes("search_path=pg_catalog, pg_temp") || !f.comment).map((f) => f.name)).toEqual([]);
    const policies = await db.admin`select polname from pg_policy p where obj_description(p.oid, 'pg_policy') is null`;
    expect(policies.map((r) => r.polname)).toEqual([]);
  });
});

describe("the guards themselves", () => {
  it("flag a migration that adds a careless tenant table", async () => {
    await db.admin.begin(async (tx) => {
      await tx.unsafe(`
        create table careless (tenant_id uuid references tenants (id), id uuid primary key, code text unique);
        create table careless_child (tenant_id uuid not null, id uuid not null, parent_id uuid references careless (id),
                                     primary key (tenant_id, id));
        create index careless_code on careless (code);
        alter table careless_child enable row level security;
        alter table careless_child force row level security;
        create policy careless_child_tenant_isolation on careless_child using (true);
        create role careless_bypass bypassrls;
        grant careless_bypass to ${TEST_ROLES.member};`);
      expect(await weakTables(tx as unknown as postgres.Sql)).toContain("careless");
      expect(await tablesWithoutIsolation(tx as unknown as postgres.Sql)).toEqual(expect.arrayContaining(["careless", "careless_child"]));
      expect(await tablesWithBadKey(tx as unknown as postgres.Sql)).toContain("careless");
      expect(await uniqueWithoutTenant(tx as unknown as postgres.Sql)).toEqual(expect.arrayContaining(["careless_pkey", "careless_code_key"]));
      expect(await indexesNotLeadingWithTenant(tx as unknown as postgres.Sql)).toContain("careless_code");
      expect(await nonCompositeTenantForeignKeys(tx as unknown as postgres.Sql)).toContain("careless_child_parent_id_fkey");
      await tx.unsafe(`create policy careless_owner_sees_all on careless_child to ${TEST_ROLES.owner} using (true)`);
      expect((await ownerPoliciesAcrossTenants(tx as unknown as postgres.Sql)).sort()).toEqual([
        "careless_child.careless_child_tenant_isolation", // using (true) applies to everyone, the owner too
        "careless_child.careless_owner_sees_all",
      ]);
      await tx.unsafe(`alter role ${TEST_ROLES.anonymous} bypassrls`);
      expect(await dangerousRuntimeRoles(tx as unknown as postgres.Sql)).toContain(TEST_ROLES.anonymous);
      await tx.unsafe(`grant ${TEST_ROLES.gatekeeper} to ${TEST_ROLES.member}`);
      expect(await dangerousRuntimeRoles(tx as unknown as postgres.Sql)).toContain(TEST_ROLES.member);
      throw new Error("rollback");
    }).catch((e: Error) => {
      if (e.message !== "rollback") throw e;
    });
    expect(await dangerousRuntimeRoles(db.admin)).toEqual([]);
  });
});
