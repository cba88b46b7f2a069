// A recipient's personal data as the database holds it: sealed (vault/, sql/044) with blind indexes
// for lookups. Everything that reads or writes a recipient's email, name or attributes goes through
// here, so the sealing's places (table, column, row) are spelt once. Rows from before sql/044 still hold
// plain text in legacy_* until vault/legacy.ts seals them; they read the same way.
import { Prisma as P } from "../../generated/prisma/client.js";
import type { Prisma } from "../../generated/prisma/client.js";
import type { Db } from "../../db/tenant-transaction.js";
import { newestVersion, tenantKeys, type TenantKeys } from "../vault/vault.js";

export interface RecipientPersonal {
  email: string;
  name: string | null;
  attributes: Record<string, unknown>;
}

/** The columns openRecipient needs, for a Prisma select. */
export const SEALED_RECIPIENT = {
  tenantId: true,
  id: true,
  keyVersion: true,
  emailSealed: true,
  nameSealed: true,
  attributesSealed: true,
  legacyEmail: true,
  legacyName: true,
  legacyAttributes: true,
} as const satisfies Prisma.RecipientSelect;

export interface SealedRecipientRow {
  id: string;
  keyVersion: number | null;
  emailSealed: Uint8Array | null;
  nameSealed: Uint8Array | null;
  attributesSealed: Uint8Array | null;
  legacyEmail: string | null;
  legacyName: string | null;
  legacyAttributes: unknown;
}

const place = (column: string, rowId: string) => ({ table: "recipients", column, rowId });

/** The columns to write for a recipient's (already checked and normalised) personal data. */
export function sealRecipient(keys: TenantKeys, id: string, data: RecipientPersonal) {
  return {
    keyVersion: keys.current,
    emailSealed: keys.seal(place("email", id), data.email),
    emailIndex: keys.blindIndex("email", data.email),
    nameSealed: keys.sealOrNull(place("name", id), data.name),
    nameWords: keys.nameWordIndexes(data.name),
    attributesSealed: keys.sealJson(place("attributes", id), data.attributes ?? {}),
  };
}

/** Spread into an update that seals a row written before sql/044: its plain text goes. */
export const LEGACY_CLEARED = { legacyEmail: null, legacyName: null, legacyAttributes: P.DbNull } as const;

/** Opens a row read with SEALED_RECIPIENT (or the same columns by hand). @throws SealedFieldError */
export function openRecipient(keys: TenantKeys, row: SealedRecipientRow): RecipientPersonal {
  if (row.keyVersion === null) {
    return { email: row.legacyEmail ?? "", name: row.legacyName, attributes: (row.legacyAttributes ?? {}) as Record<string, unknown> };
  }
  return {
    email: keys.open(place("email", row.id), row.emailSealed!),
    name: keys.openOrNull(place("name", row.id), row.nameSealed),
    attributes: row.attributesSealed ? keys.openJson(place("attributes", row.id), row.attributesSealed) : {},
  };
}

/** Rows with their personal data opened beside them (one key load for the lot). */
export async function withPersonal<R extends SealedRecipientRow>(db: Db, tenantId: string, rows: R[]): Promise<(R & RecipientPersonal)[]> {
  if (!rows.length) return [];
  const keys = await tenantKeys(db, tenantId, newestVersion(rows));
  return rows.map((row) => ({ ...row, ...openRecipient(keys, row) }));
}

/** The Prisma filter that finds the recipient with this (normalised) email, sealed or legacy. */
export function byEmail(keys: TenantKeys, email: string): Prisma.RecipientWhereInput {
  return { OR: [{ emailIndex: keys.blindIndex("email", email) }, { legacyEmail: email }] };
}

/** Postgres.js rows (snake_case) in the shape openRecipient reads. */
export function fromSqlRow(row: {
  id: string;
  key_version: number | null;
  email_sealed: Uint8Array | null;
  name_sealed: Uint8Array | null;
  attributes_sealed: Uint8Array | null;
  legacy_email: string | null;
  legacy_name: string | null;
  legacy_attributes: unknown;
}): SealedRecipientRow {
  return {
    id: row.id,
    keyVersion: row.key_version,
    emailSealed: row.email_sealed,
    nameSealed: row.name_sealed,
    attributesSealed: row.attributes_sealed,
    legacyEmail: row.legacy_email,
    legacyName: row.legacy_name,
    legacyAttributes: row.legacy_attributes,
  };
}

/** The SQL column list fromSqlRow reads, for hand-written queries over recipients aliased `r`. */
export const SEALED_RECIPIENT_SQL = "r.id, r.key_version, r.email_sealed, r.name_sealed, r.attributes_sealed, r.legacy_email, r.legacy_name, r.legacy_attributes";

const opened = new WeakMap<object, Promise<RecipientPersonal>>();

/** One row's personal data, opened once however many of its fields a GraphQL selection asks for. */
export function personalOf(db: Db, tenantId: string, row: SealedRecipientRow): Promise<RecipientPersonal> {
  let found = opened.get(row);
  if (!found) {
    found = tenantKeys(db, tenantId, row.keyVersion).then((keys) => openRecipient(keys, row));
    opened.set(row, found);
  }
  return found;
}
