// The run_bulk_job task: issues one bulk job chunk by chunk, each chunk a tenant transaction that
// commits whole. The job is queued with the bulk job itself (createBulkJob), so graphile-worker runs it
// once at a time; a worker that dies mid-job has its lock released (worker heartbeats) and the retried
// task resumes where the last committed chunk ended: rows already issued are never taken again.
import { processChunk, type ChunkHooks } from "./service.js";
import { statusAllocatorFor } from "../credentials/status-lists.js";
import { createSignPool } from "../credentials/vc/sign-pool.js";
import { mailSettings } from "../delivery/compose.js";
import type { TenantJob, WorkerApp } from "../jobs/worker.js";

export interface BulkTaskOptions {
  chunkSize?: number;
  /** Chunk transactions in flight per job, so signing and database writes overlap. */
  concurrency?: number;
  hooks?: ChunkHooks;
  log?: (line: string) => void;
}

export function createBulkTask(app: WorkerApp, options: BulkTaskOptions = {}) {
  const chunkSize = options.chunkSize ?? app.config.bulkChunkSize;
  const concurrency = Math.max(1, options.concurrency ?? app.config.bulkConcurrency);
  const log = options.log ?? ((line) => console.log(`[bulk] ${line}`));
  const settings = {
    ...mailSettings(app.config),
    allocateStatus: statusAllocatorFor(app),
    signPool: createSignPool(),
  };

  async function chunkLoop(job: TenantJob<{ bulkJobId: string }>, failed: { value: boolean }) {
    const { tenantId } = job;
    const jobId = job.payload.bulkJobId;
    let failures = 0;
    while (!failed.value) {
      try {
        const result = await job.inTenant((db) => processChunk(db, tenantId, jobId, settings, chunkSize, options.hooks));
        failures = 0;
        if (result.done) return;
        // Nothing to take, but another loop still holds rows: wait for it to commit.
        if (result.issued + result.failed === 0) await new Promise((r) => setTimeout(r, 50));
      } catch (error) {
        failures++;
        log(`job ${jobId}: chunk failed (${failures}/3): ${(error as Error).message}`);
        if (failures >= 3) {
          failed.value = true;
          await job.inTenant((db) =>
            db.bulkJob.update({ where: { tenantId_id: { tenantId, id: jobId } }, data: { status: "FAILED", finishedAt: new Date() } }),
          );
          return;
        }
      }
    }
  }

  return {
    async run(_app: WorkerApp, job: TenantJob<{ bulkJobId: string }>) {
      const jobId = job.payload.bulkJobId;
      const started = await job.inTenant((db) => db.$executeRaw`
        update bulk_jobs set status = 'RUNNING', started_at = coalesce(started_at, now())
         where tenant_id = ${job.tenantId}::uuid and id = ${jobId}::uuid and status in ('PENDING', 'RUNNING')`);
      if (!started) return; // finished, failed, or not this tenant's
      const failed = { value: false };
      await Promise.all(Array.from({ length: concurrency }, () => chunkLoop(job, failed)));
      if (!failed.value) log(`job ${jobId} completed`);
    },
    close: () => settings.signPool.close(),
  };
}
