// An outbox message's personal fields as the database holds them (sql/047): the address, merge payload,
// fixed content, subject, bodies and last error sealed under the tenant's data keys, each bound to its
// row, and the address's blind index so erasure can find a person's messages. Rows from before sql/047
// keep plain text in legacy_* and read the same way. Every reader and writer of those fields goes
// through here, so the places are spelt once.
import type { Db } from "../../db/tenant-transaction.js";
import { tenantKeys, type TenantKeys } from "../vault/vault.js";
import { normaliseEmail } from "../../lib/email-address.js";
import type { FixedContent } from "./compose.js";

const place = (column: string, rowId: string) => ({ table: "email_outbox", column, rowId });

/** The address as indexed: normalised when it is a valid address, else trimmed and lower-cased. */
export function indexedAddress(address: string): string {
  const checked = normaliseEmail(address);
  return checked.ok ? checked.email : address.trim().toLowerCase();
}

/** The blind index of an address, as email_outbox.to_email_index holds it. */
export function outboxAddressIndex(keys: TenantKeys, address: string): Uint8Array<ArrayBuffer> {
  return keys.blindIndex("email", indexedAddress(address));
}

/** The sealed columns of a new message (postgres bytea parameters). */
export function sealNewMessage(keys: TenantKeys, id: string, message: { toEmail: string; payload: unknown; content: FixedContent | null }) {
  return {
    keyVersion: keys.current,
    toEmail: keys.seal(place("to_email", id), message.toEmail),
    toEmailIndex: outboxAddressIndex(keys, message.toEmail),
    payload: keys.sealJson(place("payload", id), message.payload ?? {}),
    content: message.content ? keys.sealJson(place("content", id), message.content) : null,
    subject: message.content ? keys.seal(place("subject", id), message.content.subject) : null,
  };
}

/** Seals one optional text field of a message row (subject, html, text_body, last_error). */
export function sealField(keys: TenantKeys, id: string, column: "subject" | "html" | "text_body" | "last_error" | "content", text: string | null): Uint8Array<ArrayBuffer> | null {
  return keys.sealOrNull(place(column, id), text);
}

/** What claim_email_messages() hands over, sealed or legacy. */
export interface ClaimedSealedRow {
  id: string;
  key_version: number | null;
  to_email_sealed: Uint8Array | null;
  payload_sealed: Uint8Array | null;
  content_sealed: Uint8Array | null;
  legacy_to_email: string | null;
  legacy_payload: Record<string, unknown> | null;
  legacy_content: FixedContent | null;
}

/** Opens a claimed row's address, payload and content. @throws SealedFieldError */
export function openClaimed(keys: TenantKeys, row: ClaimedSealedRow): { to_email: string; payload: Record<string, unknown>; content: FixedContent | null } {
  if (row.key_version === null) return { to_email: row.legacy_to_email ?? "", payload: row.legacy_payload ?? {}, content: row.legacy_content };
  return {
    to_email: keys.open(place("to_email", row.id), row.to_email_sealed!),
    payload: row.payload_sealed ? keys.openJson(place("payload", row.id), row.payload_sealed) : {},
    content: row.content_sealed ? keys.openJson<FixedContent>(place("content", row.id), row.content_sealed) : null,
  };
}

/** The columns openListed reads, for a Prisma select. */
export const SEALED_MESSAGE = {
  tenantId: true, id: true, keyVersion: true, toEmailSealed: true, subjectSealed: true, htmlSealed: true, textBodySealed: true,
  lastErrorSealed: true, legacyToEmail: true, legacySubject: true, legacyHtml: true, legacyTextBody: true, legacyLastError: true,
} as const;

/** A listed message's readable fields (what members may select), sealed or legacy. */
export interface ListedSealedRow {
  id: string;
  keyVersion: number | null;
  toEmailSealed: Uint8Array | null;
  subjectSealed: Uint8Array | null;
  htmlSealed: Uint8Array | null;
  textBodySealed: Uint8Array | null;
  lastErrorSealed: Uint8Array | null;
  legacyToEmail: string | null;
  legacySubject: string | null;
  legacyHtml: string | null;
  legacyTextBody: string | null;
  legacyLastError: string | null;
}

export interface OpenedMessage {
  toEmail: string;
  subject: string | null;
  html: string | null;
  text: string | null;
  lastError: string | null;
}

/** Opens a listed message's fields. @throws SealedFieldError */
export function openListed(keys: TenantKeys, row: ListedSealedRow): OpenedMessage {
  if (row.keyVersion === null) {
    return { toEmail: row.legacyToEmail ?? "", subject: row.legacySubject, html: row.legacyHtml, text: row.legacyTextBody, lastError: row.legacyLastError };
  }
  return {
    toEmail: keys.open(place("to_email", row.id), row.toEmailSealed!),
    subject: keys.openOrNull(place("subject", row.id), row.subjectSealed),
    html: keys.openOrNull(place("html", row.id), row.htmlSealed),
    text: keys.openOrNull(place("text_body", row.id), row.textBodySealed),
    lastError: keys.openOrNull(place("last_error", row.id), row.lastErrorSealed) ?? row.legacyLastError,
  };
}

const opened = new WeakMap<object, Promise<OpenedMessage>>();

/** One message's fields, opened once however many a GraphQL selection asks for. */
export function messageOf(db: Db, tenantId: string, row: ListedSealedRow): Promise<OpenedMessage> {
  let found = opened.get(row);
  if (!found) {
    found = tenantKeys(db, tenantId).then((keys) => openListed(keys, row));
    opened.set(row, found);
  }
  return found;
}
