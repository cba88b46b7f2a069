// Data-key rotation: a tenant gets a new data key (startRotation), then the worker re-seals every row of
// every sealed table (registry.ts) under it, 1,000 rows per tenant transaction, while the API keeps
// serving (runRotation). Resuming is free: what is left is "rows at an older version", and each table's
// keyset position is saved with each batch. The new key seals nothing, and the re-seal does not begin,
// until it is active (sql/053): one key-cache lifetime (KEY_CACHE_MS) and a commit margin after the
// start, so every process has loaded it before it meets a value sealed under it. The old key is retired
// (its wrapped bytes erased) only after a final pass that begins the same span after activation: until
// then a process whose cache predates the activation may still seal new rows under the old key.
import type postgres from "postgres";
import type { Sql } from "../../db/database.js";
import { withTenantSql, type Db } from "../../db/tenant-transaction.js";
import { enqueueJob } from "../jobs/enqueue.js";
import { hex, ident, keysetBatchSql } from "./batch-sql.js";
import { sealedVersion } from "./cipher.js";
import { newWrappedKey } from "./data-keys.js";
import { SEALED_TABLES, sealedFields, type SealedTable } from "./registry.js";
import type { TenantKeys, Vault } from "./vault.js";

export const ROTATION_BATCH_ROWS = 1_000;
/** Beyond the key cache: the longest a transaction that sealed under a stale key may take to commit (jobs: 60 s). */
const COMMIT_MARGIN_MS = 60_000;

/** What runRotation needs: postgres.js as the login role, the member role to act as, the vault. */
export interface RotationDeps {
  sql: Sql;
  memberRole: string;
  vault: Vault;
}

export interface RotationRow {
  id: string;
  from_version: number;
  to_version: number;
  state: "running" | "completed" | "failed";
  progress: Record<string, { done?: number; total?: number; after?: string | null; passed?: boolean }>;
  started_at: Date;
}

export interface RunOptions {
  batchRows?: number;
  /** Wait this long after the start before the final pass and retirement (default: cache + commit margin). */
  graceMs?: number;
  /** Called after each committed batch (tests stop a rotation half way by throwing here). */
  afterBatch?: (batches: number) => void | Promise<void>;
}

/** "waiting": call again at nextRunAt (the new key's activation, or the old key's retirement). */
export type RunResult = { state: "none" } | { state: "waiting"; nextRunAt: Date } | { state: "completed"; rotationId: string; toVersion: number };

/**
 * Begins a rotation in the caller's tenant transaction: adds data key version n+1, active (sealing new
 * data) only `activationDelayMs` from now (default: one key-cache lifetime and the commit margin, so
 * every process has loaded it before anything is sealed under it: sql/053), records the rotation with
 * each table's row count, and queues rotate_data_key. An unfinished rotation is returned instead of
 * starting a second.
 */
export async function startRotation(
  db: Db,
  vault: Vault,
  tenantId: string,
  who: { reason: "scheduled" | "requested"; userId?: string | null; activationDelayMs?: number },
): Promise<{ id: string; created: boolean }> {
  const [running] = await db.$queryRaw<{ id: string }[]>`
    select id::text from data_key_rotations where tenant_id = ${tenantId}::uuid and state = 'running'`;
  if (running) return { id: running.id, created: false };
  await vault.forTenant(db, tenantId); // a tenant that never sealed anything gets its first keys here
  const versions = await db.$queryRaw<{ version: number; retired: boolean }[]>`
    select version, retired_at is not null as retired from tenant_data_keys
     where tenant_id = ${tenantId}::uuid and purpose = 'data' order by version desc for update`;
  const from = versions.find((v) => !v.retired)!.version;
  const to = versions[0]!.version + 1;
  const { row } = newWrappedKey(vault.keks, tenantId, "data", to);
  const delayMs = Math.max(0, Math.round(who.activationDelayMs ?? vault.cacheMs + COMMIT_MARGIN_MS));
  await db.$executeRaw`insert into tenant_data_keys (tenant_id, purpose, version, wrapped, kek_version, activates_at)
                       values (${tenantId}::uuid, 'data', ${to}, ${Buffer.from(row.wrapped)}, ${row.kek_version},
                               now() + ${delayMs} * interval '1 millisecond')`;
  const progress: Record<string, { done: number; total: number }> = {};
  let total = 0;
  for (const entry of SEALED_TABLES) {
    const [count] = await db.$queryRawUnsafe<{ n: number }[]>(
      `select count(*)::int as n from ${ident(entry.table)} where tenant_id = $1::uuid and key_version is not null`, tenantId);
    progress[entry.table] = { done: 0, total: count!.n };
    total += count!.n;
  }
  const [created] = await db.$queryRaw<{ id: string }[]>`
    insert into data_key_rotations (tenant_id, from_version, to_version, reason, requested_by_user_id, progress, rows_total)
    values (${tenantId}::uuid, ${from}, ${to}, ${who.reason}, ${who.userId ?? null}::uuid, ${JSON.stringify(progress)}::jsonb, ${total})
    returning id::text`;
  await enqueueJob(db, "rotate_data_key", { rotationId: created!.id }, { jobKey: "rotate_data_key" });
  vault.forget(tenantId);
  return { id: created!.id, created: true };
}

/**
 * Carries the tenant's unfinished rotation as far as it can go now: the main pass over every table
 * (resuming at each table's saved position), then, once the grace period since its start is over, a
 * final pass from the beginning and the old keys' retirement. "waiting" says when to call again.
 */
export async function runRotation(deps: RotationDeps, tenantId: string, options: RunOptions = {}): Promise<RunResult> {
  const claims = { dbRole: deps.memberRole, tenantId, userId: null };
  const [rotation] = await withTenantSql(deps.sql, claims, (tx) => tx<RotationRow[]>`
    select id::text, from_version, to_version, state, progress, started_at from data_key_rotations
     where tenant_id = ${tenantId}::uuid and state = 'running'`);
  if (!rotation) return { state: "none" };
  // Nothing is sealed under the new key before it is active (sql/053): a process that has not loaded
  // it yet could not open what the re-seal wrote.
  const [key] = await withTenantSql(deps.sql, claims, (tx) => tx<{ activates_at: Date; pending: boolean }[]>`
    select activates_at, activates_at > now() as pending from tenant_data_keys
     where tenant_id = ${tenantId}::uuid and purpose = 'data' and version = ${rotation.to_version}`);
  if (!key) throw new Error(`Rotation ${rotation.id} names data key version ${rotation.to_version}, which does not exist`);
  const retireAfter = new Date(key.activates_at.getTime() + (options.graceMs ?? deps.vault.cacheMs + COMMIT_MARGIN_MS));
  if (key.pending) {
    await withTenantSql(deps.sql, claims, (tx) => tx`
      update data_key_rotations set retire_after = ${retireAfter} where tenant_id = ${tenantId}::uuid and id = ${rotation.id}::uuid`);
    return { state: "waiting", nextRunAt: key.activates_at };
  }
  deps.vault.forget(tenantId);
  // Rows written under the old key before the activation need re-sealing too: the tables the main pass
  // has still to finish are counted again, so the totals say what this run will do (done + left; they
  // only grow). One rotation job runs per tenant (its job key), so the progress read above is current.
  const unfinished = SEALED_TABLES.filter((entry) => !rotation.progress[entry.table]?.passed);
  if (unfinished.length) {
    await withTenantSql(deps.sql, claims, async (tx) => {
      const totals: RotationRow["progress"] = {};
      for (const entry of unfinished) {
        const [left] = await tx.unsafe<{ n: number }[]>(
          `select count(*)::int as n from ${ident(entry.table)} where tenant_id = $1::uuid and key_version < $2`, [tenantId, rotation.to_version]);
        const step = rotation.progress[entry.table] ?? {};
        totals[entry.table] = { ...step, total: Math.max(Number(step.total ?? 0), Number(step.done ?? 0) + left!.n) };
      }
      await tx`
        update data_key_rotations
           set progress = progress || ${tx.json(totals)}::jsonb,
               rows_total = greatest(rows_total, (select coalesce(sum((value ->> 'total')::bigint), 0) from jsonb_each(progress || ${tx.json(totals)}::jsonb)))
         where tenant_id = ${tenantId}::uuid and id = ${rotation.id}::uuid`;
    });
  }
  const pass = { batches: 0, options, deps, tenantId, rotation };
  for (const entry of SEALED_TABLES) {
    if (!rotation.progress[entry.table]?.passed) await resealTable(pass, entry, rotation.progress[entry.table]?.after ?? null, true);
  }
  await withTenantSql(deps.sql, claims, (tx) => tx`
    update data_key_rotations set retire_after = ${retireAfter} where tenant_id = ${tenantId}::uuid and id = ${rotation.id}::uuid`);
  if (Date.now() < retireAfter.getTime()) return { state: "waiting", nextRunAt: retireAfter };
  // Rows sealed under an old key by a process whose cache predates the rotation (or skipped while locked).
  for (const entry of SEALED_TABLES) await resealTable(pass, entry, null, false);
  const retired = await withTenantSql(deps.sql, claims, (tx) => retireOldKeys(tx, tenantId, rotation));
  deps.vault.forget(tenantId);
  return retired ? { state: "completed", rotationId: rotation.id, toVersion: rotation.to_version } : { state: "waiting", nextRunAt: new Date(Date.now() + 5_000) };
}

interface Pass {
  batches: number;
  options: RunOptions;
  deps: RotationDeps;
  tenantId: string;
  rotation: RotationRow;
}

/** Re-seals the table's rows below the new version in keyset order from `after`, one transaction a batch. */
async function resealTable(pass: Pass, entry: SealedTable, after: string | null, mainPass: boolean): Promise<void> {
  const { deps, tenantId, rotation } = pass;
  const size = pass.options.batchRows ?? ROTATION_BATCH_ROWS;
  const fields = sealedFields(entry);
  for (;;) {
    const got = await withTenantSql(deps.sql, { dbRole: deps.memberRole, tenantId, userId: null }, async (tx) => {
      const rows = await tx.unsafe<Record<string, Uint8Array | null>[]>(
        keysetBatchSql(entry.table, fields.map((f) => `${f}_sealed`), "t.key_version < $2", { cursor: 4, limit: 3 }, after !== null),
        [tenantId, rotation.to_version, size, after],
      );
      if (!rows.length) return 0;
      let keys = await deps.vault.forTenantSql(tx, tenantId, rotation.to_version);
      if (keys.current !== rotation.to_version) {
        // Cached from before the key became active: load again (runRotation checked it is active).
        deps.vault.forget(tenantId);
        keys = await deps.vault.forTenantSql(tx, tenantId, rotation.to_version);
        if (keys.current !== rotation.to_version) throw new Error(`Data key version ${rotation.to_version} of tenant ${tenantId} is not active yet`);
      }
      const ids = rows.map((r) => r.id as unknown as string);
      const columns = fields.map((f) => rows.map((r) => hex(reseal(keys, entry.table, f, r.id as unknown as string, r[`${f}_sealed`] ?? null))));
      await tx.unsafe(
        `update ${ident(entry.table)} t set key_version = $2, ${fields.map((f, i) => `${ident(`${f}_sealed`)} = decode(v.c${i}, 'hex')`).join(", ")}
           from unnest($3::uuid[], ${fields.map((_, i) => `$${i + 4}::text[]`).join(", ")}) as v(id, ${fields.map((_, i) => `c${i}`).join(", ")})
          where t.tenant_id = $1::uuid and t.id = v.id`,
        [tenantId, rotation.to_version, ids, ...columns] as postgres.ParameterOrJSON<never>[],
      );
      after = ids[ids.length - 1]!;
      await recordBatch(tx, tenantId, rotation.id, entry.table, rows.length, mainPass ? after : null, mainPass && rows.length < size);
      return rows.length;
    });
    if (got) await pass.options.afterBatch?.(++pass.batches);
    if (got < size) {
      if (mainPass && got === 0) {
        await withTenantSql(deps.sql, { dbRole: deps.memberRole, tenantId, userId: null }, (tx) => recordBatch(tx, tenantId, rotation.id, entry.table, 0, after, true));
      }
      return;
    }
  }
}

/** One field under the current key: opened under the version its header names (mixed rows happen). */
function reseal(keys: TenantKeys, table: string, column: string, rowId: string, sealed: Uint8Array | null): Uint8Array | null {
  if (sealed === null) return null;
  const place = { table, column, rowId };
  if (sealedVersion(sealed) === keys.current) return sealed;
  return keys.seal(place, keys.open(place, sealed));
}

function recordBatch(tx: postgres.TransactionSql, tenantId: string, rotationId: string, table: string, rows: number, after: string | null, passed: boolean) {
  const step = { after, ...(passed ? { passed: true } : {}) };
  return tx`
    update data_key_rotations
       -- Rows sealed under the old key after the start (by a process whose cache predated the new
       -- key's activation) are re-sealed too: the totals grow with them, so progress never passes 100%.
       set rows_done = rows_done + ${rows}, rows_total = greatest(rows_total, rows_done + ${rows}), batches = batches + ${rows ? 1 : 0},
           progress = jsonb_set(progress, array[${table}::text],
                                coalesce(progress -> ${table}::text, '{}') || ${tx.json(step)}::jsonb
                                || jsonb_build_object('done', coalesce((progress #>> array[${table}::text, 'done'])::bigint, 0) + ${rows},
                                                      'total', greatest(coalesce((progress #>> array[${table}::text, 'total'])::bigint, 0),
                                                                        coalesce((progress #>> array[${table}::text, 'done'])::bigint, 0) + ${rows})))
     where tenant_id = ${tenantId}::uuid and id = ${rotationId}::uuid`;
}

/**
 * In one transaction: when no row of any sealed table is below the new version, every older data key
 * is retired and its wrapped bytes overwritten (nothing can open what it sealed: crypto-shredding), and
 * the rotation completes. Returns false, changing nothing, when a row remains.
 */
async function retireOldKeys(tx: postgres.TransactionSql, tenantId: string, rotation: RotationRow): Promise<boolean> {
  const [locked] = await tx`select state from data_key_rotations where tenant_id = ${tenantId}::uuid and id = ${rotation.id}::uuid for update`;
  if (locked?.state !== "running") return true; // another worker finished it meanwhile
  for (const entry of SEALED_TABLES) {
    const [left] = await tx.unsafe(`select exists (select 1 from ${ident(entry.table)} where tenant_id = $1::uuid and key_version < $2) as left`, [tenantId, rotation.to_version]);
    if (left!.left) return false;
  }
  await tx`update tenant_data_keys set retired_at = now(), wrapped = ''::bytea
            where tenant_id = ${tenantId}::uuid and purpose = 'data' and version < ${rotation.to_version} and retired_at is null`;
  await tx`update data_key_rotations set state = 'completed', finished_at = now(), last_error = null
            where tenant_id = ${tenantId}::uuid and id = ${rotation.id}::uuid`;
  return true;
}

/** Records why a run failed (the job retries); on the final attempt the rotation is marked failed. */
export async function recordRotationFailure(deps: RotationDeps, tenantId: string, error: unknown, final: boolean): Promise<void> {
  const message = String((error as Error)?.message ?? error).slice(0, 2000);
  await withTenantSql(deps.sql, { dbRole: deps.memberRole, tenantId, userId: null }, (tx) => tx`
    update data_key_rotations set last_error = ${message},
           state = case when ${final} then 'failed' else state end, finished_at = case when ${final} then now() else finished_at end
     where tenant_id = ${tenantId}::uuid and state = 'running'`);
}
