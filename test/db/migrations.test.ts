// The migration runner: ordered, recorded with checksums, safe to start twice at once, and role names
// taken from configuration.
import { randomBytes } from "node:crypto";
import { cp, mkdtemp, writeFile, appendFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import postgres from "postgres";
import { afterAll, describe, expect, it } from "vitest";
import { migrate, readMigrations, SQL_DIR, substituteRoles } from "../../src/db/migrate.js";
import { adminUrlFor, testServerUrl } from "../helpers/env.js";

const server = testServerUrl();
const root = postgres(adminUrlFor(server, "postgres"), { max: 1, onnotice: () => {} });
const suffix = randomBytes(3).toString("hex");
const roles = { owner: `lt_owner_${suffix}`, login: `lt_login_${suffix}`, member: `lt_member_${suffix}`, anonymous: `lt_anon_${suffix}`, gatekeeper: `lt_gate_${suffix}` };
const created: string[] = [];

async function freshDatabase(): Promise<string> {
  const name = `laurel_test_mig_${randomBytes(4).toString("hex")}`;
  await root.unsafe(`create database "${name}"`);
  created.push(name);
  return adminUrlFor(server, name);
}

afterAll(async () => {
  for (const name of created) await root.unsafe(`drop database if exists "${name}" with (force)`);
  for (const r of Object.values(roles)) await root.unsafe(`drop role if exists "${r}"`);
  await root.end();
});

describe("migrate", () => {
  it("creates the configured roles, applies every file once and records its checksum", async () => {
    const url = await freshDatabase();
    const first = await migrate({ adminUrl: url, roles, loginPassword: "pw-1" });
    expect(first.applied.length).toBeGreaterThanOrEqual(5);
    const again = await migrate({ adminUrl: url, roles, loginPassword: "pw-1" });
    expect(again.applied).toEqual([]);
    const sql = postgres(url, { max: 1 });
    const rows = await sql`select name, checksum from laurel_migrations order by id`;
    expect(rows.map((r) => r.name)).toEqual(first.applied);
    expect(rows.every((r) => /^[0-9a-f]{64}$/.test(r.checksum))).toBe(true);
    const [owner] = await sql`select pg_get_userbyid(relowner) as owner from pg_class where relname = 'api_keys'`;
    expect(owner!.owner).toBe(roles.owner);
    await sql.end();
    // The login role can connect with the configured password, and holds no table rights.
    const login = postgres({ ...parse(url), username: roles.login, password: "pw-1", max: 1 });
    await expect(login`select count(*) from api_keys`).rejects.toThrow(/permission denied/);
    await login.end();
  });

  it("lets two servers starting at once apply each migration exactly once", async () => {
    const url = await freshDatabase();
    const [a, b] = await Promise.all([
      migrate({ adminUrl: url, roles, loginPassword: "pw-1" }),
      migrate({ adminUrl: url, roles, loginPassword: "pw-1" }),
    ]);
    expect([...a.applied, ...b.applied].sort()).toEqual([...new Set([...a.applied, ...b.applied])].sort());
    expect(a.applied.length + b.applied.length).toBeGreaterThanOrEqual(5);
    expect(Math.min(a.applied.length, b.applied.length)).toBe(0);
  });

  it("lets several databases of one cluster bootstrap the same roles at once", async () => {
    // Roles are cluster-wide, the advisory lock per database: without retries PostgreSQL answered
    // "tuple concurrently updated" here (seen in CI with test files starting together).
    const urls = await Promise.all(Array.from({ length: 5 }, () => freshDatabase()));
    const results = await Promise.allSettled(urls.map((url) => migrate({ adminUrl: url, roles, loginPassword: "pw-1" })));
    expect(results.map((r) => (r.status === "fulfilled" ? "ok" : String(r.reason)))).toEqual(Array(5).fill("ok"));
  });

  it("refuses to run when an applied file has changed, and applies a new file added after", async () => {
    const url = await freshDatabase();
    const dir = await mkdtemp(path.join(tmpdir(), "laurel-sql-"));
    await cp(SQL_DIR, dir, { recursive: true });
    await migrate({ adminUrl: url, roles, loginPassword: "pw-1", dir });
    const extra = `${String((await readMigrations()).length + 1).padStart(3, "0")}_extra.sql`;
    await writeFile(path.join(dir, extra), "create table extra_things (id int primary key);\nalter table extra_things enable row level security;\n");
    expect((await migrate({ adminUrl: url, roles, loginPassword: "pw-1", dir })).applied).toEqual([extra]);
    await appendFile(path.join(dir, "002_identity.sql"), "\n-- an edit after the fact\n");
    await expect(migrate({ adminUrl: url, roles, loginPassword: "pw-1", dir })).rejects.toThrow(/002_identity\.sql changed after it was applied/);
  });

  it("rolls back a failing migration whole and names the file", async () => {
    const url = await freshDatabase();
    const dir = await mkdtemp(path.join(tmpdir(), "laurel-sql-"));
    await cp(SQL_DIR, dir, { recursive: true });
    const broken = `${String((await readMigrations()).length + 1).padStart(3, "0")}_broken.sql`;
    await writeFile(path.join(dir, broken), "create table half_done (id int);\nselect no_such_function();\n");
    await expect(migrate({ adminUrl: url, roles, loginPassword: "pw-1", dir })).rejects.toThrow(`${broken} failed`);
    const sql = postgres(url, { max: 1 });
    expect(await sql`select 1 from pg_class where relname = 'half_done'`).toHaveLength(0);
    expect(await sql`select 1 from laurel_migrations where name = ${broken}`).toHaveLength(0);
    await sql.end();
  });

  it("substitutes role variables but leaves casts alone", () => {
    expect(substituteRoles(`grant select on t to :"member"; select 'x'::text, now()::"timestamptz"`, roles)).toBe(
      `grant select on t to "${roles.member}"; select 'x'::text, now()::"timestamptz"`,
    );
    expect(() => substituteRoles(`grant x to :"nobody"`, roles)).toThrow(/unknown SQL variable/);
  });
});

function parse(url: string) {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port || 5432), database: u.pathname.slice(1) };
}
