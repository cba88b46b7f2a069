// The tenant wall's one gate: every unit of work runs in a transaction whose first statement sets the
// database role and the tenant/user claims together. Only this file calls set_config.
import { escapeLiteral, type PoolClient } from "pg";
import type { Prisma } from "../generated/prisma/client.js";
import type { PrismaOverPool } from "./database.js";
import { runBound, type UnitOutcome } from "./request-connection.js";
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
  /** statement_timeout inside the transaction, in ms. */
  timeout?: number;
}

export async function withTenantTransaction<T>(
  database: PrismaOverPool,
  claims: Claims,
  work: (db: Db) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  // A prepared statement gone stale (a column's type changed under the running server) fails the
  // transaction; it is rolled back, its connection dropped, and the work runs again. Every pooled
  // connection may hold the stale statement, and each is dropped once found, so the work runs at most
  // once more than the pool has connections.
  const attempts = (database.pool.options.max ?? 10) + 1;
  for (let attempt = 1; ; attempt++) {
    // The work may also have caught the failure itself (GraphQL turns a resolver's error into a result).
    const outcome: UnitOutcome = { stalePlan: false, retryable: attempt < attempts };
    try {
      return await onOneConnection(database, claims, work, options, outcome);
    } catch (error) {
      if (outcome.retryable && outcome.stalePlan) continue;
      throw error;
    }
  }
}

async function onOneConnection<T>(database: PrismaOverPool, claims: Claims, work: (db: Db) => Promise<T>, options: TransactionOptions, outcome: UnitOutcome): Promise<T> {
  const client = await database.pool.connect();
  let broken: Error | undefined;
  try {
    // One round trip opens the transaction and sets role, claims and a time limit together. JIT is off:
    // request statements run in milliseconds, and compiling them (which PostgreSQL does once a plan's
    // estimated cost passes jit_above_cost, easily reached by analytics plans over set-returning
    // functions) took seconds. Prisma's statements are prepared (request-connection.ts) and use their
    // generic plan from the first execution: every hot read is keyed by tenant_id first, so the
    // generic plan is the index scan a custom one would choose, and re-planning the page-with-relations
    // statement each time (1.5 ms of planning for 1.8 ms of execution, measured) was most of its cost.
    // bench:peer (c), the tenant-aware count, keeps its plan (23 ms of PostgreSQL CPU either way).
    await client.query(
      `begin; select set_config('role', ${lit(claims.dbRole)}, true), set_config('app.tenant_id', ${lit(claims.tenantId ?? "")}, true), ` +
        `set_config('app.user_id', ${lit(claims.userId ?? "")}, true), set_config('statement_timeout', ${lit(String(options.timeout ?? 15_000))}, true), ` +
        `set_config('jit', 'off', true), set_config('plan_cache_mode', 'force_generic_plan', true)`,
    );
    const result = await runBound(client, () => work(database.prisma), outcome);
    if (outcome.stalePlan && outcome.retryable) throw new Error("a prepared statement went stale: run again");
    await client.query("commit");
    return result;
  } catch (error) {
    await client.query("rollback").catch((e: Error) => (broken = e));
    if (outcome.stalePlan) broken ??= error as Error;
    throw error;
  } finally {
    client.release(broken);
  }
}

/**
 * The same gate handing out the raw node-postgres client, for the few jobs that stream COPY output
 * (pg-copy-streams) instead of rows: a tenant export. snapshot: one read-only view of every table.
 */
export async function withTenantClient<T>(
  database: PrismaOverPool,
  claims: Claims,
  work: (client: PoolClient) => Promise<T>,
  options: { snapshot?: boolean } = {},
): Promise<T> {
  const client = await database.pool.connect();
  let broken: Error | undefined;
  try {
    await client.query(
      `begin${options.snapshot ? " isolation level repeatable read read only" : ""}; ` +
        `select set_config('role', ${lit(claims.dbRole)}, true), set_config('app.tenant_id', ${lit(claims.tenantId ?? "")}, true), ` +
        `set_config('app.user_id', ${lit(claims.userId ?? "")}, true), set_config('jit', 'off', true)`,
    );
    const result = await work(client);
    await client.query("commit");
    return result;
  } catch (error) {
    await client.query("rollback").catch((e: Error) => (broken = e));
    throw error;
  } finally {
    client.release(broken);
  }
}

function lit(value: string): string {
  return escapeLiteral(value);
}

/** The same gate for hand-written SQL (postgres.js): bulk work, jobs, benchmarks. */
export async function withTenantSql<T>(sql: Sql, claims: Claims, work: (tx: postgres.TransactionSql) => Promise<T>): Promise<T> {
  const result = await sql.begin(async (tx) => {
    await tx`select set_config('role', ${claims.dbRole}, true), set_config('app.tenant_id', ${claims.tenantId ?? ""}, true), set_config('app.user_id', ${claims.userId ?? ""}, true), set_config('jit', 'off', true)`;
    return work(tx);
  });
  return result as T;
}
