// The daily retention job (a graphile-worker cron, jobs/tasks.ts): removes raw usage data older than each
// tenant's settings (settings.ts, sql/045), in this order:
//   1. every tenant's engagement horizon moves up to its cutoff (readers answer from rollups before it);
//   2. monthly engagement partitions older than every tenant's horizon are dropped whole, oldest first
//      (their per-credential counts kept); one that cannot be locked within 5 s waits for the next run;
//   3. per tenant and category, batches of at most `batch` rows, each its own short transaction, so no
//      lock is held for long: engagement events left (the default partition, or a tenant with a shorter
//      setting than others), partner webhook attempts and finished deliveries, email bodies (nulled),
//      person exports, the audit log; then the tenant's finished export ZIPs on disk;
//   4. provider webhook events (platform-wide rows, each by its message's tenant).
// One run at a time across workers (a session advisory lock; a second run finding it taken does nothing),
// and every step is idempotent: a crashed run is simply run again.
import { rm, stat } from "node:fs/promises";
import path from "node:path";
import { withTenantSql } from "../../db/tenant-transaction.js";
import type { WorkerApp } from "../jobs/worker.js";

/** Rows per statement: large enough to go fast, small enough that each transaction takes milliseconds. */
export const RETENTION_BATCH = 5_000;

/** Categories expire_tenant_rows() knows, in the order they run. */
export const TENANT_CATEGORIES = ["engagement_events", "webhook_attempts", "webhook_deliveries", "email_bodies", "person_exports", "audit_log"] as const;
export type TenantCategory = (typeof TENANT_CATEGORIES)[number];

export interface RetentionReport {
  tenants: number;
  /** Names of the engagement partitions dropped whole. */
  partitionsDropped: string[];
  /** A partition was due but its lock was not granted within 5 s: it goes next run. */
  partitionDropDeferred: boolean;
  /** Rows removed (email bodies: messages blanked) per category, over all tenants. */
  rows: Record<TenantCategory | "provider_events" | "tenant_export_files", number>;
}

/** A connection acting as the owner role: graphile-worker's job client, or one client of an owner pool. */
export interface OwnerConnection {
  query(text: string, values?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
}

const LOCK = "7413, 0"; // pg_advisory_lock(7413, 0): the retention run; (7413, 1) is taken by each partition drop

/**
 * Runs retention once. `owner` must be one connection (not a pool) when `lock` is on (the default), since
 * the run's advisory lock belongs to the session. Returns what was removed, or null when another run holds
 * the lock. Throws on a database error (the job is retried; done batches stay done).
 */
export async function runRetention(app: WorkerApp, owner: OwnerConnection, options: { batch?: number; lock?: boolean } = {}): Promise<RetentionReport | null> {
  const batch = options.batch ?? RETENTION_BATCH;
  const lock = options.lock ?? true;
  if (lock) {
    const { rows } = await owner.query(`select pg_try_advisory_lock(${LOCK}) as got`);
    if (!rows[0]?.got) return null;
  }
  try {
    const tenants = (await owner.query("select t::text as id from tenants_for_retention() t")).rows.map((r) => r.id as string);
    const report: RetentionReport = {
      tenants: tenants.length,
      partitionsDropped: [],
      partitionDropDeferred: false,
      rows: { engagement_events: 0, webhook_attempts: 0, webhook_deliveries: 0, email_bodies: 0, person_exports: 0, audit_log: 0, provider_events: 0, tenant_export_files: 0 },
    };
    for (const tenantId of tenants) await inTenant(app, tenantId, (tx) => tx`select advance_engagement_horizon()`);
    await dropPartitions(owner, report);
    for (const tenantId of tenants) await expireTenant(app, tenantId, batch, report);
    for (;;) {
      const n = Number((await owner.query("select expire_provider_events($1) as n", [batch])).rows[0]!.n);
      report.rows.provider_events += n;
      if (n < batch) break;
    }
    return report;
  } finally {
    if (lock) await owner.query(`select pg_advisory_unlock(${LOCK})`);
  }
}

async function dropPartitions(owner: OwnerConnection, report: RetentionReport): Promise<void> {
  for (;;) {
    try {
      const name = (await owner.query("select drop_expired_engagement_partition() as name")).rows[0]!.name as string | null;
      if (!name) return;
      report.partitionsDropped.push(name);
    } catch (error) {
      // lock_not_available: someone read the events for over 5 s; the batched deletes carry on meanwhile.
      if ((error as { code?: string }).code !== "55P03") throw error;
      report.partitionDropDeferred = true;
      return;
    }
  }
}

/** One tenant: every category in batches, its expired export ZIPs, and one audit entry saying what went. */
async function expireTenant(app: WorkerApp, tenantId: string, batch: number, report: RetentionReport): Promise<void> {
  const removed: Partial<Record<TenantCategory | "tenant_export_files", number>> = {};
  for (const category of TENANT_CATEGORIES) {
    for (;;) {
      const [row] = await inTenant(app, tenantId, (tx) => tx<{ n: number }[]>`select expire_tenant_rows(${category}, ${batch}) as n`);
      const n = row!.n;
      if (n) removed[category] = (removed[category] ?? 0) + n;
      if (n < batch) break;
    }
  }
  const files = await removeExpiredExportFiles(app, tenantId);
  if (files) removed.tenant_export_files = files;
  for (const [key, n] of Object.entries(removed)) report.rows[key as TenantCategory] += n;
  if (!Object.keys(removed).length) return;
  // As the record that data went, and how much: never which rows (the audit log may itself be what expired).
  await inTenant(app, tenantId, (tx) => tx`
    insert into audit_log (tenant_id, actor_kind, action, target_type, target_id, details)
    values (${tenantId}, 'system', 'retention.expired', 'Tenant', ${tenantId}, ${tx.json(removed)})`);
}

/**
 * Deletes the ZIPs of the tenant's exports finished longer ago than its exportFileDays (the rows stay, as
 * the record that an export was made; the link then answers 410). Returns how many files were there.
 */
async function removeExpiredExportFiles(app: WorkerApp, tenantId: string): Promise<number> {
  const due = await inTenant(app, tenantId, (tx) => tx<{ file_name: string }[]>`
    select e.file_name from tenant_exports e join tenants t on t.id = e.tenant_id
     where e.tenant_id = ${tenantId} and e.state = 'completed' and e.file_name is not null
       and e.finished_at < now() - make_interval(days => t.retention_export_file_days)`);
  let n = 0;
  for (const { file_name } of due) {
    const file = path.join(app.config.exportDir, file_name);
    if (await stat(file).then(() => true, () => false)) {
      await rm(file, { force: true });
      n++;
    }
  }
  return n;
}

function inTenant<T>(app: WorkerApp, tenantId: string, work: Parameters<typeof withTenantSql<T>>[2]): Promise<T> {
  return withTenantSql(app.database.sql, { dbRole: app.config.roles.member, tenantId, userId: null }, work);
}
