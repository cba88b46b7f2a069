// The worker's daily backup (LAUREL_BACKUP_DIR): one encrypted backup into the folder, then the
// folder cut back to the newest LAUREL_BACKUP_KEEP. A failure throws, so graphile-worker logs it and
// tries again later (three attempts); the backup it was writing leaves nothing behind that counts.
import type { Config } from "../../config.js";
import type { WorkerApp } from "../jobs/worker.js";
import { takeBackup } from "./backup.js";
import { pruneBackups } from "./retention.js";

/** The crontab line when backups are configured: 02:41 UTC daily; a day missed while no worker ran is caught up once. */
export function backupCrontab(config: Config): string[] {
  return config.backup.dir ? ["41 2 * * * backup_database ?fill=1d&max=3"] : [];
}

/** Takes the daily backup and prunes; does nothing without LAUREL_BACKUP_DIR. */
export async function scheduledBackup(app: WorkerApp, log: (line: string) => void = (l) => console.log(`[backup] ${l}`)): Promise<void> {
  const { dir, keep, recipients } = app.config.backup;
  if (!dir) return;
  if (app.database.embedded) {
    // pg_dump cannot read PGlite (another major version, in WebAssembly): its folder is the backup.
    log(`skipped: the embedded demo database is a folder (${app.config.dataDir}); copy it while Laurel is stopped`);
    return;
  }
  const result = await takeBackup({ adminUrl: app.database.adminUrl, roles: app.config.roles, recipients, dir, log });
  const pruned = await pruneBackups(dir, result.manifest.database, keep, result.backupPath);
  log(`kept ${pruned.kept.length} of ${dir} (LAUREL_BACKUP_KEEP=${keep})${pruned.removed.length ? `, removed ${pruned.removed.join(", ")}` : ""}`);
}
