// Every task the worker runs, by name. Tenant tasks go through tenantTask (payload carries the tenant,
// stamped by the database); cron tasks run across tenants and open a tenant transaction per tenant.
import type { TaskList } from "graphile-worker";
import { createMailer, type Mailer } from "../delivery/mailer.js";
import { sendEmailsTask } from "../delivery/send-emails.js";
import { sweepReminders } from "../delivery/reminders.js";
import { deliverWebhook } from "../webhooks/deliver.js";
import { createBulkTask, type BulkTaskOptions } from "../bulk/task.js";
import { erasePersonTask } from "../privacy/erasure.js";
import { exportPersonTask } from "../privacy/export.js";
import { rectifyPersonTask } from "../privacy/rectification.js";
import { warnDeadlines } from "../privacy/deadline-warnings.js";
import { createTenantExportTask, type TenantExportOptions } from "../tenant-export/task.js";
import { tenantTask, type TenantTask, type WorkerApp } from "./worker.js";
import { keyMaintenance, rotateDataKeyTask } from "../vault/maintenance.js";
import { runRetention } from "../retention/sweep.js";
import { backupCrontab, scheduledBackup } from "../backups/task.js";

export interface TaskOptions {
  mailer?: Mailer;
  bulk?: BulkTaskOptions;
  tenantExport?: TenantExportOptions;
}

/** The task list, and what to close when the worker stops (the bulk signer's threads). */
export function createTasks(app: WorkerApp, options: TaskOptions = {}): { taskList: TaskList; close: () => Promise<void> } {
  const bulk = createBulkTask(app, options.bulk);
  return { taskList: buildTaskList(app, options.mailer ?? createMailer(app.config.email), bulk.run, options.tenantExport), close: bulk.close };
}

function buildTaskList(app: WorkerApp, mailer: Mailer, runBulkJob: TenantTask<{ bulkJobId: string }>, tenantExport?: TenantExportOptions): TaskList {
  return {
    send_emails: tenantTask(app, sendEmailsTask(mailer)),
    deliver_webhook: tenantTask(app, deliverWebhook),
    run_bulk_job: tenantTask(app, runBulkJob),
    erase_person: tenantTask(app, erasePersonTask),
    export_person: tenantTask(app, exportPersonTask),
    rectify_person: tenantTask(app, rectifyPersonTask),
    export_tenant: tenantTask(app, createTenantExportTask(tenantExport)),
    rotate_data_key: tenantTask(app, rotateDataKeyTask),
    key_maintenance: async (_payload, helpers) => {
      const totals = await helpers.withPgClient((client) => keyMaintenance(app, client));
      if (Object.values(totals).some(Boolean)) helpers.logger.info(`key maintenance: ${JSON.stringify(totals)}`);
    },
    reminders_sweep: async (_payload, helpers) => {
      const totals = await sweepReminders(app, helpers);
      if (totals.reminders + totals.expiring + totals.expired) helpers.logger.info(`reminders sweep: ${JSON.stringify(totals)}`);
    },
    privacy_deadline_warnings: async (_payload, helpers) => {
      const warned = await warnDeadlines(app, helpers);
      if (warned) helpers.logger.info(`privacy deadline warnings: ${warned} request(s)`);
    },
    engagement_partitions: async (_payload, helpers) => {
      await helpers.withPgClient((client) => client.query("select ensure_engagement_partitions(3)"));
    },
    analytics_compact: async (_payload, helpers) => {
      await helpers.withPgClient((client) => compactAnalytics(client));
    },
    // One connection for the whole run: it holds the run's advisory lock (retention/sweep.ts).
    retention_sweep: async (_payload, helpers) => {
      const report = await helpers.withPgClient((client) => runRetention(app, client));
      if (report) helpers.logger.info(`retention: ${JSON.stringify(report)}`);
    },
    backup_database: () => scheduledBackup(app),
  };
}

/**
 * Folds every tenant's analytics delta rows into compacted rows (sql/021): readers sum both, so no
 * total changes; it keeps the rollups one row per key. A tenant another worker is compacting is
 * skipped until the next run. Acts as the owner (the queue's connection), which may execute it.
 */
function compactAnalytics(client: { query: (sql: string) => Promise<unknown> }) {
  return client.query("select compact_engagement_analytics()");
}

/** Recurring work; graphile-worker records each run, so a restart neither skips nor repeats one. */
export function crontab(app: WorkerApp): string {
  const minutes = app.config.queue.reminderSweepMinutes;
  return [`*/${Math.min(59, minutes)} * * * * reminders_sweep`, `17 3 * * * engagement_partitions ?fill=2d`, `* * * * * analytics_compact`,
    // Daily key maintenance (vault/maintenance.ts): KEK re-wrap, legacy rows, data-key rotations due.
    `23 4 * * * key_maintenance ?fill=1d`,
    // Retention: daily at a quiet hour (UTC); a missed day is caught up once.
    `43 2 * * * retention_sweep ?fill=1d`,
    // Daily, early in Europe's morning; a missed day (worker down) is caught up once (?fill=1d).
    `7 6 * * * privacy_deadline_warnings ?fill=1d`,
    ...backupCrontab(app.config)].join("\n");
}

/** The same recurring work on timers, for the embedded demo (see startEmbeddedWorker). */
export function recurringWork(app: WorkerApp) {
  const sql = app.database.pool;
  return [
    {
      everyMs: app.config.queue.reminderSweepMinutes * 60_000,
      run: () => sweepReminders(app, sql),
    },
    { everyMs: 24 * 3_600_000, run: () => sql.query("select ensure_engagement_partitions(3)") },
    { everyMs: 60_000, run: () => compactAnalytics(sql) },
    { everyMs: 24 * 3_600_000, run: () => warnDeadlines(app, sql) },
    { everyMs: 24 * 3_600_000, run: () => keyMaintenance(app, sql) },
    // The demo runs one worker in one process: no lock to take, and the pool's one connection stays free.
    { everyMs: 24 * 3_600_000, run: () => runRetention(app, sql, { lock: false }) },
    { everyMs: 24 * 3_600_000, run: () => scheduledBackup(app) },
  ];
}
