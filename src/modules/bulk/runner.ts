// Runs bulk jobs: leases the oldest unleased job of any tenant, issues it chunk by chunk in that
// tenant's transactions, renews the lease with every chunk. A runner that dies leaves a lease that
// expires, and the job resumes where its last committed chunk ended. (The delivery issue moves this
// onto graphile-worker; the chunk contract stays.)
import type { App } from "../../context.js";
import { withTenantTransaction } from "../../db/tenant-transaction.js";
import { processChunk, type ChunkHooks } from "./service.js";
import { statusAllocatorFor } from "../credentials/status-lists.js";
import { createSignPool } from "../credentials/vc/sign-pool.js";

export interface RunnerOptions {
  chunkSize?: number;
  /** Chunk transactions in flight per job. */
  concurrency?: number;
  pollMs?: number;
  leaseSeconds?: number;
  hooks?: ChunkHooks;
  log?: (line: string) => void;
}

export function createBulkRunner(app: App, options: RunnerOptions = {}) {
  const chunkSize = options.chunkSize ?? app.config.bulkChunkSize;
  const leaseSeconds = options.leaseSeconds ?? app.config.bulkLeaseSeconds;
  const pollMs = options.pollMs ?? 1000;
  const concurrency = Math.max(1, options.concurrency ?? app.config.bulkConcurrency);
  const log = options.log ?? ((line) => console.log(`[bulk] ${line}`));
  const settings = {
    publicUrl: app.config.publicUrl,
    keks: app.config.keks,
    allocateStatus: statusAllocatorFor(app),
    signPool: createSignPool(),
  };
  let stopped = true;
  let wake: (() => void) | null = null;
  let loop: Promise<void> | null = null;

  const sleep = () =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, pollMs);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  async function claim(): Promise<{ tenant_id: string; job_id: string } | undefined> {
    const [job] = await app.database.sql<{ tenant_id: string; job_id: string }[]>`
      select tenant_id, job_id from claim_bulk_job(${`${leaseSeconds} seconds`}::interval)`;
    return job;
  }

  /** A job is worked by `concurrency` chunk loops at once, so signing and database writes overlap. */
  async function runJob(tenantId: string, jobId: string) {
    const failed = { value: false };
    await Promise.all(Array.from({ length: concurrency }, () => chunkLoop(tenantId, jobId, failed)));
  }

  async function chunkLoop(tenantId: string, jobId: string, failed: { value: boolean }) {
    const claims = { dbRole: app.config.roles.member, tenantId, userId: null };
    let failures = 0;
    while (!stopped && !failed.value) {
      try {
        const result = await withTenantTransaction(app.database, claims, (db) => processChunk(db, tenantId, jobId, settings, chunkSize, options.hooks, leaseSeconds), {
          timeout: 120_000,
        });
        failures = 0;
        if (result.done) {
          log(`job ${jobId} completed`);
          return;
        }
        // Nothing to take, but another loop still holds rows: wait for it to commit.
        if (result.issued + result.failed === 0) await new Promise((r) => setTimeout(r, 50));
      } catch (error) {
        failures++;
        log(`job ${jobId}: chunk failed (${failures}/3): ${(error as Error).message}`);
        if (failures >= 3) {
          failed.value = true;
          await withTenantTransaction(app.database, claims, (db) =>
            db.bulkJob.update({ where: { tenantId_id: { tenantId, id: jobId } }, data: { status: "FAILED", finishedAt: new Date(), lockedUntil: null } }),
          );
          return;
        }
      }
    }
  }

  async function run() {
    while (!stopped) {
      try {
        const job = await claim();
        if (job) await runJob(job.tenant_id, job.job_id);
        else await sleep();
      } catch (error) {
        if (stopped) return;
        log(`runner error: ${(error as Error).message}`);
        await sleep();
      }
    }
  }

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      loop = run();
    },
    /** Look for work now rather than at the next poll. */
    kick() {
      wake?.();
    },
    async stop() {
      stopped = true;
      wake?.();
      await loop;
      await settings.signPool.close();
    },
  };
}

export type BulkRunner = ReturnType<typeof createBulkRunner>;
