// Where the tests find PostgreSQL: TEST_DATABASE_URL (a superuser URL), else the machine's local one.
import type { DbRoles } from "../../src/config.js";

export const TEST_ROLES: DbRoles = {
  owner: "laurel_owner",
  login: "laurel_app",
  member: "laurel_member",
  anonymous: "laurel_anonymous",
  gatekeeper: "laurel_gatekeeper",
};
export const TEST_LOGIN_PASSWORD = "laurel_app_dev_password";

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

/** Two key-encryption keys, so tests can seal under one version and re-seal under the next. */
export const TEST_KEKS = `1:${Buffer.alloc(32, 1).toString("base64")}`;
