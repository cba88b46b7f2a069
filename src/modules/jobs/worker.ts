// The background worker: graphile-worker runs the queue; every tenant job runs its work through the
// same tenant-transaction helper as a request, acting as the tenant's system actor.
//
// graphile-worker's own connection acts as the owner role (its tables are closed to the app role).
// It releases a crashed process's jobs only after four hours, so each process beats in
// worker_heartbeats and any process releases the jobs of one whose beat has stopped.
import { ownerPool } from "../../db/migrate.js";
import { EventEmitter } from "node:events";
import { Logger, run, runOnce, type Runner, type Task, type TaskList, type WorkerEvents } from "graphile-worker";
import type { Config } from "../../config.js";
import type { Database } from "../../db/database.js";
import { withTenantTransaction, type Db } from "../../db/tenant-transaction.js";
import type { Caller } from "../common/caller.js";
import { ROLE_PERMISSIONS } from "../auth/permissions.js";
import { isUuid } from "../common/caller.js";

export interface WorkerApp {
  config: Config;
  database: Database;
}

export interface TenantJob<P> {
  tenantId: string;
  payload: P;
  caller: Caller;
  /** A tenant transaction, as a request has; open as many as the work needs, one at a time. */
  inTenant<T>(work: (db: Db) => Promise<T>): Promise<T>;
  attempt: number;
  maxAttempts: number;
  isFinalAttempt: boolean;
  jobId: string;
}

export type TenantTask<P> = (app: WorkerApp, job: TenantJob<P>) => Promise<void>;

/** Adapts a tenant task to graphile-worker: refuses payloads without a tenant, builds the system caller. */
export function tenantTask<P>(app: WorkerApp, handler: TenantTask<P>): Task {
  return async (rawPayload, helpers) => {
    const payload = (rawPayload ?? {}) as P & { tenantId?: string };
    const tenantId = payload.tenantId;
    if (!tenantId || !isUuid(tenantId)) throw new Error(`job ${helpers.job.id} has no tenant: refusing to run it`);
    const claims = { dbRole: app.config.roles.member, tenantId, userId: null };
    await handler(app, {
      tenantId,
      payload,
      caller: { tenantId, actor: { kind: "system", id: null }, permissions: ROLE_PERMISSIONS.owner, requestId: `job:${helpers.job.id}` },
      inTenant: (work) => withTenantTransaction(app.database, claims, work, { timeout: 60_000 }),
      attempt: helpers.job.attempts,
      maxAttempts: helpers.job.max_attempts,
      isFinalAttempt: helpers.job.attempts >= helpers.job.max_attempts,
      jobId: helpers.job.id,
    });
  };
}

export interface QueueWorker {
  runner: Runner | null;
  workerId: string;
  stop(): Promise<void>;
}

export interface StartOptions {
  taskList: TaskList;
  /** Called after the worker has stopped taking jobs (closes what the tasks hold). */
  close?: () => Promise<void>;
  crontab?: string;
  /** The embedded demo runs recurring work on timers instead of graphile-worker's cron. */
  recurring?: { everyMs: number; run: () => Promise<unknown> }[];
  log?: (line: string) => void;
}

export async function startQueueWorker(app: WorkerApp, options: StartOptions): Promise<QueueWorker> {
  if (app.database.embedded) return startEmbeddedWorker(app, options);
  const { config, database } = app;
  const queue = config.queue;
  const pool = await ownerPool(database.adminUrl, config.roles.owner, Math.max(4, queue.concurrency + 2));
  const log = options.log ?? (() => {});
  const logger = new Logger((scope) => (level, message) => {
    if (level === "error" || level === "warning") console.error(`[worker ${scope.label ?? ""}] ${message}`);
  });
  let workerId = "";
  const events = new EventEmitter() as WorkerEvents;
  events.on("pool:create", ({ workerPool }) => (workerId = workerPool.id));
  const runner = await run({
    pgPool: pool,
    taskList: options.taskList,
    crontab: options.crontab ?? "",
    concurrency: queue.concurrency,
    pollInterval: queue.pollIntervalMs,
    noHandleSignals: true,
    logger,
    events,
  });
  const beat = async () => {
    const stale = `${queue.staleAfterMs} milliseconds`;
    await pool.query(
      `insert into worker_heartbeats (worker_id) values ($1)
         on conflict (worker_id) do update set beat_at = now()`,
      [workerId],
    );
    // Release the jobs of processes that stopped beating (SIGKILL, lost host) and forget them.
    const { rows } = await pool.query<{ released: string[] }>(
      `with dead as (
         select distinct j.locked_by from graphile_worker._private_jobs j
          where j.locked_by is not null and j.locked_at < now() - $1::interval
            and not exists (select 1 from worker_heartbeats h where h.worker_id = j.locked_by and h.beat_at > now() - $1::interval)
       ), released as (select graphile_worker.force_unlock_workers(array(select locked_by from dead)))
       select array(select locked_by from dead) as released from released`,
      [stale],
    );
    await pool.query(`delete from worker_heartbeats where beat_at < now() - $1::interval`, [stale]);
    const released = rows[0]?.released ?? [];
    if (released.length) log(`released the jobs of stopped workers: ${released.join(", ")}`);
  };
  if (workerId) await beat().catch((error: Error) => console.error("worker heartbeat failed", error.message));
  const timer = setInterval(() => {
    if (workerId) beat().catch((error: Error) => console.error("worker heartbeat failed", error.message));
  }, queue.heartbeatMs);
  timer.unref();
  log(`queue worker ${workerId} running (concurrency ${queue.concurrency})`);
  return {
    runner,
    workerId,
    async stop() {
      clearInterval(timer);
      await runner.stop().catch(() => {});
      await options.close?.();
      await pool.query(`delete from worker_heartbeats where worker_id = $1`, [workerId]).catch(() => {});
      await pool.end().catch(() => {});
    },
  };
}

/**
 * The embedded demo (PGlite behind one socket) cannot take graphile-worker's usual shape: a LISTEN
 * connection and a pool beside the app's own corrupted the shared session under load (interleaved
 * protocol messages). Here the queue borrows the app's single connection between transactions and
 * polls (runOnce, no LISTEN); recurring work runs on timers. One process owns the embedded database,
 * so any lock left by a previous run is its own and is released at start.
 */
async function startEmbeddedWorker(app: WorkerApp, options: StartOptions): Promise<QueueWorker> {
  const { config, database } = app;
  const logger = new Logger(() => (level, message) => {
    if (level === "error" || level === "warning") console.error(`[worker] ${message}`);
  });
  await database.pool.query(
    "select graphile_worker.force_unlock_workers(array(select distinct locked_by from graphile_worker._private_jobs where locked_by is not null))",
  );
  let stopped = false;
  let current: Promise<void> = Promise.resolve();
  const tick = async () => {
    if (stopped) return;
    current = runOnce({ pgPool: database.pool, taskList: options.taskList, concurrency: 1, noHandleSignals: true, logger })
      .catch((error: Error) => console.error("[worker] run failed:", error.message));
    await current;
    if (!stopped) timer = setTimeout(() => void tick(), config.queue.pollIntervalMs);
  };
  let timer = setTimeout(() => void tick(), 0);
  const repeating = (options.recurring ?? []).map(({ everyMs, run: work }) =>
    setInterval(() => void work().catch((error: Error) => console.error("[worker] recurring job failed:", error.message)), everyMs),
  );
  options.log?.(`queue worker (embedded: polling every ${config.queue.pollIntervalMs} ms) running`);
  return {
    runner: null,
    workerId: "embedded",
    async stop() {
      stopped = true;
      clearTimeout(timer);
      for (const r of repeating) clearInterval(r);
      await current;
      await options.close?.();
    },
  };
}
