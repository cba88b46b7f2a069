// The vault: one per database handle, holding the deployment's KEKs and, per tenant, the unwrapped data
// keys for a short while (KEY_CACHE_MS), so a request pays one indexed read of tenant_data_keys at most
// once a minute per tenant and a field costs one AES-GCM call. Services reach it through their `db`
// (vaultOf), the way they reach the tenant's rows: the key material belongs to the database handle
// openDatabase made, not to a global.
import { createSecretKey, type KeyObject } from "node:crypto";
import type postgres from "postgres";
import type { Db } from "../../db/tenant-transaction.js";
import { MissingKekError } from "../issuers/sealing.js";
import { openWith, sealedVersion, sealWith, SealedFieldError, type FieldPlace } from "./cipher.js";
import { blindIndex, nameWords, type IndexKind } from "./blind-index.js";
import { newWrappedKey, unwrapKey, type KeyStore, type WrappedKeyRow } from "./data-keys.js";

export const KEY_CACHE_MS = 60_000;

export type Place = Omit<FieldPlace, "tenantId">;

/** One tenant's keys, unwrapped: seal with the current data key, open with any loaded version. */
export class TenantKeys {
  constructor(
    readonly tenantId: string,
    readonly current: number,
    private readonly data: ReadonlyMap<number, KeyObject>,
    private readonly index: KeyObject,
    readonly loadedAt = Date.now(),
  ) {}

  has(version: number): boolean {
    return this.data.has(version);
  }

  get versions(): number[] {
    return [...this.data.keys()].sort((a, b) => a - b);
  }

  /** Seals text for `place` under the current data key: bytes for a bytea column. */
  seal(place: Place, text: string): Uint8Array<ArrayBuffer> {
    return sealWith(this.data.get(this.current)!, this.current, text, { ...place, tenantId: this.tenantId });
  }

  /** seal() for nullable fields: null stays null (a SQL null says "no value", which is not personal). */
  sealOrNull(place: Place, text: string | null | undefined): Uint8Array<ArrayBuffer> | null {
    return text === null || text === undefined ? null : this.seal(place, text);
  }

  sealJson(place: Place, value: unknown): Uint8Array<ArrayBuffer> {
    return this.seal(place, JSON.stringify(value));
  }

  /** @throws UnknownDataKeyError (reload and retry: Vault.open does) or SealedFieldError */
  open(place: Place, sealed: Uint8Array): string {
    const version = sealedVersion(sealed);
    const key = this.data.get(version);
    if (!key) throw new UnknownDataKeyError(this.tenantId, version);
    return openWith(key, sealed, { ...place, tenantId: this.tenantId });
  }

  openOrNull(place: Place, sealed: Uint8Array | null | undefined): string | null {
    return sealed === null || sealed === undefined ? null : this.open(place, sealed);
  }

  openJson<T = unknown>(place: Place, sealed: Uint8Array): T {
    return JSON.parse(this.open(place, sealed)) as T;
  }

  /** The blind index of an already normalised value (lib/email-address.ts for emails). */
  blindIndex(kind: IndexKind, value: string): Uint8Array<ArrayBuffer> {
    return new Uint8Array(blindIndex(this.index, kind, value));
  }

  /** Blind indexes of a name's words (blind-index.ts nameWords), for whole-word search. */
  nameWordIndexes(name: string | null): Uint8Array<ArrayBuffer>[] {
    return name ? nameWords(name).map((w) => this.blindIndex("name-word", w)) : [];
  }
}

/** A sealed value names a data-key version this process has not loaded (a rotation began elsewhere). */
export class UnknownDataKeyError extends SealedFieldError {
  constructor(readonly tenantId: string, readonly version: number) {
    super(`Data key version ${version} of tenant ${tenantId} is not loaded`);
    this.name = "UnknownDataKeyError";
  }
}

export class Vault {
  private readonly cache = new Map<string, TenantKeys>();

  /** cacheMs: how long unwrapped keys are used before tenant_data_keys is read again (rotation waits it out). */
  constructor(readonly keks: ReadonlyMap<number, Buffer>, readonly cacheMs = KEY_CACHE_MS) {}

  /**
   * The tenant's keys, creating its first data and index keys on first use. Runs inside the tenant's
   * transaction. needVersion: reload unless the cached keys include that data-key version (the newest
   * key_version among rows about to be opened), so a rotation begun by another process never fails a read.
   */
  forTenant(db: Db, tenantId: string, needVersion?: number | null): Promise<TenantKeys> {
    return this.keysVia(prismaStore(db), tenantId, { needVersion: needVersion ?? undefined });
  }

  /** forTenant for hand-written SQL (postgres.js, in withTenantSql). */
  forTenantSql(tx: postgres.TransactionSql, tenantId: string, needVersion?: number | null): Promise<TenantKeys> {
    return this.keysVia(sqlKeyStore(tx), tenantId, { needVersion: needVersion ?? undefined });
  }

  /** Opens one field, reloading the tenant's keys once if the value names a version loaded after them. */
  async open(db: Db, tenantId: string, place: Place, sealed: Uint8Array): Promise<string> {
    const keys = await this.forTenant(db, tenantId);
    try {
      return keys.open(place, sealed);
    } catch (error) {
      if (!(error instanceof UnknownDataKeyError)) throw error;
      this.forget(tenantId);
      return (await this.forTenant(db, tenantId)).open(place, sealed);
    }
  }

  /** Drops the tenant's cached keys: the next use reads tenant_data_keys again. */
  forget(tenantId: string): void {
    this.cache.delete(tenantId);
  }

  /** Loads through `store` when the cache has nothing fresh (or lacks `needVersion`). */
  async keysVia(store: KeyStore, tenantId: string, options: { needVersion?: number } = {}): Promise<TenantKeys> {
    const cached = this.cache.get(tenantId);
    const fresh = cached && Date.now() - cached.loadedAt < this.cacheMs && (options.needVersion === undefined || cached.has(options.needVersion));
    if (fresh) return cached;
    // Concurrent loads share nothing: each runs in its own transaction, which may be creating the keys.
    const pending = this.load(store, tenantId);
    const { keys, created } = await pending;
    // Keys made by this transaction exist only if it commits: never remembered beyond it.
    if (!created) this.cache.set(tenantId, keys);
    return keys;
  }

  private async load(store: KeyStore, tenantId: string): Promise<{ keys: TenantKeys; created: boolean }> {
    if (this.keks.size === 0) throw new MissingKekError();
    let rows = await store.list(tenantId);
    const missing = (["data", "index"] as const).filter((p) => !rows.some((r) => r.purpose === p));
    if (missing.length) {
      for (const purpose of missing) await store.add(tenantId, newWrappedKey(this.keks, tenantId, purpose, 1).row);
      rows = await store.list(tenantId);
    }
    const data = new Map<number, KeyObject>();
    let index: KeyObject | null = null;
    let sealing = 0;
    for (const row of rows) {
      const key = createSecretKey(unwrapKey(this.keks, tenantId, row));
      if (row.purpose === "data") {
        data.set(row.version, key);
        // A key not yet active (sql/053) opens values but seals none: other processes may not have it.
        if (row.active !== false && row.version > sealing) sealing = row.version;
      } else index ??= key;
    }
    return { keys: new TenantKeys(tenantId, sealing || Math.min(...data.keys()), data, index!), created: missing.length > 0 };
  }
}

const vaults = new WeakMap<object, Vault>();

/** Gives a database handle (the Prisma client openDatabase made) its vault. */
export function attachVault(prisma: object, vault: Vault): void {
  vaults.set(prisma, vault);
}

/** The vault of the database `db` belongs to. @throws MissingKekError when none was attached */
export function vaultOf(db: Db): Vault {
  const vault = vaults.get(db as object);
  if (!vault) throw new MissingKekError();
  return vault;
}

/**
 * The tenant's keys through its `db` (services' usual way in). Pass needVersion (the highest key_version
 * of the rows to open) when opening: keys cached before a rotation began lack the new version.
 */
export function tenantKeys(db: Db, tenantId: string, needVersion?: number | null): Promise<TenantKeys> {
  return vaultOf(db).forTenant(db, tenantId, needVersion);
}

/** The highest key_version among rows (null when none is sealed): what tenantKeys' needVersion wants. */
export function newestVersion(rows: readonly { keyVersion: number | null }[]): number | null {
  let newest: number | null = null;
  for (const row of rows) if (row.keyVersion !== null && (newest === null || row.keyVersion > newest)) newest = row.keyVersion;
  return newest;
}

function prismaStore(db: Db): KeyStore {
  return {
    list: (tenantId) =>
      db.$queryRaw<WrappedKeyRow[]>`select purpose, version, wrapped, kek_version, activates_at <= now() as active from tenant_data_keys
                                     where tenant_id = ${tenantId}::uuid and retired_at is null order by purpose, version`,
    add: async (tenantId, row) =>
      (await db.$executeRaw`insert into tenant_data_keys (tenant_id, purpose, version, wrapped, kek_version)
                            values (${tenantId}::uuid, ${row.purpose}, ${row.version}, ${Buffer.from(row.wrapped)}, ${row.kek_version})
                            on conflict do nothing`) > 0,
  };
}

/** The key store over a postgres.js tenant transaction. */
export function sqlKeyStore(tx: postgres.TransactionSql): KeyStore {
  return {
    list: (tenantId) =>
      tx<WrappedKeyRow[]>`select purpose, version, wrapped, kek_version, activates_at <= now() as active from tenant_data_keys
                           where tenant_id = ${tenantId}::uuid and retired_at is null order by purpose, version`,
    add: async (tenantId, row) =>
      (await tx`insert into tenant_data_keys (tenant_id, purpose, version, wrapped, kek_version)
                values (${tenantId}::uuid, ${row.purpose}, ${row.version}, ${Buffer.from(row.wrapped)}, ${row.kek_version})
                on conflict do nothing`).count > 0,
  };
}
