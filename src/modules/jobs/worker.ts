// The background worker: graphile-worker runs the queue; every tenant job runs its work through the
// same tenant-transaction helper as a request, acting as the tenant's system actor.
//
// graphile-worker's own connection acts as the owner role (its tables are closed to the app role).
// It releases a crashed process's jobs only after four hours, so each process proves it is alive
// (liveness.ts) and any process releases the jobs of one that is not. A database restart or outage
// never stops the worker: a runner that gives up is replaced (startQueueWorker).
import { ownerPool } from "../../db/migrate.js";
import { createLiveness } from "./liveness.js";
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
    if (level === "error" || level === "warning") console.error(`[worker ${scope.label ?? ""}] ${message.split("\n")[0]}`);
  });
  const liveness = createLiveness({ adminUrl: database.adminUrl, heartbeatMs: queue.heartbeatMs, staleAfterMs: queue.staleAfterMs, pool, log });
  const worker: QueueWorker = { runner: null, workerId: "", stop: async () => {} };
  let stopping = false;
  let beatFailedAt = 0;
  const beat = () =>
    liveness.beat().catch((error: Error) => {
      // One line per outage, not one per beat.
      if (Date.now() - beatFailedAt > 60_000) console.error(`[worker] heartbeat failed (will keep trying): ${error.message}`);
      beatFailedAt = Date.now();
    });

  // graphile-worker gives up on a pool whose job could not be recorded as done or failed (the database
  // went away meanwhile): its promise settles and nothing takes jobs any more. A new runner takes over,
  // retrying while the database is unreachable, and the old one's jobs are released at the next beat.
  const launch = async (): Promise<void> => {
    for (let attempt = 0; !stopping; attempt++) {
      const events = new EventEmitter() as WorkerEvents;
      events.on("pool:create", ({ workerPool }) => liveness.adopt((worker.workerId = workerPool.id)));
      try {
        const runner = await run({
          pgPool: pool,
          taskList: options.taskList,
          crontab: options.crontab ?? "",
          concurrency: queue.concurrency,
          pollInterval: queue.pollIntervalMs,
          noHandleSignals: true,
          logger,
          events,
          // Batched, a job's end that cannot be recorded (the database went away) goes to an error
          // handler that shuts the runner down (replaced below), instead of an unawaited rejection.
          preset: { worker: { completeJobBatchDelay: 0, failJobBatchDelay: 0 } },
        });
        worker.runner = runner;
        const id = worker.workerId;
        await beat();
        void runner.promise.then(
          () => replace(id, "stopped"),
          (error: Error) => replace(id, error.message.split("\n")[0]!),
        );
        // A runner shutting itself down while the database is away may never finish doing so (it
        // cannot release its jobs): give it a few seconds, then kill it and take over regardless.
        events.on("pool:gracefulShutdown", ({ message }) => {
          if (stopping) return;
          setTimeout(() => {
            if (replaced.has(id)) return;
            void runner.kill(message).catch(() => {});
            replace(id, message);
          }, 5_000);
        });
        return;
      } catch (error) {
        const delay = Math.min(15_000, 500 * 2 ** attempt);
        console.error(`[worker] cannot start the queue runner (${(error as Error).message}); trying again in ${delay / 1000} s`);
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  };
  const replaced = new Set<string>();
  const replace = (id: string, reason: string) => {
    if (stopping || replaced.has(id)) return;
    replaced.add(id);
    console.error(`[worker] queue runner ${id} gave up (${reason}); starting a new one`);
    liveness.abandon(id);
    worker.runner = null;
    // Not unref'd: in `npm run worker` nothing else keeps the process alive between two runners.
    relaunch = setTimeout(() => void launch(), 1_000);
  };
  let relaunch: NodeJS.Timeout | undefined;
  await launch();
  const timer = setInterval(() => void beat(), queue.heartbeatMs);
  timer.unref();
  log(`queue worker ${worker.workerId} running (concurrency ${queue.concurrency})`);
  worker.stop = async () => {
    stopping = true;
    clearInterval(timer);
    clearTimeout(relaunch);
    await worker.runner?.stop().catch(() => {});
    await options.close?.();
    await liveness.stop();
    await pool.end().catch(() => {});
  };
  return worker;
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
