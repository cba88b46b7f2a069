// Whether a failure means "the database is not there right now" (restarting, failing over, out of
// connections) rather than a bug: such a request answers 503 SERVICE_UNAVAILABLE with Retry-After, and
// the caller may retry it (with the same idempotency key) once the database is back.
import type pg from "pg";

/** Seconds a caller should wait before retrying while the database is unavailable. */
export const RETRY_AFTER_SECONDS = 5;

// SQLSTATE classes 08 (connection exception) and 57P0x (operator intervention: shutdown, crash, starting up),
// 53300 too_many_connections.
const SQLSTATE = /^(08...|57P0[1-3]|53300)$/;
// Node's socket errors and postgres.js's own connection codes.
const CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
]);
// Prisma's driver-adapter error kinds for the same conditions.
const KINDS = new Set(["DatabaseNotReachable", "ConnectionClosed", "SocketTimeout", "TooManyConnections"]);
// node-postgres says these in words only.
const MESSAGES = /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection ended unexpectedly|the database system is (starting up|shutting down|in recovery mode)/i;

/**
 * True when `error`, or anything it wraps (cause, originalError, Prisma's driverAdapterError), satisfies
 * `test`. Looks at most 8 levels deep.
 */
function somewhereIn(error: unknown, test: (e: Record<string, unknown>, code: string) => boolean): boolean {
  const seen = new Set<unknown>();
  const queue: unknown[] = [error];
  while (queue.length && seen.size < 8) {
    const e = queue.shift() as Record<string, unknown> | null | undefined;
    if (!e || typeof e !== "object" || seen.has(e)) continue;
    seen.add(e);
    const code = typeof e.code === "string" ? e.code : typeof e.originalCode === "string" ? e.originalCode : "";
    if (test(e, code)) return true;
    const meta = e.meta as { driverAdapterError?: unknown } | undefined;
    queue.push(e.cause, e.originalError, meta?.driverAdapterError, ...(Array.isArray(e.errors) ? e.errors : []));
  }
  return false;
}

/** True when `error`, or anything it wraps, is a lost or refused database connection. */
export function isDatabaseUnavailable(error: unknown): boolean {
  return somewhereIn(error, (e, code) =>
    SQLSTATE.test(code) || CODES.has(code) || (typeof e.kind === "string" && KINDS.has(e.kind)) ||
    (typeof e.message === "string" && MESSAGES.test(e.message)));
}

/**
 * True when `error`, or anything it wraps, is PostgreSQL's statement_timeout (SQLSTATE 57014 with
 * "statement timeout" in its message; a plain 57014 is a cancellation, which is not the caller's doing).
 */
export function isStatementTimeout(error: unknown): boolean {
  return somewhereIn(error, (e, code) =>
    (code === "57014" || code === "" || e.kind === "postgres") && typeof e.message === "string" && /canceling statement due to statement timeout/i.test(e.message));
}

/**
 * A connection the server ends (restart, failover, an administrator's pg_terminate_backend) emits
 * 'error'. The pool drops an idle one itself; a checked-out one fails its query and is discarded on
 * release. Either needs a listener, or the event is an uncaught exception that ends the process (a
 * 57P01 during issuance did). graphile-worker checks for the same listeners on any pool it is given.
 */
export function watchConnections(pool: pg.Pool, label = "database"): void {
  let loggedAt = 0;
  const report = (error: Error) => {
    if (Date.now() - loggedAt < 5_000) return; // a restart ends every connection at once: one line
    loggedAt = Date.now();
    console.error(`${label} connection lost: ${error.message}`);
  };
  pool.on("error", report);
  pool.on("connect", (client) => client.on("error", report));
}
