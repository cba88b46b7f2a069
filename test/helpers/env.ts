// Where the tests find PostgreSQL (TEST_DATABASE_URL, a superuser URL, else the machine's local one),
// and the roles they use. Roles are cluster-wide: tests have names of their own, so a test run never
// creates, grants to or changes the password of a deployment's laurel_* roles on the same cluster.
import type { DbRoles } from "../../src/config.js";

export const TEST_ROLES: DbRoles = {
  owner: "laurel_t_owner",
  login: "laurel_t_app",
  member: "laurel_t_member",
  anonymous: "laurel_t_anonymous",
  gatekeeper: "laurel_t_gatekeeper",
};
export const TEST_LOGIN_PASSWORD = "laurel_t_app_test_password";

/** Two key-encryption keys, so tests can seal under one version and re-seal under the next. */
export const TEST_KEKS = `1:${Buffer.alloc(32, 1).toString("base64")}`;

/** The test roles and their password, as Laurel reads them (every test process has them: vitest.config.ts). */
export const TEST_ROLE_ENV = {
  LAUREL_DB_OWNER: TEST_ROLES.owner,
  LAUREL_DB_LOGIN: TEST_ROLES.login,
  LAUREL_DB_MEMBER: TEST_ROLES.member,
  LAUREL_DB_ANONYMOUS: TEST_ROLES.anonymous,
  LAUREL_DB_GATEKEEPER: TEST_ROLES.gatekeeper,
  LAUREL_DB_LOGIN_PASSWORD: TEST_LOGIN_PASSWORD,
} as const;

/** The environment a test gives Laurel on a real PostgreSQL (loadConfig, child processes). */
export const TEST_ENV = { ...TEST_ROLE_ENV, LAUREL_KEKS: TEST_KEKS } as const;

export function testServerUrl(): string {
  return process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
}

export function adminUrlFor(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

export function loginUrlFor(serverUrl: string, database: string): string {
  const url = new URL(adminUrlFor(serverUrl, database));
  url.username = TEST_ROLES.login;
  url.password = TEST_LOGIN_PASSWORD;
  return url.toString();
}
