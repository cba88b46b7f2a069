// Roles are cluster-wide, so the login role's password may be another install's secret: Laurel sets it
// when it creates the role and changes it only when the operator asks (db:migrate --set-login-password);
// without LAUREL_DB_LOGIN_PASSWORD it creates no login role on a real PostgreSQL; and the tests, with
// roles of their own, leave a deployment's laurel_* roles exactly as they were.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import postgres from "postgres";
import { afterAll, describe, expect, inject, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { migrate } from "../../src/db/migrate.js";
import { adminUrlFor, TEST_ENV, TEST_ROLES, testServerUrl } from "../helpers/env.js";
import { startPrivatePostgres, type PrivatePostgres } from "../helpers/private-postgres.js";

const server = testServerUrl();
const root = postgres(adminUrlFor(server, "postgres"), { max: 1, onnotice: () => {} });
const suffix = randomBytes(3).toString("hex");
const roles = { owner: `lt_pw_owner_${suffix}`, login: `lt_pw_login_${suffix}`, member: `lt_pw_member_${suffix}`, anonymous: `lt_pw_anon_${suffix}`, gatekeeper: `lt_pw_gate_${suffix}` };
const databases: string[] = [];
const repo = new URL("../../", import.meta.url).pathname;

async function freshDatabase(): Promise<string> {
  // Named like the run's other databases, so no concurrent run's clean-up takes it for a crashed run's.
  const name = `laurel_test_${inject("runId")}_pw${randomBytes(4).toString("hex")}`;
  await root.unsafe(`create database "${name}"`);
  databases.push(name);
  return adminUrlFor(server, name);
}

async function passwordHash(role: string): Promise<string | null | undefined> {
  const [row] = await root<{ rolpassword: string | null }[]>`select rolpassword from pg_authid where rolname = ${role}`;
  return row?.rolpassword;
}

function run(script: string, args: string[], env: NodeJS.ProcessEnv, until?: RegExp): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", script, ...args], { cwd: repo, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    const seen = (d: Buffer) => {
      output += d;
      if (until?.test(output)) child.kill("SIGTERM");
    };
    child.stdout.on("data", seen);
    child.stderr.on("data", seen);
    child.on("exit", (code) => resolve({ code, output }));
  });
}

afterAll(async () => {
  for (const name of databases) await root.unsafe(`drop database if exists "${name}" with (force)`);
  for (const r of Object.values(roles)) await root.unsafe(`drop role if exists "${r}"`);
  await root.end();
});

describe("the login role's password", () => {
  it("is set when the role is created and never changed by later migrations", async () => {
    const url = await freshDatabase();
    await migrate({ adminUrl: url, roles, loginPassword: "first-secret" });
    const created = await passwordHash(roles.login);
    expect(created).toMatch(/^SCRAM-SHA-256\$/);
    await migrate({ adminUrl: url, roles, loginPassword: "another-secret" });
    await migrate({ adminUrl: url, roles });
    expect(await passwordHash(roles.login)).toBe(created);
  });

  it("changes only when the operator asks with db:migrate --set-login-password", async () => {
    const url = await freshDatabase();
    await migrate({ adminUrl: url, roles, loginPassword: "first-secret" });
    const before = await passwordHash(roles.login);
    const env = { ...process.env, DATABASE_URL: url, LAUREL_DB_OWNER: roles.owner, LAUREL_DB_LOGIN: roles.login, LAUREL_DB_MEMBER: roles.member, LAUREL_DB_ANONYMOUS: roles.anonymous, LAUREL_DB_GATEKEEPER: roles.gatekeeper };
    const plain = await run("src/db/migrate-cli.ts", [], { ...env, LAUREL_DB_LOGIN_PASSWORD: "rotated-secret" });
    expect(plain.code, plain.output).toBe(0);
    expect(await passwordHash(roles.login)).toBe(before);
    const missing = await run("src/db/migrate-cli.ts", ["--set-login-password"], { ...env, LAUREL_DB_LOGIN_PASSWORD: "" });
    expect(missing.code).toBe(1);
    expect(missing.output.trim()).toBe(`Laurel cannot start: --set-login-password needs LAUREL_DB_LOGIN_PASSWORD (the new password of "${roles.login}")`);
    const asked = await run("src/db/migrate-cli.ts", ["--set-login-password"], { ...env, LAUREL_DB_LOGIN_PASSWORD: "rotated-secret" });
    expect(asked.code, asked.output).toBe(0);
    expect(asked.output).toContain(`set the password of the login role ${roles.login}`);
    const after = await passwordHash(roles.login);
    expect(after).toMatch(/^SCRAM-SHA-256\$/);
    expect(after).not.toBe(before);
  });

  it("is never a default: without LAUREL_DB_LOGIN_PASSWORD no login role is created on a real PostgreSQL", async () => {
    const url = await freshDatabase();
    const other = { ...roles, login: `lt_pw_nopass_${suffix}` };
    await expect(migrate({ adminUrl: url, roles: other })).rejects.toThrow(`LAUREL_DB_LOGIN_PASSWORD is not set: Laurel will not create the login role "${other.login}"`);
    expect(await passwordHash(other.login)).toBeUndefined();
  });
});

describe("a test run", () => {
  // On a cluster of its own: other test runs on this machine may create and alter roles on the shared
  // one at any moment, which would make a before/after comparison there say nothing.
  let cluster: PrivatePostgres | undefined;
  afterAll(async () => cluster?.destroy());

  it("uses roles of its own and leaves the deployment's laurel_* roles and their passwords alone", async () => {
    const deployment = loadConfig({}).roles;
    expect(Object.values(TEST_ROLES).filter((r) => Object.values(deployment).includes(r))).toEqual([]);
    cluster = await startPrivatePostgres();
    // A deployment on that cluster, with its own secret.
    await migrate({ adminUrl: cluster.url(), roles: deployment, loginPassword: "the deployment's secret" });
    const clusterRoot = postgres(cluster.url(), { max: 1, onnotice: () => {} });
    const snapshot = () =>
      clusterRoot<{ rolname: string; rolpassword: string | null; rolinherit: boolean }[]>`
        select rolname, rolpassword, rolinherit from pg_authid where rolname like 'laurel\_%' and rolname not in ${clusterRoot(Object.values(TEST_ROLES))} order by rolname`;
    try {
      const before = await snapshot();
      expect(before.map((r) => r.rolname)).toEqual(Object.values(deployment).sort());
      expect(before.find((r) => r.rolname === deployment.login)?.rolpassword).toMatch(/^SCRAM-SHA-256\$/);

      // Migrations and both entry points with the tests' configuration, as the suite runs them.
      await clusterRoot.unsafe("create database laurel_test_run");
      const url = cluster.url("laurel_test_run");
      await migrate({ adminUrl: url, roles: TEST_ROLES, loginPassword: TEST_ENV.LAUREL_DB_LOGIN_PASSWORD });
      const env = { ...process.env, ...TEST_ENV, DATABASE_URL: url, PORT: "0" };
      const server = await run("src/main.ts", [], env, /listening on/);
      expect(server.output).toContain("listening on");
      const worker = await run("src/worker.ts", [], env, /worker running/);
      expect(worker.output).toContain("worker running");

      expect(await snapshot()).toEqual(before);
    } finally {
      await clusterRoot.end();
    }
  }, 120_000);
});
