// Keeps the newest N backups of one database in a folder and removes the rest. A backup is the pair
// `<stem>.pgdump.age` + `<stem>.manifest.json`; the manifest goes first, so a removal cut short leaves
// an orphan file that no longer counts, never a manifest without its backup.
import { readdir, rm, stat } from "node:fs/promises";
import path from "node:path";
import { BACKUP_SUFFIX, MANIFEST_SUFFIX } from "./format.js";

const STEM = /^laurel-(.+)-(\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z)$/;
/** Leftovers of a run that was killed (partials, a backup whose manifest never came) are removed after this long. */
const LEFTOVER_AGE_MS = 24 * 3_600_000;

export interface PruneResult {
  kept: string[];
  removed: string[];
}

/**
 * Removes all but the `keep` newest backups of `database` in `dir` (by the time in their names), never
 * `justWritten` (a backup path or stem), whatever the clock says; also leftovers older than a day.
 * Other files, and other databases' backups, are left alone. Returns stems kept and removed.
 */
export async function pruneBackups(dir: string, database: string, keep: number, justWritten: string, now = Date.now()): Promise<PruneResult> {
  const names = await readdir(dir);
  const mine = (stem: string) => STEM.exec(stem)?.[1] === database;
  const counted = names.filter((n) => n.endsWith(MANIFEST_SUFFIX)).map((n) => n.slice(0, -MANIFEST_SUFFIX.length)).filter(mine);
  // Newest first: the time is the end of the stem, and ISO times sort as text.
  counted.sort((a, b) => STEM.exec(b)![2]!.localeCompare(STEM.exec(a)![2]!));
  const current = path.basename(justWritten).replace(BACKUP_SUFFIX, "");
  const keptStems = new Set([...counted.slice(0, Math.max(1, keep)), current]);
  const removed: string[] = [];
  for (const stem of counted) {
    if (keptStems.has(stem)) continue;
    await rm(path.join(dir, `${stem}${MANIFEST_SUFFIX}`), { force: true });
    await rm(path.join(dir, `${stem}${BACKUP_SUFFIX}`), { force: true });
    removed.push(stem);
  }
  const countedSet = new Set(counted);
  for (const name of names) {
    const partial = name.startsWith(".") && name.endsWith(".partial") ? name.slice(1).replace(/\.partial$/, "") : undefined;
    const orphan = name.endsWith(BACKUP_SUFFIX) && !countedSet.has(name.slice(0, -BACKUP_SUFFIX.length)) ? name : undefined;
    const base = partial ?? orphan;
    if (!base) continue;
    const stem = base.replace(BACKUP_SUFFIX, "").replace(MANIFEST_SUFFIX, "");
    if (!mine(stem) || stem === current) continue;
    const info = await stat(path.join(dir, name)).catch(() => undefined);
    if (info && now - info.mtimeMs > LEFTOVER_AGE_MS) await rm(path.join(dir, name), { force: true });
  }
  return { kept: counted.filter((s) => keptStems.has(s)), removed };
}
