// Migrates one template database per distinct sql/ (named by the migrations' checksums) once; each
// test file then clones it, which takes milliseconds instead of a migration run.
import { createHash, randomBytes } from "node:crypto";
import postgres from "postgres";
import type { TestProject } from "vitest/node";
import { migrate, readMigrations } from "../../src/db/migrate.js";
import { TEST_ROLES, TEST_LOGIN_PASSWORD, adminUrlFor, testServerUrl } from "./env.js";

declare module "vitest" {
  export interface ProvidedContext {
    templateDatabase: string;
    runId: string;
  }
}

export default async function setup(project: TestProject) {
  const serverUrl = testServerUrl();
  const migrations = await readMigrations();
  // Named by the migrations and the role names they were applied with (both are baked into it).
  const digest = createHash("sha256").update([...migrations.map((m) => m.checksum), ...Object.values(TEST_ROLES)].join(",")).digest("hex").slice(0, 16);
  const template = `laurel_tpl_${digest}`;
  // The run id starts with this process's pid, so a run can tell a crashed run's databases (whose
  // process is gone) from those of a run still going on this machine.
  const runId = `${process.pid.toString(36)}p${randomBytes(3).toString("hex")}`;
  const sql = postgres(adminUrlFor(serverUrl, "postgres"), { max: 1, onnotice: () => {} });
  try {
    const [exists] = await sql`select 1 from pg_database where datname = ${template}`;
    if (!exists) {
      // Build under a temporary name and rename, so a crashed run never leaves a half-made template.
      const building = `${template}_b${runId}`;
      await sql.unsafe(`create database "${building}"`);
      await migrate({ adminUrl: adminUrlFor(serverUrl, building), roles: TEST_ROLES, loginPassword: TEST_LOGIN_PASSWORD });
      await sql.unsafe(`alter database "${building}" rename to "${template}"`);
    }
    // Databases left by runs that crashed before their teardown; never those of a run still alive.
    const stale = (await sql<{ datname: string }[]>`
      select datname from pg_database where datname like 'laurel_test_%' and datname not like ${`laurel_test_${runId}_%`}`)
      .filter(({ datname }) => !runIsAlive(datname));
    for (const { datname } of stale) await sql.unsafe(`drop database if exists "${datname}" with (force)`).catch(() => {});
  } finally {
    await sql.end();
  }
  project.provide("templateDatabase", template);
  project.provide("runId", runId);
  return async () => {
    const cleanup = postgres(adminUrlFor(serverUrl, "postgres"), { max: 1, onnotice: () => {} });
    const mine = await cleanup<{ datname: string }[]>`select datname from pg_database where datname like ${`laurel_test_${runId}_%`}`;
    for (const { datname } of mine) await cleanup.unsafe(`drop database if exists "${datname}" with (force)`).catch(() => {});
    await cleanup.end();
  };
}

function runIsAlive(datname: string): boolean {
  const pid = /^laurel_test_([0-9a-z]+)p[0-9a-f]{6}_/.exec(datname)?.[1];
  if (!pid) return false;
  try {
    process.kill(parseInt(pid, 36), 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
