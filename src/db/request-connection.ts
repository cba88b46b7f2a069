// Prisma over the unit of work's own connection. Prisma's interactive $transaction costs ~1.9 ms of
// CPU per call here (measured; a plain query costs ~0.2 ms), which dominated every request. Instead,
// withTenantTransaction checks out one pg connection, opens the transaction itself, and binds that
// connection to the async work it runs; Prisma's pg adapter sees this pool, whose query() runs on the
// bound connection. A query with no bound connection throws: nothing can run outside a tenant
// transaction by accident. The binding lives only here, in db/; services still get `db` passed.
import { AsyncLocalStorage } from "node:async_hooks";
import { createHash } from "node:crypto";
import pg from "pg";

/**
 * How many statements one connection keeps prepared. Prisma writes `IN ($1,…,$n)` with one parameter
 * per value, so texts vary with list lengths; past this many, further texts run unnamed (parsed and
 * planned each time, as before). Each prepared statement holds a plan in its PostgreSQL backend:
 * 200 grew one backend from 9 MB to 28 MB (measured), so 100 keeps a pool of 16 within ~150 MB more.
 */
export const PREPARED_PER_CONNECTION = 100;
const names = new Map<string, string>();
const preparedOn = new WeakMap<pg.PoolClient, Set<string>>();

/**
 * The name a statement's text is prepared under: "l" and 22 base64url characters of its SHA-256
 * (the same text, the same name, on every connection). Remembers up to 2,000 texts (a few MB).
 */
export function statementName(text: string): string {
  let name = names.get(text);
  if (!name) {
    if (names.size >= 2_000) names.clear();
    name = "l" + createHash("sha256").update(text).digest("base64url").slice(0, 22);
    names.set(text, name);
  }
  return name;
}

/** A named query keeps its name only while its connection has room for one more prepared statement. */
function withinPreparedBudget(client: pg.PoolClient, args: unknown[]): unknown[] {
  const config = args[0] as { name?: string } | undefined;
  if (!config || typeof config !== "object" || !config.name) return args;
  let prepared = preparedOn.get(client);
  if (!prepared) preparedOn.set(client, (prepared = new Set()));
  if (prepared.has(config.name)) return args;
  if (prepared.size < PREPARED_PER_CONNECTION) {
    prepared.add(config.name);
    return args;
  }
  const { name: _unnamed, ...rest } = config;
  return [rest, ...args.slice(1)];
}

interface Binding {
  client: pg.PoolClient;
  /** Queries of one unit of work run one after another on its connection. */
  tail: Promise<unknown>;
  /** Savepoints opened for Prisma's own transactions inside this unit of work. */
  savepoints: number;
  /** Set when a prepared statement's plan went stale (see staleStatement). */
  outcome: UnitOutcome;
}

/** What a unit of work learnt about its connection while it ran. */
export interface UnitOutcome {
  /**
   * A statement prepared on this connection no longer fits the table it reads (a column's type changed
   * under the running server: PostgreSQL 0A000 "cached plan must not change result type"). The
   * connection must not be reused, and the unit of work may be run again on a fresh one.
   */
  stalePlan: boolean;
  /** Whether the caller will run the work again if stalePlan is set. */
  retryable?: boolean;
}

/** PostgreSQL's refusal to run a prepared statement whose result row type changed since it was prepared. */
function staleStatement(error: unknown): boolean {
  const e = error as { code?: string; message?: string } | null;
  return e?.code === "0A000" && /cached plan must not change result type/.test(e.message ?? "");
}

function runOn(bound: Binding, args: unknown[]): Promise<unknown> {
  const run = bound.tail
    .then(() => (bound.client.query as (...a: unknown[]) => Promise<unknown>)(...withinPreparedBudget(bound.client, args)))
    .catch((error: unknown) => {
      if (staleStatement(error)) bound.outcome.stalePlan = true;
      throw error;
    });
  bound.tail = run.catch(() => undefined);
  return run;
}

/**
 * What Prisma gets when it opens a transaction of its own inside a unit of work: it batches lookups
 * of one model with different selections (one row reached through two fields of a query, a mutation's
 * result selecting a relation) into a "transaction". That runs as a savepoint on the unit of work's
 * connection, so it sees and keeps the work's claims, writes and locks.
 */
class SavepointClient {
  constructor(
    private readonly bound: Binding,
    private readonly name: string,
  ) {}

  query(config: { text: string } | string, ...rest: unknown[]): Promise<unknown> {
    const text = (typeof config === "string" ? config : config.text).trim().toUpperCase();
    if (text === "BEGIN") return runOn(this.bound, [`savepoint ${this.name}`]);
    if (text === "COMMIT") return runOn(this.bound, [`release savepoint ${this.name}`]);
    if (text === "ROLLBACK") {
      void runOn(this.bound, [`rollback to savepoint ${this.name}`]);
      return runOn(this.bound, [`release savepoint ${this.name}`]);
    }
    if (text.startsWith("SET TRANSACTION")) return Promise.reject(new Error("A nested transaction cannot change its isolation level"));
    return runOn(this.bound, [config, ...rest]);
  }

  on(): this {
    return this;
  }

  removeListener(): this {
    return this;
  }

  release(): void {}
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
    return runOn(bound, args) as never;
  }

  // Prisma's own transactions inside a unit of work become savepoints on its connection.
  override connect(): never {
    const bound = binding.getStore();
    if (!bound) throw new OutsideTransactionError();
    bound.savepoints += 1;
    return Promise.resolve(new SavepointClient(bound, `prisma_${bound.savepoints}`)) as never;
  }

  override end(): Promise<void> {
    return this.real.end();
  }
}

export function runBound<T>(client: pg.PoolClient, work: () => Promise<T>, outcome: UnitOutcome = { stalePlan: false }): Promise<T> {
  // Await inside the bound scope: Prisma's promises are lazy and would otherwise start their query
  // when the caller awaits them, outside the binding.
  return binding.run({ client, tail: Promise.resolve(), savepoints: 0, outcome }, async () => await work());
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
