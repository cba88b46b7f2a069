// One-time links: how a person without an account proves they hold an address (GDPR Art. 12(6), "where
// the controller has reasonable doubts concerning the identity"). Laurel emails a link to the address on
// record (a recipient's, or the guardian's a tenant gave); using it once, before it expires, does what
// its purpose says, inside the link's tenant transaction.
//
// The URL is /privacy/links/<tenant>/<link>?v=&expires=&sig= (export-link.ts's signer): the HMAC key is
// derived from the key-encryption keys, so the database holds nothing that would let its reader use a
// link, and a link cannot be moved to another tenant or another row. Opening the URL (GET) only shows
// what using it would do; using it is a POST from that page's button, so mail scanners that follow
// links never use one.
import type { App } from "../../context.js";
import { randomUUID } from "node:crypto";
import { tenantKeys } from "../vault/vault.js";
import { sealSentTo } from "./sealed.js";
import type { Db } from "../../db/tenant-transaction.js";
import type { PrivacyLink as StoredLink, PrivacyLinkPurpose } from "../../generated/prisma/client.js";
import type { TenantKeys } from "../vault/vault.js";
import { ExpectedError } from "../../errors.js";
import { linkSigner } from "./export-link.js";

export type { PrivacyLinkPurpose };

/** A stored link with its payload opened (sql/047 seals it: a correction names the person's new details). */
export type PrivacyLink = StoredLink & { payload: Record<string, unknown> };

const payloadPlace = (id: string) => ({ table: "privacy_links", column: "payload", rowId: id });

/** A link's payload, sealed or legacy. @throws SealedFieldError */
export function openLinkPayload(keys: TenantKeys, link: { id: string; payloadSealed: Uint8Array | null; legacyPayload: unknown }): Record<string, unknown> {
  if (link.payloadSealed) return keys.openJson(payloadPlace(link.id), link.payloadSealed);
  return (link.legacyPayload ?? {}) as Record<string, unknown>;
}

/** Hours a link works for, per purpose: a person's own request a day; a guardian's consent a week. */
export const LINK_TTL_HOURS: Record<PrivacyLinkPurpose, number> = {
  data_subject_request: 24,
  guardian_consent: 7 * 24,
  guardian_erasure: 24,
};

/** Why a link did nothing. `code` is what JSON callers branch on. */
export class PrivacyLinkError extends ExpectedError {
  override name = "PrivacyLinkError";
  constructor(
    readonly code: "LINK_INVALID" | "LINK_USED" | "LINK_EXPIRED",
    message: string,
  ) {
    super(message);
  }
  /** HTTP status: 403 for a link we did not make, 410 for one that has done its work or run out. */
  get status(): number {
    return this.code === "LINK_INVALID" ? 403 : 410;
  }
}

// The shared signer (export-link.ts): HMAC over tenant, link and expiry under a key derived for this
// purpose. The row's expires_at stays the authority on expiry; the URL's copy only keeps it unforgeable.
const privacyLinks = linkSigner("laurel privacy link v1", (tenantId, linkId) => `/privacy/links/${tenantId}/${linkId}`);

/** The link's absolute URL (under config.publicUrl), signed with the current key version. */
export function privacyLinkUrl(config: App["config"], tenantId: string, linkId: string, expiresAt: Date): string {
  return privacyLinks.sign(config, tenantId, linkId, expiresAt);
}

/** Whether `query` (v, expires, sig) signs this tenant and link under a key version we still hold. */
export function isSignedPrivacyLink(config: App["config"], tenantId: string, linkId: string, query: URLSearchParams): boolean {
  return privacyLinks.verify(config, tenantId, linkId, query) !== null;
}

export interface NewLink {
  tenantId: string;
  purpose: PrivacyLinkPurpose;
  recipientId: string;
  /** The normalised address the link is emailed to. */
  sentTo: string;
  /** What using the link does (no secrets: it is stored as is). */
  payload?: Record<string, unknown>;
  /** Defaults to LINK_TTL_HOURS[purpose]. */
  ttlHours?: number;
}

/** Records a link; returns its id, signed URL and expiry. The caller emails the URL to `sentTo`. */
export async function createOneTimeLink(db: Db, config: App["config"], input: NewLink, now = new Date()): Promise<{ id: string; url: string; expiresAt: Date }> {
  const expiresAt = new Date(now.getTime() + (input.ttlHours ?? LINK_TTL_HOURS[input.purpose]) * 3_600_000);
  const id = randomUUID();
  const keys = await tenantKeys(db, input.tenantId);
  const link = await db.privacyLink.create({
    data: {
      id,
      tenantId: input.tenantId,
      purpose: input.purpose,
      recipientId: input.recipientId,
      ...sealSentTo(keys, id, input.sentTo),
      payloadSealed: keys.sealJson(payloadPlace(id), input.payload ?? {}),
      createdAt: now,
      expiresAt,
    },
    select: { id: true },
  });
  return { id: link.id, url: privacyLinkUrl(config, input.tenantId, link.id, expiresAt), expiresAt };
}

/** What a purpose shows before the link is used, and does when it is. */
export interface LinkPurposeHandler {
  /** The confirmation page: a title, a few plain paragraphs and the button's label, in `language` (English when not said). */
  describe(db: Db, link: PrivacyLink): Promise<{ title: string; paragraphs: string[]; action: string; language?: "en" | "fr" }>;
  /**
   * Does the link's work in the same transaction that marks it used; throwing an ExpectedError leaves the
   * link unused and nothing changed. Returns what the person is told.
   */
  confirm(db: Db, link: PrivacyLink, now: Date, config: App["config"]): Promise<{ title: string; message: string; details?: Record<string, unknown>; language?: "en" | "fr" }>;
}

const handlers = new Map<PrivacyLinkPurpose, LinkPurposeHandler>();

/** Each purpose's module registers its handler once, at import. */
export function registerLinkPurpose(purpose: PrivacyLinkPurpose, handler: LinkPurposeHandler): void {
  handlers.set(purpose, handler);
}

function handlerFor(purpose: PrivacyLinkPurpose): LinkPurposeHandler {
  const handler = handlers.get(purpose);
  if (!handler) throw new Error(`no handler registered for privacy links of purpose ${purpose}`);
  return handler;
}

/** A usable link (unknown: LINK_INVALID; used: LINK_USED; past its expiry: LINK_EXPIRED). */
export async function openLink(db: Db, tenantId: string, linkId: string, now = new Date()): Promise<PrivacyLink> {
  const stored = await db.privacyLink.findUnique({ where: { tenantId_id: { tenantId, id: linkId } } });
  if (!stored) throw new PrivacyLinkError("LINK_INVALID", "This link is not valid");
  if (stored.usedAt) throw new PrivacyLinkError("LINK_USED", "This link has already been used: it works once");
  if (stored.expiresAt.getTime() <= now.getTime()) throw new PrivacyLinkError("LINK_EXPIRED", "This link has expired: ask again for a new one");
  return { ...stored, payload: openLinkPayload(await tenantKeys(db, tenantId), stored) };
}

/** The confirmation page's content for a usable link. */
export async function describeLink(db: Db, tenantId: string, linkId: string, now = new Date()) {
  const link = await openLink(db, tenantId, linkId, now);
  return handlerFor(link.purpose).describe(db, link);
}

/**
 * Uses a link once: claims it (used_at, guarded so two concurrent uses cannot both pass), then runs its
 * purpose's confirm(). Errors: PrivacyLinkError, or whatever confirm() refuses with (the link stays unused).
 */
export async function useLink(db: Db, config: App["config"], tenantId: string, linkId: string, now = new Date()) {
  const link = await openLink(db, tenantId, linkId, now);
  const { count } = await db.privacyLink.updateMany({
    where: { tenantId, id: link.id, usedAt: null, expiresAt: { gt: now } },
    data: { usedAt: now },
  });
  if (count !== 1) throw new PrivacyLinkError("LINK_USED", "This link has already been used: it works once");
  return handlerFor(link.purpose).confirm(db, { ...link, usedAt: now }, now, config);
}

/** Erasure's part: the person's links (and the addresses they went to) go with them. Returns how many. */
export async function deletePrivacyLinks(db: Db, tenantId: string, recipientId: string): Promise<number> {
  return (await db.privacyLink.deleteMany({ where: { tenantId, recipientId } })).count;
}
