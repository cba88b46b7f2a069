// Prisma over the unit of work's own connection. Prisma's interactive $transaction costs ~1.9 ms of
// CPU per call here (measured; a plain query costs ~0.2 ms), which dominated every request. Instead,
// withTenantTransaction checks out one pg connection, opens the transaction itself, and binds that
// connection to the async work it runs; Prisma's pg adapter sees this pool, whose query() runs on the
// bound connection. A query with no bound connection throws: nothing can run outside a tenant
// transaction by accident. The binding lives only here, in db/; services still get `db` passed.
import { AsyncLocalStorage } from "node:async_hooks";
import pg from "pg";

interface Binding {
  client: pg.PoolClient;
  /** Queries of one unit of work run one after another on its connection. */
  tail: Promise<unknown>;
}

const binding = new AsyncLocalStorage<Binding>();

export class OutsideTransactionError extends Error {
  override name = "OutsideTransactionError";
  constructor() {
    super("Prisma was used outside withTenantTransaction: every query must run in a tenant transaction");
  }
}

/** What @prisma/adapter-pg takes for its pool; it only ever borrows the bound connection. */
export class BoundConnectionPool extends pg.Pool {
  constructor(private readonly real: pg.Pool) {
    super({ max: 1 });
  }

  // adapter-pg calls query(config) with a QueryConfig (rowMode, types) and awaits a result.
  override query(...args: unknown[]): never {
    const bound = binding.getStore();
    if (!bound) throw new OutsideTransactionError();
    const run = bound.tail.then(() => (bound.client.query as (...a: unknown[]) => Promise<unknown>)(...args));
    bound.tail = run.catch(() => undefined);
    return run as never;
  }

  override connect(): never {
    throw new Error("Nested Prisma transactions are not supported: the unit of work already runs in one");
  }

  override end(): Promise<void> {
    return this.real.end();
  }
}

export function runBound<T>(client: pg.PoolClient, work: () => Promise<T>): Promise<T> {
  // Await inside the bound scope: Prisma's promises are lazy and would otherwise start their query
  // when the caller awaits them, outside the binding.
  return binding.run({ client, tail: Promise.resolve() }, async () => await work());
}

/**
 * Runs hand-written SQL on the unit of work's own connection (same transaction, same claims as the
 * Prisma calls around it). For statements where Prisma's parameter handling costs more than the
 * query, such as multi-row inserts of large JSON documents.
 */
export async function boundQuery<R extends Record<string, unknown> = Record<string, unknown>>(text: string, values: unknown[]): Promise<pg.QueryResult<R>> {
  const bound = binding.getStore();
  if (!bound) throw new OutsideTransactionError();
  const run = bound.tail.then(() => bound.client.query<R>(text, values));
  bound.tail = run.catch(() => undefined);
  return run;
}
