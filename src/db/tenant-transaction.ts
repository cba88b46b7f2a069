// The tenant wall's one gate: every unit of work runs in a transaction whose first statement sets the
// database role and the tenant/user claims together. Only this file calls set_config.
import type { Prisma, PrismaClient } from "../generated/prisma/client.js";
import type postgres from "postgres";
import type { Sql } from "./database.js";

export type Db = Prisma.TransactionClient;

export interface Claims {
  /** The database role to act as: the tenant-member role or the anonymous role. */
  dbRole: string;
  tenantId: string | null;
  userId: string | null;
}

export interface TransactionOptions {
  /** How long a request may wait for a pooled connection, and run, in ms. */
  maxWait?: number;
  timeout?: number;
}

export async function withTenantTransaction<T>(
  prisma: PrismaClient,
  claims: Claims,
  work: (db: Db) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  return prisma.$transaction(
    async (db) => {
      await db.$executeRaw`select set_config('role', ${claims.dbRole}, true), set_config('app.tenant_id', ${claims.tenantId ?? ""}, true), set_config('app.user_id', ${claims.userId ?? ""}, true)`;
      return work(db);
    },
    { maxWait: options.maxWait ?? 5_000, timeout: options.timeout ?? 15_000 },
  );
}

/** The same gate for hand-written SQL (postgres.js): bulk work, jobs, benchmarks. */
export async function withTenantSql<T>(sql: Sql, claims: Claims, work: (tx: postgres.TransactionSql) => Promise<T>): Promise<T> {
  const result = await sql.begin(async (tx) => {
    await tx`select set_config('role', ${claims.dbRole}, true), set_config('app.tenant_id', ${claims.tenantId ?? ""}, true), set_config('app.user_id', ${claims.userId ?? ""}, true)`;
    return work(tx);
  });
  return result as T;
}
