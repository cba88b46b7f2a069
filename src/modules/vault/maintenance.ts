// The worker's side of key rotation. rotate_data_key (a tenant task) carries one tenant's rotation as
// far as it can and queues itself again for the final pass; key_maintenance (daily cron, and once at
// start-up) walks every tenant: re-wraps data keys under a newer KEK, seals legacy rows, starts the
// rotations that are due (LAUREL_DATA_KEY_ROTATION_DAYS) and nudges unfinished ones.
import { withTenantTransaction } from "../../db/tenant-transaction.js";
import { currentKekVersion } from "../issuers/sealing.js";
import { enqueueJob } from "../jobs/enqueue.js";
import type { TenantTask, WorkerApp } from "../jobs/worker.js";
import { rewrapTenantKeys } from "./kek.js";
import { resealSigningKeys } from "../issuers/service.js";
import { resealWebhookSecrets } from "../webhooks/service.js";
import { sealLegacyRows } from "./legacy.js";
import { recordRotationFailure, runRotation, startRotation, type RotationDeps } from "./rotation.js";

export function rotationDeps(app: WorkerApp): RotationDeps {
  return { sql: app.database.sql, memberRole: app.config.roles.member, vault: app.database.vault };
}

/** rotate_data_key: runs the tenant's rotation; queues itself for when the old key may be retired. */
export const rotateDataKeyTask: TenantTask<{ rotationId?: string }> = async (app, job) => {
  const deps = rotationDeps(app);
  try {
    const result = await runRotation(deps, job.tenantId);
    if (result.state === "waiting") {
      await job.inTenant((db) => enqueueJob(db, "rotate_data_key", {}, { runAt: result.nextRunAt, jobKey: "rotate_data_key" }));
    }
  } catch (error) {
    // Rows done so far stay done; the queue retries (with backoff) and the run resumes where it stopped.
    await recordRotationFailure(deps, job.tenantId, error, job.isFinalAttempt).catch(() => {});
    throw error;
  }
};

/** Anything that runs a query as the owner role: graphile-worker's job client, or an owner pool. */
export interface OwnerClient {
  query(text: string, values?: unknown[]): Promise<{ rows: unknown[] }>;
}

export interface MaintenanceTotals {
  rewrapped: number;
  legacySealed: number;
  started: number;
  continued: number;
}

/** key_maintenance across every tenant (see the module comment). One tenant's failure does not stop the rest. */
export async function keyMaintenance(app: WorkerApp, owner: OwnerClient, now = new Date()): Promise<MaintenanceTotals> {
  const totals: MaintenanceTotals = { rewrapped: 0, legacySealed: 0, started: 0, continued: 0 };
  if (app.config.keks.size === 0) return totals;
  const deps = rotationDeps(app);
  const rotateBefore = new Date(now.getTime() - app.config.queue.dataKeyRotationDays * 86_400_000);
  const { rows } = (await owner.query("select tenant_id, rewrap, rotate, running from key_maintenance_tenants($1, $2)", [
    currentKekVersion(app.config.keks),
    rotateBefore.toISOString(),
  ])) as { rows: { tenant_id: string; rewrap: boolean; rotate: boolean; running: boolean }[] };
  for (const tenant of rows) {
    const tenantId = tenant.tenant_id;
    try {
      if (tenant.rewrap) {
        totals.rewrapped += await rewrapTenantKeys(deps.sql, deps.memberRole, app.config.keks, tenantId);
        // Signing keys and webhook secrets are sealed by the KEK directly: re-sealed too, so the old KEK can go.
        totals.rewrapped += await withTenantTransaction(app.database, { dbRole: deps.memberRole, tenantId, userId: null }, async (db) =>
          (await resealSigningKeys(db, tenantId, { publicUrl: app.config.publicUrl, keks: app.config.keks })) +
          (await resealWebhookSecrets(db, tenantId, app.config.keks)),
        );
      }
      totals.legacySealed += await sealLegacyRows(deps, tenantId);
      if (!tenant.rotate && !tenant.running) continue;
      const claims = { dbRole: deps.memberRole, tenantId, userId: null };
      await withTenantTransaction(app.database, claims, async (db) => {
        if (tenant.running) await enqueueJob(db, "rotate_data_key", {}, { jobKey: "rotate_data_key" });
        else await startRotation(db, deps.vault, tenantId, { reason: "scheduled" });
      });
      if (tenant.running) totals.continued++;
      else totals.started++;
    } catch (error) {
      console.error(`[worker] key maintenance of tenant ${tenantId} failed (next run retries): ${(error as Error).message}`);
    }
  }
  return totals;
}

/**
 * At start-up of a process that runs the worker: key maintenance once now (legacy rows sealed, a new
 * KEK's re-wrap, rotations left unfinished), through the queue so that many processes starting at once
 * run it once (job key); the embedded demo, which has no cron, runs it in the background.
 */
export async function keyMaintenanceAtStartup(app: WorkerApp, queue: { runner: { addJob: (task: string, payload: object, spec: { jobKey: string }) => Promise<unknown> } | null }): Promise<void> {
  if (queue.runner) await queue.runner.addJob("key_maintenance", {}, { jobKey: "key_maintenance" });
  else void keyMaintenance(app, app.database.pool).catch((error: Error) => console.error(`[worker] key maintenance failed: ${error.message}`));
}
