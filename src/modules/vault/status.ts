// What a tenant's owners and admins may know about its keys: versions, dates, rotation progress.
// Never key material (the wrapped column is not even read).
import type { Db } from "../../db/tenant-transaction.js";
import { ident } from "./batch-sql.js";
import { SEALED_TABLES } from "./registry.js";
import type { Vault } from "./vault.js";

export interface RotationView {
  id: string;
  fromVersion: number;
  toVersion: number;
  state: "running" | "completed" | "failed";
  reason: string;
  rowsDone: number;
  rowsTotal: number;
  tables: { table: string; done: number; total: number }[];
  startedAt: Date;
  /** When the new key began (or begins) to seal new data: sql/053. */
  activatesAt: Date | null;
  retireAfter: Date | null;
  finishedAt: Date | null;
  lastError: string | null;
}

export interface DataProtectionView {
  currentKeyVersion: number;
  currentKeyCreatedAt: Date;
  liveKeyVersions: number[];
  rotationPeriodDays: number;
  nextRotationDueAt: Date;
  legacyRows: number;
  lastRotation: RotationView | null;
}

/** The tenant's key status (creating its first keys if it has none yet), in its tenant transaction. */
export async function dataProtection(db: Db, vault: Vault, tenantId: string, rotationPeriodDays: number): Promise<DataProtectionView> {
  await vault.forTenant(db, tenantId);
  // Whether each key is active is the database's answer (its clock decides activation, sql/053).
  const keys = await db.$queryRaw<{ version: number; createdAt: Date; activatesAt: Date; active: boolean }[]>`
    select version, created_at as "createdAt", activates_at as "activatesAt", activates_at <= now() as active
      from tenant_data_keys where tenant_id = ${tenantId}::uuid and purpose = 'data' and retired_at is null order by version`;
  // The key sealing new data: the newest active one (a rotation's new key waits for its activation).
  const current = keys.filter((k) => k.active).at(-1) ?? keys[0]!;
  let legacyRows = 0;
  for (const entry of SEALED_TABLES) {
    const [row] = await db.$queryRawUnsafe<{ n: number }[]>(`select count(*)::int as n from ${ident(entry.table)} where tenant_id = $1::uuid and key_version is null`, tenantId);
    legacyRows += row!.n;
  }
  const last = await db.dataKeyRotation.findFirst({ where: { tenantId }, orderBy: [{ startedAt: "desc" }, { id: "desc" }] });
  const progress = (last?.progress ?? {}) as Record<string, { done?: number; total?: number }>;
  return {
    currentKeyVersion: current.version,
    currentKeyCreatedAt: current.createdAt,
    liveKeyVersions: keys.map((k) => k.version),
    rotationPeriodDays,
    nextRotationDueAt: new Date(current.createdAt.getTime() + rotationPeriodDays * 86_400_000),
    legacyRows,
    lastRotation: last && {
      id: last.id,
      fromVersion: last.fromVersion,
      toVersion: last.toVersion,
      state: last.state as RotationView["state"],
      reason: last.reason,
      rowsDone: Number(last.rowsDone),
      rowsTotal: Number(last.rowsTotal),
      tables: Object.entries(progress).map(([table, p]) => ({ table, done: Number(p.done ?? 0), total: Number(p.total ?? 0) })),
      startedAt: last.startedAt,
      // The latest rotation's new key is live until a later rotation retires it.
      activatesAt: keys.find((k) => k.version === last.toVersion)?.activatesAt ?? null,
      retireAfter: last.retireAfter,
      finishedAt: last.finishedAt,
      lastError: last.lastError,
    },
  };
}
