// Tenant data keys: each tenant's personal data is sealed under its own random 256-bit data keys, and
// only their wrapped form is stored (tenant_data_keys, sql/044), sealed by the deployment's versioned
// key-encryption keys (LAUREL_KEKS, issuers/sealing.ts). A database dump therefore holds nothing that
// opens without the KEKs, a new KEK version only re-wraps these few rows, and rotating a tenant's data
// key re-seals that tenant's rows in the background (vault/rotation.ts) while every version still
// needed keeps opening. Purposes: "data" keys seal fields (versions grow with rotation; the highest
// seals); the "index" key computes blind indexes (blind-index.ts) and is not rotated with them, since
// every equality lookup would have to be recomputed at once.
import { randomBytes } from "node:crypto";
import { open as openWrapped, seal as wrap } from "../issuers/sealing.js";

export type KeyPurpose = "data" | "index";

/** A tenant_data_keys row as stored. */
export interface WrappedKeyRow {
  purpose: KeyPurpose;
  version: number;
  wrapped: Uint8Array;
  kek_version: number;
  /** Whether it may seal yet (activates_at <= now(), sql/053); absent: it may. */
  active?: boolean;
}

/** How the vault reads and adds a tenant's wrapped keys: over Prisma or postgres.js, inside the tenant's transaction. */
export interface KeyStore {
  list(tenantId: string): Promise<WrappedKeyRow[]>;
  /** Adds a row unless (tenant, purpose, version) exists; true when this call added it. */
  add(tenantId: string, row: WrappedKeyRow): Promise<boolean>;
}

export function wrapAad(tenantId: string, purpose: KeyPurpose, version: number): string {
  return `tenant_data_keys|${tenantId}|${purpose}|${version}`;
}

/** A new random key, wrapped under the current KEK. @throws MissingKekError when no KEK is configured */
export function newWrappedKey(keks: ReadonlyMap<number, Buffer>, tenantId: string, purpose: KeyPurpose, version: number): { row: WrappedKeyRow; key: Buffer } {
  const key = randomBytes(32);
  const { sealed, kekVersion } = wrap(keks, key.toString("base64"), wrapAad(tenantId, purpose, version));
  return { row: { purpose, version, wrapped: sealed, kek_version: kekVersion }, key };
}

/** The key inside a row. @throws MissingKekError when its KEK version is not configured; an Error when it was tampered with */
export function unwrapKey(keks: ReadonlyMap<number, Buffer>, tenantId: string, row: WrappedKeyRow): Buffer {
  const key = Buffer.from(openWrapped(keks, row.wrapped, row.kek_version, wrapAad(tenantId, row.purpose, row.version)), "base64");
  if (key.length !== 32) throw new Error(`tenant_data_keys ${row.purpose} v${row.version} does not hold a 256-bit key`);
  return key;
}

/** The same key re-wrapped under the current KEK (a KEK rotation), or null when it already is. */
export function rewrapKey(keks: ReadonlyMap<number, Buffer>, tenantId: string, row: WrappedKeyRow): WrappedKeyRow | null {
  const current = Math.max(...keks.keys());
  if (row.kek_version === current) return null;
  const key = unwrapKey(keks, tenantId, row);
  const { sealed, kekVersion } = wrap(keks, key.toString("base64"), wrapAad(tenantId, row.purpose, row.version));
  return { ...row, wrapped: sealed, kek_version: kekVersion };
}
