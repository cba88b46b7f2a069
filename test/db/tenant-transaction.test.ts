// The gate every request, job and script goes through: claims set, work bound to one connection,
// committed or rolled back whole, nothing runnable outside it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPrisma, type PrismaOverPool } from "../../src/db/database.js";
import { withTenantTransaction } from "../../src/db/tenant-transaction.js";
import { OutsideTransactionError } from "../../src/db/request-connection.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { TEST_ROLES } from "../helpers/env.js";
import { isDatabaseUnavailable, isStatementTimeout } from "../../src/db/availability.js";
import { maskError } from "../../src/graphql/errors.js";

let db: TestDatabase;
let database: PrismaOverPool;
let tenantId: string;
let userId: string;
beforeAll(async () => {
  db = await createTestDatabase();
  database = createPrisma(db.loginUrl, 3);
  const [row] = await db.admin`select user_id, tenant_id from sign_up('gate@example.test', 'Gate', 'x', 'Gate Org', 'gate-org')`;
  tenantId = row!.tenant_id;
  userId = row!.user_id;
});
afterAll(async () => {
  await database.prisma.$disconnect();
  await database.pool.end();
  await db.drop();
});

const member = () => ({ dbRole: TEST_ROLES.member, tenantId, userId });

describe("withTenantTransaction", () => {
  it("stops a statement at its timeout, and the error says so: QUERY_TIMEOUT, not a masked 500", async () => {
    const error = await withTenantTransaction(database, member(), (tx) => tx.$queryRaw`select pg_sleep(2)::text as slept`, { timeout: 100 }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).not.toBeNull();
    expect(isStatementTimeout(error)).toBe(true);
    expect(isDatabaseUnavailable(error)).toBe(false);
    const masked = maskError(error, "Unexpected error.") as { extensions?: Record<string, unknown> };
    expect(masked.extensions?.code).toBe("QUERY_TIMEOUT");
    // Any other failure stays masked.
    const other = await withTenantTransaction(database, member(), (tx) => tx.$queryRaw`select 1/0`).then(() => null, (e: unknown) => e);
    expect(isStatementTimeout(other)).toBe(false);
    expect((maskError(other, "Unexpected error.") as { extensions?: Record<string, unknown> }).extensions?.code).toBe("INTERNAL_SERVER_ERROR");
  });

  it("refuses Prisma queries made outside it", async () => {
    await expect(database.prisma.tenant.findMany()).rejects.toThrow(OutsideTransactionError);
  });

  it("runs Prisma as the member role with the tenant's claims", async () => {
    const rows = await withTenantTransaction(database, member(), async (tx) => {
      const [who] = await tx.$queryRaw<{ role: string; tenant: string }[]>`select current_user as role, current_tenant_id()::text as tenant`;
      return { who, tenants: await tx.tenant.findMany() };
    });
    expect(rows.who).toEqual({ role: TEST_ROLES.member, tenant: tenantId });
    expect(rows.tenants.map((t) => t.id)).toEqual([tenantId]);
  });

  it("rolls back every write when the work throws", async () => {
    await expect(
      withTenantTransaction(database, member(), async (tx) => {
        await tx.tenant.update({ where: { id: tenantId }, data: { name: "Changed" } });
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    const [row] = await db.admin`select name from tenants where id = ${tenantId}`;
    expect(row!.name).toBe("Gate Org");
  });

  it("keeps concurrent units of work on their own connections and claims", async () => {
    const [other] = await db.admin`select tenant_id from sign_up('gate2@example.test', 'Gate2', 'x', 'Other Gate', 'other-gate')`;
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) => {
        const tenant = i % 2 ? tenantId : (other!.tenant_id as string);
        return withTenantTransaction(database, { dbRole: TEST_ROLES.member, tenantId: tenant, userId: null }, async (tx) => {
          const [a, b] = await Promise.all([tx.tenant.findMany(), tx.membership.findMany()]);
          return a.every((t) => t.id === tenant) && b.every((m) => m.tenantId === tenant) && a.length === 1;
        });
      }),
    );
    expect(results.every(Boolean)).toBe(true);
  });

  it("applies a statement time limit", async () => {
    await expect(
      withTenantTransaction(database, member(), (tx) => tx.$queryRaw`select pg_sleep(1)`, { timeout: 50 }),
    ).rejects.toThrow(/statement timeout|canceling statement/);
    // The connection went back healthy: the next unit of work runs.
    const n = await withTenantTransaction(database, member(), (tx) => tx.tenant.count());
    expect(n).toBe(1);
  });
});
