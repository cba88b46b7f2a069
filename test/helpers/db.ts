// A private database per test file, cloned from the migrated template.
import { randomBytes } from "node:crypto";
import postgres from "postgres";
import { inject } from "vitest";
import { adminUrlFor, loginUrlFor, testServerUrl } from "./env.js";

export interface TestDatabase {
  name: string;
  adminUrl: string;
  loginUrl: string;
  /** Superuser connection to this database: for arranging and inspecting, never for the code under test. */
  admin: postgres.Sql;
  drop(): Promise<void>;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const server = testServerUrl();
  const name = `laurel_test_${inject("runId")}_${randomBytes(4).toString("hex")}`;
  const root = postgres(adminUrlFor(server, "postgres"), { max: 1, onnotice: () => {} });
  await root.unsafe(`create database "${name}" template "${inject("templateDatabase")}"`);
  await root.end();
  const admin = postgres(adminUrlFor(server, name), { max: 2, onnotice: () => {} });
  return {
    name,
    adminUrl: adminUrlFor(server, name),
    loginUrl: loginUrlFor(server, name),
    admin,
    async drop() {
      await admin.end();
      const r = postgres(adminUrlFor(server, "postgres"), { max: 1, onnotice: () => {} });
      await r.unsafe(`drop database if exists "${name}" with (force)`);
      await r.end();
    },
  };
}
