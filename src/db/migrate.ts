// Applies sql/NNN_name.sql in order, once each, recorded with a sha256 checksum. An applied file that
// has since changed stops the run: migrations are history, and history is not edited. A session-level
// advisory lock makes concurrent starters wait for one another instead of racing.
//
// No off-the-shelf runner fitted: we need psql-style role variables (role names are configuration),
// checksums, an advisory lock and "run as the owner role" together, in ~100 lines over postgres.js.
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import path from "node:path";
import postgres from "postgres";
import pg from "pg";
import { Logger, runMigrations } from "graphile-worker";
import { watchConnections } from "./availability.js";
import { StartupError, type DbRoles } from "../config.js";

export const SQL_DIR = fileURLToPath(new URL("../../sql/", import.meta.url));
/** Held (exclusively) while migrating; a backup holds it shared so that its schema version stays true. */
export const LOCK_KEY = 7_420_113_001; // arbitrary, constant: "laurel migrations"

export interface Migration {
  id: number;
  name: string;
  checksum: string;
  text: string;
}

export async function readMigrations(dir = SQL_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith(".sql")).sort();
  const migrations: Migration[] = [];
  for (const file of files) {
    const match = /^(\d{3})_[a-z0-9_]+\.sql$/.exec(file);
    if (!match) throw new Error(`sql/${file}: migration files are named NNN_snake_case.sql`);
    const id = Number(match[1]);
    const expected = migrations.length + 1;
    if (id !== expected) throw new Error(`sql/${file}: expected migration number ${expected}`);
    const text = await readFile(path.join(dir, file), "utf8");
    migrations.push({ id, name: file, checksum: createHash("sha256").update(text).digest("hex"), text });
  }
  return migrations;
}

/** Replaces psql-style :"name" variables with quoted role identifiers (leaves ::casts alone). */
export function substituteRoles(text: string, roles: DbRoles): string {
  return text.replace(/(?<!:):"([a-z_]+)"/g, (_whole, name: string) => {
    const value = (roles as unknown as Record<string, string>)[name];
    if (!value) throw new Error(`unknown SQL variable :"${name}"`);
    return `"${value}"`;
  });
}

export interface MigrateOptions {
  adminUrl: string;
  roles: DbRoles;
  /** Sets the login role's password when the role is created; never changes an existing role's. */
  loginPassword?: string;
  /** The operator asked for it (`npm run db:migrate -- --set-login-password`): set an existing role's password too. */
  setLoginPassword?: boolean;
  /** PGlite: every session is a superuser underneath, so the login role needs no password. */
  embedded?: boolean;
  dir?: string;
  log?: (line: string) => void;
}

export async function migrate(options: MigrateOptions): Promise<{ applied: string[] }> {
  const log = options.log ?? (() => {});
  const sql = postgres(options.adminUrl, { max: 1, onnotice: () => {} });
  try {
    const migrations = await readMigrations(options.dir);
    const reserved = await sql.reserve();
    try {
      await reserved`select pg_advisory_lock(${LOCK_KEY})`;
      await withCatalogRetry(() => bootstrapRoles(reserved, options, log));
      await reserved.unsafe(`
        create table if not exists public.laurel_migrations (
          id integer primary key,
          name text not null,
          checksum text not null,
          applied_at timestamptz not null default now()
        );
        alter table public.laurel_migrations owner to "${options.roles.owner}";
        alter table public.laurel_migrations enable row level security;`);
      const done = new Map(
        (await reserved<{ id: number; name: string; checksum: string }[]>`
          select id, name, checksum from public.laurel_migrations order by id`).map((r) => [r.id, r]),
      );
      for (const [id, row] of done) {
        const file = migrations.find((m) => m.id === id);
        if (!file) throw new StartupError(`migration ${row.name} was applied but sql/ no longer has it`);
        if (file.checksum !== row.checksum) {
          throw new StartupError(`sql/${file.name} changed after it was applied (checksum ${row.checksum.slice(0, 12)}…); add a new migration instead`);
        }
      }
      // The queue's schema first: sql/013 onwards wraps its functions.
      await installQueue(options.adminUrl, options.roles.owner);
      // PGlite has one session underneath every connection: the queue pool's SET ROLE would stay on it,
      // and the server would run as the owner (which may not execute the gatekeeper's functions).
      await reserved.unsafe("reset role");
      const applied: string[] = [];
      for (const m of migrations) {
        if (done.has(m.id)) continue;
        const body = substituteRoles(m.text, options.roles);
        await reserved.unsafe("begin");
        try {
          await reserved.unsafe(`set local role "${options.roles.owner}"`);
          await reserved.unsafe(body);
          await reserved.unsafe("reset role");
          await reserved`insert into public.laurel_migrations (id, name, checksum) values (${m.id}, ${m.name}, ${m.checksum})`;
          await reserved.unsafe("commit");
        } catch (error) {
          await reserved.unsafe("rollback");
          throw new StartupError(`sql/${m.name} failed: ${(error as Error).message}`, { cause: error });
        }
        applied.push(m.name);
        log(`applied ${m.name}`);
      }
      return { applied };
    } finally {
      await reserved`select pg_advisory_unlock(${LOCK_KEY})`.catch(() => {});
      reserved.release();
    }
  } finally {
    await sql.end();
  }
}

/**
 * Only the cluster-wide part of a migration: the roles and the rights in this database that a
 * pg_dump of it does not carry (a restore runs this before pg_restore, which names the roles).
 * Throws StartupError as migrate does (a missing login role needs LAUREL_DB_LOGIN_PASSWORD).
 */
export async function ensureRoles(options: MigrateOptions): Promise<void> {
  const sql = postgres(options.adminUrl, { max: 1, onnotice: () => {} });
  try {
    const reserved = await sql.reserve();
    try {
      await withCatalogRetry(() => bootstrapRoles(reserved, options, options.log ?? (() => {})));
    } finally {
      reserved.release();
    }
  } finally {
    await sql.end();
  }
}

/**
 * Creates missing roles and the schema rights only the schema's owner can grant. The owner role owns
 * every object; the login role holds no table rights (NOINHERIT) and may only become member/anonymous.
 *
 * Roles are cluster-wide, so the login role's password may be another install's secret: it is set when
 * the role is created (from LAUREL_DB_LOGIN_PASSWORD, which must then be given on a real PostgreSQL:
 * a password everyone can read in this repository would be no secret) and changed afterwards only when
 * the operator asks with setLoginPassword.
 */
async function bootstrapRoles(sql: postgres.ReservedSql, options: MigrateOptions, log: (line: string) => void): Promise<void> {
  const { roles, loginPassword } = options;
  const existing = new Set(
    (await sql<{ rolname: string }[]>`select rolname from pg_roles where rolname in ${sql(Object.values(roles))}`).map((r) => r.rolname),
  );
  const create = async (name: string, attrs: string) => {
    if (!existing.has(name)) await sql.unsafe(`create role "${name}" ${attrs}`);
  };
  await create(roles.owner, "nologin");
  await create(roles.member, "nologin");
  await create(roles.anonymous, "nologin");
  await create(roles.gatekeeper, "nologin");
  if ((options.setLoginPassword || !existing.has(roles.login)) && !loginPassword && !options.embedded) {
    throw new StartupError(
      existing.has(roles.login)
        ? `--set-login-password needs LAUREL_DB_LOGIN_PASSWORD (the new password of "${roles.login}")`
        : `LAUREL_DB_LOGIN_PASSWORD is not set: Laurel will not create the login role "${roles.login}" without a password of yours`,
    );
  }
  const password = loginPassword ? ` password ${quoteLiteral(loginPassword)}` : "";
  if (!existing.has(roles.login)) {
    await sql.unsafe(`create role "${roles.login}" login noinherit${password}`);
    log(`created the login role ${roles.login}`);
  } else {
    await sql.unsafe(`alter role "${roles.login}" login noinherit${options.setLoginPassword ? password : ""}`);
    if (options.setLoginPassword) log(`set the password of the login role ${roles.login}`);
  }
  // Whoever runs migrations must be able to act as the owner (a superuser already can).
  await sql.unsafe(`
    do $$ begin
      if current_user <> '${roles.owner}' and not pg_has_role(current_user, '${roles.owner}', 'member') then
        execute format('grant %I to %I', '${roles.owner}', current_user);
      end if;
    end $$;
    grant "${roles.member}", "${roles.anonymous}" to "${roles.login}";
    grant usage, create on schema public to "${roles.owner}";
    grant usage, create on schema public to "${roles.gatekeeper}";`);
  await bootstrapGatekeeper(sql, roles);
  await sql.unsafe(`
    do $$ begin execute format('grant create on database %I to %I', current_database(), '${roles.owner}'); end $$;
    grant usage on schema public to "${roles.login}", "${roles.member}", "${roles.anonymous}";`);
}

/**
 * graphile-worker's own schema, installed by its own migrations (it keeps their history), acting as
 * the owner so the queue belongs to the same role as everything else. sql/013 wraps it for the app.
 */
async function installQueue(adminUrl: string, owner: string): Promise<void> {
  const pool = await ownerPool(adminUrl, owner, 1);
  try {
    await runMigrations({ pgPool: pool, logger: quietLogger });
  } finally {
    await pool.end();
  }
}

/**
 * A pg pool whose connections act as the owner role. The role is a startup option, so it holds from a
 * connection's first statement; PGlite's socket ignores startup options, and there a SET ROLE is
 * issued as each connection opens (queued ahead of any other statement on it).
 */
export async function ownerPool(url: string, owner: string, max: number): Promise<pg.Pool> {
  const pool = new pg.Pool({ connectionString: url, max, application_name: "laurel-owner", options: `-c role=${owner}` });
  watchConnections(pool, "owner pool");
  const { rows } = await pool.query<{ role: string }>("select current_user as role");
  if (rows[0]?.role !== owner) {
    await pool.end();
    const fallback = new pg.Pool({ connectionString: url, max, application_name: "laurel-owner" });
    watchConnections(fallback, "owner pool");
    fallback.on("connect", (client) => void client.query(`set role "${owner}"`));
    return fallback;
  }
  return pool;
}

const quietLogger = new Logger(() => () => {});

/**
 * Roles are cluster-wide while the advisory lock is per database: two databases of one cluster
 * migrating at once (test files, several deployments) can race on the same role rows, and PostgreSQL
 * answers "tuple concurrently updated". Each statement is idempotent, so try again.
 */
async function withCatalogRetry(work: () => Promise<void>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      const message = (error as Error).message ?? "";
      const retriable = /tuple concurrently (updated|deleted)|already exists/.test(message);
      if (!retriable || attempt >= 8) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20 * attempt + Math.random() * 50));
    }
  }
}

/**
 * The owner hands functions that must look across tenants to the gatekeeper (ALTER FUNCTION ... OWNER
 * needs membership), but must not inherit the gatekeeper's cross-tenant policies: otherwise its own
 * definer functions would see every tenant again. PostgreSQL 16 grants membership without
 * inheritance; 15 only has the role-wide NOINHERIT, which the owner (a member of nothing else) can take.
 */
async function bootstrapGatekeeper(sql: postgres.ReservedSql, roles: DbRoles): Promise<void> {
  const [row] = await sql<{ version: number }[]>`select current_setting('server_version_num')::int as version`;
  if (row!.version >= 160000) {
    await sql.unsafe(`grant "${roles.gatekeeper}" to "${roles.owner}" with inherit false, set true`);
  } else {
    await sql.unsafe(`alter role "${roles.owner}" noinherit; grant "${roles.gatekeeper}" to "${roles.owner}"`);
  }
}

function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}
