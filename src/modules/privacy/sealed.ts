// The privacy tables' personal fields as sql/047 holds them: guardians' names and addresses, the
// address a privacy link went to, a request's subject address and requested correction, and the
// rectification history. Sealed under the tenant's data keys, each bound to its row (place = table,
// column, row id); rows from before keep plain legacy_* and read the same way. Every privacy reader and
// writer of those fields goes through here, so the places are spelt once (vault/registry-delivery.ts).
import type { Db } from "../../db/tenant-transaction.js";
import { Prisma as P } from "../../generated/prisma/client.js";
import { tenantKeys, type TenantKeys } from "../vault/vault.js";
import { openRecipient, SEALED_RECIPIENT } from "../recipients/personal.js";

const place = (table: string, column: string, rowId: string) => ({ table, column, rowId });

export interface GuardianSealedRow {
  id: string;
  keyVersion: number | null;
  guardianEmailSealed: Uint8Array | null;
  guardianNameSealed: Uint8Array | null;
  legacyGuardianEmail: string | null;
  legacyGuardianName: string | null;
}

/** Columns to write for a guardian consent's contact (either may be null once erased). */
export function sealGuardian(keys: TenantKeys, id: string, guardian: { email: string | null; name: string | null }) {
  return {
    keyVersion: keys.current,
    guardianEmailSealed: keys.sealOrNull(place("guardian_consents", "guardian_email", id), guardian.email),
    guardianNameSealed: keys.sealOrNull(place("guardian_consents", "guardian_name", id), guardian.name),
  };
}

/** A consent's guardian address and name (null when erased). @throws SealedFieldError */
export function openGuardian(keys: TenantKeys, row: GuardianSealedRow): { guardianEmail: string | null; guardianName: string | null } {
  if (row.keyVersion === null) return { guardianEmail: row.legacyGuardianEmail, guardianName: row.legacyGuardianName };
  return {
    guardianEmail: keys.openOrNull(place("guardian_consents", "guardian_email", row.id), row.guardianEmailSealed),
    guardianName: keys.openOrNull(place("guardian_consents", "guardian_name", row.id), row.guardianNameSealed),
  };
}

export const SEALED_GUARDIAN = {
  tenantId: true, id: true, keyVersion: true, guardianEmailSealed: true, guardianNameSealed: true, legacyGuardianEmail: true, legacyGuardianName: true,
} as const;

const openedGuardians = new WeakMap<object, Promise<{ guardianEmail: string | null; guardianName: string | null }>>();

/** One consent's guardian contact, opened once however many fields a GraphQL selection asks for. */
export function guardianContactOf(db: Db, tenantId: string, row: GuardianSealedRow) {
  let found = openedGuardians.get(row);
  if (!found) {
    found = tenantKeys(db, tenantId).then((keys) => openGuardian(keys, row));
    openedGuardians.set(row, found);
  }
  return found;
}

/** Columns for the address a privacy link was sent to. */
export function sealSentTo(keys: TenantKeys, id: string, sentTo: string) {
  return { keyVersion: keys.current, sentToSealed: keys.seal(place("privacy_links", "sent_to", id), sentTo) };
}

export interface RequestSealedRow {
  id: string;
  keyVersion: number | null;
  requestedChangesSealed: Uint8Array | null;
  legacyRequestedChanges: unknown;
  subjectEmailSealed?: Uint8Array | null;
  legacySubjectEmail?: string | null;
}

/** The correction a rectification request records, or null. @throws SealedFieldError */
export function openRequestedChanges<T = Record<string, unknown>>(keys: TenantKeys, row: RequestSealedRow): T | null {
  if (row.requestedChangesSealed) return keys.openJson<T>(place("data_subject_requests", "requested_changes", row.id), row.requestedChangesSealed);
  return (row.legacyRequestedChanges ?? null) as T | null;
}

/** The address a request was filed under (self-service), or null. @throws SealedFieldError */
export function openSubjectEmail(keys: TenantKeys, row: RequestSealedRow): string | null {
  if (row.subjectEmailSealed) return keys.open(place("data_subject_requests", "subject_email", row.id), row.subjectEmailSealed);
  return row.legacySubjectEmail ?? null;
}

/** Columns for a request's recorded correction (the row id must be chosen before). */
export function sealRequestedChanges(keys: TenantKeys, id: string, changes: object) {
  return { keyVersion: keys.current, requestedChangesSealed: keys.sealJson(place("data_subject_requests", "requested_changes", id), changes) };
}

/** A request's correction, for callers that hold only `db` (one key load). */
export async function requestedChangesOf<T = Record<string, unknown>>(db: Db, tenantId: string, row: RequestSealedRow): Promise<T | null> {
  if (!row.requestedChangesSealed) return (row.legacyRequestedChanges ?? null) as T | null;
  return openRequestedChanges<T>(await tenantKeys(db, tenantId), row);
}

export interface RectificationValues {
  oldName: string | null;
  newName: string | null;
  oldEmail: string | null;
  newEmail: string | null;
}

export interface RectificationSealedRow {
  id: string;
  keyVersion: number | null;
  oldNameSealed: Uint8Array | null;
  newNameSealed: Uint8Array | null;
  oldEmailSealed: Uint8Array | null;
  newEmailSealed: Uint8Array | null;
  legacyOldName: string | null;
  legacyNewName: string | null;
  legacyOldEmail: string | null;
  legacyNewEmail: string | null;
}

/** Columns for one rectification's before/after values, with the addresses' blind indexes (erasure finds by them). */
export function sealRectification(keys: TenantKeys, id: string, v: RectificationValues) {
  const at = (column: string) => place("recipient_rectifications", column, id);
  return {
    keyVersion: keys.current,
    oldNameSealed: keys.sealOrNull(at("old_name"), v.oldName),
    newNameSealed: keys.sealOrNull(at("new_name"), v.newName),
    oldEmailSealed: keys.sealOrNull(at("old_email"), v.oldEmail),
    newEmailSealed: keys.sealOrNull(at("new_email"), v.newEmail),
    oldEmailIndex: v.oldEmail ? keys.blindIndex("email", v.oldEmail) : null,
    newEmailIndex: v.newEmail ? keys.blindIndex("email", v.newEmail) : null,
  };
}

/** One rectification's values (all null once erased). @throws SealedFieldError */
export function openRectification(keys: TenantKeys, row: RectificationSealedRow): RectificationValues {
  if (row.keyVersion === null) return { oldName: row.legacyOldName, newName: row.legacyNewName, oldEmail: row.legacyOldEmail, newEmail: row.legacyNewEmail };
  const at = (column: string) => place("recipient_rectifications", column, row.id);
  return {
    oldName: keys.openOrNull(at("old_name"), row.oldNameSealed),
    newName: keys.openOrNull(at("new_name"), row.newNameSealed),
    oldEmail: keys.openOrNull(at("old_email"), row.oldEmailSealed),
    newEmail: keys.openOrNull(at("new_email"), row.newEmailSealed),
  };
}

export const SEALED_RECTIFICATION = {
  id: true, keyVersion: true, oldNameSealed: true, newNameSealed: true, oldEmailSealed: true, newEmailSealed: true,
  legacyOldName: true, legacyNewName: true, legacyOldEmail: true, legacyNewEmail: true,
} as const;

const opened = new WeakMap<object, Promise<RectificationValues>>();

/** One rectification row's values, opened once however many fields a GraphQL selection asks for. */
export function rectificationOf(db: Db, tenantId: string, row: RectificationSealedRow): Promise<RectificationValues> {
  let found = opened.get(row);
  if (!found) {
    found = tenantKeys(db, tenantId).then((keys) => openRectification(keys, row));
    opened.set(row, found);
  }
  return found;
}

/**
 * What erase_recipient() (sql/047, 049) needs from the app, which alone can open the sealed values:
 * needles = every text that could name the person (address, its local part, name, external id, and
 * earlier names and addresses from the rectification history) and the blind indexes of every address
 * they were known by (their outbox messages are found by those).
 */
export async function erasureNeedles(db: Db, tenantId: string, recipientId: string): Promise<{ needles: string[]; emailIndexes: Uint8Array[] }> {
  const keys = await tenantKeys(db, tenantId);
  const row = await db.recipient.findUniqueOrThrow({ where: { tenantId_id: { tenantId, id: recipientId } }, select: { ...SEALED_RECIPIENT, externalId: true } });
  const person = openRecipient(keys, row);
  const history = await db.recipientRectification.findMany({ where: { tenantId, recipientId }, select: SEALED_RECTIFICATION });
  const names = new Set<string>();
  const emails = new Set<string>();
  if (person.email) emails.add(person.email);
  if (person.name) names.add(person.name);
  for (const h of history) {
    const v = openRectification(keys, h);
    for (const e of [v.oldEmail, v.newEmail]) if (e) emails.add(e);
    for (const n of [v.oldName, v.newName]) if (n) names.add(n);
  }
  const needles = new Set<string>([...emails, ...names]);
  for (const e of emails) needles.add(e.split("@")[0]!);
  if (row.externalId) needles.add(row.externalId);
  return { needles: [...needles], emailIndexes: [...emails].map((e) => keys.blindIndex("email", e)) };
}

/** Prisma's JSON null for clearing a legacy JSON column. */
export const JSON_CLEARED = P.DbNull;
