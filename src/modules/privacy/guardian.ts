// A guardian's consent for a child under 13 (GDPR Art. 8(1)-(2)): staff ask for it, naming the guardian;
// the guardian gives it (through a one-time link emailed to them) and the record keeps who, when and the
// exact wording shown. The consent in force is mirrored on recipients.guardian_consent_at, which the
// processing rule reads (processing.ts), in the same transaction that changes it.
import type { Db } from "../../db/tenant-transaction.js";
import { randomUUID } from "node:crypto";
import type { GuardianConsent } from "../../generated/prisma/client.js";
import { openRecipient } from "../recipients/personal.js";
import { tenantKeys } from "../vault/vault.js";
import { openGuardian, sealGuardian, SEALED_GUARDIAN } from "./sealed.js";

/** A consent row with its guardian's contact opened (sealed at rest, sql/047). */
export type OpenedGuardianConsent = GuardianConsent & { guardianEmail: string | null; guardianName: string | null };
import type { App } from "../../context.js";
import { mailSettings, type MailSettings } from "../delivery/compose.js";
import { emailDay } from "../delivery/content.js";
import { enqueueEmail } from "../outbox/service.js";
import { ExpectedError, NotFoundError, ValidationError, type FieldProblem } from "../../errors.js";
import { normaliseEmail } from "../../lib/email-address.js";
import { nfc, personNameProblem, textProblem } from "../../lib/text.js";
import { recordAudit } from "../audit/service.js";
import { isUuid, systemCaller, type Caller } from "../common/caller.js";
import { tenantTimeZone } from "../tenants/service.js";
import { recordChoice } from "./choices.js";
import { assertNotErased } from "./erasure.js";
import { createOneTimeLink, registerLinkPurpose } from "./links.js";
import { isChildNow } from "./processing.js";

/** The wording's version: a new text gets a new version, and each consent keeps the one it showed. */
export const GUARDIAN_WORDING_VERSION = "2026-11-30";
/** A request for consent waits this long (the guardian's link lives as long). */
export const GUARDIAN_CONSENT_DAYS = 7;
export const MAX_GUARDIAN_NAME = 200;

/**
 * The exact text a guardian is shown and agrees to. It names the organisation and what is done, never
 * the child's name or address (the email goes to the guardian, who knows whom it is about).
 */
export function guardianConsentWording(organisation: string): string {
  return [
    `${organisation} would like to issue digital credentials (badges or certificates) to a child in your care, through Laurel.`,
    "With your consent, each credential is signed and published at its own address, and an email about it is sent to the address the organisation holds.",
    "Your child's use of their credentials is never tracked per person, never shared with the organisation's partners beyond the fact of issuance, and never used in analytics about them.",
    "You can withdraw this consent, or ask for your child's data to be erased, at any time by writing to the organisation.",
    "I am the child's parent or legal guardian and I give this consent.",
  ].join("\n\n");
}

export class GuardianConsentStateError extends ExpectedError {
  override name = "GuardianConsentStateError";
}

export interface RequestGuardianConsentInput {
  recipientId: string;
  guardianEmail: string;
  guardianName: string;
}

/**
 * Opens a pending consent for a child (GDPR Art. 8): the guardian's address normalised, their name
 * checked as text (lib/text), put in NFC, trimmed, 1-200 characters and a person's name (lib/text
 * personNameProblem), the wording fixed now with its version, due within 7 days. A pending consent for
 * the same child is expired first (one waits at a time). The recipient must be a child now (marked, or
 * under 13 by birth date in the tenant's zone); another tenant's recipient is NotFound.
 * The caller emails the guardian a one-time link (privacy links, purpose guardian_consent).
 * @throws NotFoundError, ValidationError, AlreadyErasedError
 */
export async function requestGuardianConsent(db: Db, caller: Caller, input: RequestGuardianConsentInput, now = new Date()) {
  const problems: FieldProblem[] = [];
  const email = normaliseEmail(input.guardianEmail);
  if (!email.ok) problems.push({ path: ["input", "guardianEmail"], message: `Not a valid email address: ${email.reason}` });
  const textIssue = textProblem(input.guardianName);
  const name = textIssue ? "" : nfc(input.guardianName).trim();
  if (textIssue) problems.push({ path: ["input", "guardianName"], message: textIssue });
  else if (name.length < 1 || name.length > MAX_GUARDIAN_NAME) problems.push({ path: ["input", "guardianName"], message: `A name has 1 to ${MAX_GUARDIAN_NAME} characters` });
  else {
    const nameProblem = personNameProblem(name);
    if (nameProblem) problems.push({ path: ["input", "guardianName"], message: nameProblem });
  }
  if (problems.length) throw new ValidationError(problems[0]!.message, problems);

  const childRow = isUuid(input.recipientId) ? await db.recipient.findUnique({ where: { tenantId_id: { tenantId: caller.tenantId, id: input.recipientId } } }) : null;
  if (!childRow) throw new NotFoundError("Recipient");
  const keys = await tenantKeys(db, caller.tenantId);
  const child = { ...childRow, ...openRecipient(keys, childRow) };
  await assertNotErased(db, caller.tenantId, child.id);
  if (email.ok && email.email === child.email) {
    throw ValidationError.field(["input", "guardianEmail"], "This is the child's own address: a parent's or guardian's consent must go to the parent or guardian");
  }
  if (!isChildNow(child, await tenantTimeZone(db, caller.tenantId), now)) {
    throw ValidationError.field(["input", "recipientId"], "This recipient is not a child: mark them as one (or give their birth date) first");
  }
  const tenant = await db.tenant.findUniqueOrThrow({ where: { id: caller.tenantId }, select: { name: true } });
  await db.guardianConsent.updateMany({ where: { tenantId: caller.tenantId, recipientId: child.id, state: "pending" }, data: { state: "expired" } });
  const id = randomUUID();
  const contact = { email: (email as { email: string }).email, name };
  const consent = await db.guardianConsent.create({
    data: {
      id, tenantId: caller.tenantId, recipientId: child.id,
      ...sealGuardian(keys, id, contact),
      wording: guardianConsentWording(tenant.name), wordingVersion: GUARDIAN_WORDING_VERSION,
      requestedAt: now, expiresAt: new Date(now.getTime() + GUARDIAN_CONSENT_DAYS * 86_400_000),
      requestedByUserId: caller.actor.kind === "user" ? caller.actor.id : null,
    },
  });
  // No name or address in the audit entry: the consent's id leads to them for those allowed.
  await recordAudit(db, caller, { action: "guardian_consent.requested", targetType: "GuardianConsent", targetId: consent.id, details: { wordingVersion: GUARDIAN_WORDING_VERSION } });
  return { ...consent, guardianEmail: contact.email, guardianName: contact.name as string | null };
}

/**
 * The guardian gives a pending consent (through their one-time link, or recorded by staff from a signed
 * form): `wording` must be the text the record holds, i.e. what they were shown; the consent becomes
 * `given` with its time and way, the child's guardian_consent_at is set, and the choice is recorded.
 * @throws NotFoundError, GuardianConsentStateError (not pending, expired, or other wording)
 */
export async function giveGuardianConsent(db: Db, caller: Caller, consentId: string, shown: { wording: string; via: "email_link" | "staff" }, now = new Date()) {
  const consent = isUuid(consentId) ? await db.guardianConsent.findUnique({ where: { tenantId_id: { tenantId: caller.tenantId, id: consentId } } }) : null;
  if (!consent) throw new NotFoundError("GuardianConsent");
  if (consent.state !== "pending") throw new GuardianConsentStateError(`This consent is ${consent.state}: only a pending one can be given`);
  if (consent.expiresAt <= now) {
    await db.guardianConsent.update({ where: { tenantId_id: { tenantId: caller.tenantId, id: consent.id } }, data: { state: "expired" } });
    throw new GuardianConsentStateError("This consent request has expired: ask the guardian again");
  }
  if (shown.wording !== consent.wording) throw new GuardianConsentStateError("The wording shown is not the wording on record");
  const { count } = await db.guardianConsent.updateMany({
    where: { tenantId: caller.tenantId, id: consent.id, state: "pending" },
    data: { state: "given", givenAt: now, givenVia: shown.via },
  });
  if (count !== 1) throw new GuardianConsentStateError("This consent changed meanwhile");
  await db.recipient.update({ where: { tenantId_id: { tenantId: caller.tenantId, id: consent.recipientId } }, data: { guardianConsentAt: now } });
  await recordChoice(db, caller, consent.recipientId, "guardian_consent", true, { source: shown.via === "email_link" ? "guardian" : "staff", guardianConsentId: consent.id }, now);
  await recordAudit(db, caller, { action: "guardian_consent.given", targetType: "GuardianConsent", targetId: consent.id, details: { via: shown.via } });
  return db.guardianConsent.findUniqueOrThrow({ where: { tenantId_id: { tenantId: caller.tenantId, id: consent.id } } });
}

/**
 * Withdraws the consent in force (Art. 7(3)): from now on nothing new is issued, emailed or tracked for
 * the child, and work already queued is withheld when it runs.
 * @throws NotFoundError, GuardianConsentStateError (not given)
 */
export async function withdrawGuardianConsent(db: Db, caller: Caller, consentId: string, source: "guardian" | "staff" = "staff", now = new Date()) {
  const consent = isUuid(consentId) ? await db.guardianConsent.findUnique({ where: { tenantId_id: { tenantId: caller.tenantId, id: consentId } } }) : null;
  if (!consent) throw new NotFoundError("GuardianConsent");
  if (consent.state === "pending") {
    // Asked, never given (sent to a mistyped address, say): the request is called off and its link stops
    // working. Nothing was in force, so no choice is recorded.
    await db.guardianConsent.updateMany({ where: { tenantId: caller.tenantId, id: consent.id, state: "pending" }, data: { state: "expired" } });
    await recordAudit(db, caller, { action: "guardian_consent.cancelled", targetType: "GuardianConsent", targetId: consent.id, details: { source } });
    return db.guardianConsent.findUniqueOrThrow({ where: { tenantId_id: { tenantId: caller.tenantId, id: consent.id } } });
  }
  if (consent.state !== "given") throw new GuardianConsentStateError(`This consent is ${consent.state}: only a given or pending one can be withdrawn`);
  await db.guardianConsent.update({ where: { tenantId_id: { tenantId: caller.tenantId, id: consent.id } }, data: { state: "withdrawn", withdrawnAt: now } });
  await db.recipient.update({ where: { tenantId_id: { tenantId: caller.tenantId, id: consent.recipientId } }, data: { guardianConsentAt: null } });
  await recordChoice(db, caller, consent.recipientId, "guardian_consent", false, { source, guardianConsentId: consent.id }, now);
  await recordAudit(db, caller, { action: "guardian_consent.withdrawn", targetType: "GuardianConsent", targetId: consent.id, details: { source } });
  return db.guardianConsent.findUniqueOrThrow({ where: { tenantId_id: { tenantId: caller.tenantId, id: consent.id } } });
}

/** Withdraws every consent in force for the child (the guardian asked, through their link); returns how many. */
export async function withdrawGivenGuardianConsents(db: Db, caller: Caller, recipientId: string, now = new Date()): Promise<number> {
  const given = await db.guardianConsent.findMany({ where: { tenantId: caller.tenantId, recipientId, state: "given" }, select: { id: true } });
  for (const { id } of given) await withdrawGuardianConsent(db, caller, id, "guardian", now);
  return given.length;
}

/**
 * Queues the email asking the guardian (to the consent's normalised address; linked to the child so
 * erasure blanks it) with the wording and their one-time link. `link` comes from the privacy links'
 * createOneTimeLink (purpose guardian_consent, payload { consentId }, ttl GUARDIAN_CONSENT_DAYS days).
 * The link is a secret: it travels as the payload's acceptUrl, forgotten once the message has left.
 */
export async function sendGuardianConsentEmail(db: Db, settings: MailSettings, consent: OpenedGuardianConsent, link: { url: string; expiresAt: Date }, locale = "en") {
  if (!consent.guardianEmail) throw new GuardianConsentStateError("This consent has no guardian address any more");
  const timeZone = await tenantTimeZone(db, consent.tenantId);
  return enqueueEmail(db, consent.tenantId, {
    kind: "guardian_consent_request",
    toEmail: consent.guardianEmail,
    locale,
    recipientId: consent.recipientId,
    idempotencyKey: `guardian_consent_request:${consent.id}`,
    payload: { consentId: consent.id, guardianName: consent.guardianName, wording: consent.wording, acceptUrl: link.url, expiresOn: emailDay(link.expiresAt, timeZone, locale) },
  }, settings);
}


/** The part of a privacy link (privacy/links.ts) these handlers read. */
interface GuardianLink {
  tenantId: string;
  recipientId: string;
  payload: unknown;
}

const consentIdOf = (link: GuardianLink) => {
  const id = (link.payload as { consentId?: unknown } | null)?.consentId;
  return typeof id === "string" ? id : "";
};

/**
 * The guardian_consent purpose of privacy links: the page shows the wording on record, and using the
 * link gives the consent with exactly that wording (via email_link). Shaped as links.ts's
 * LinkPurposeHandler: `registerLinkPurpose("guardian_consent", guardianConsentLinkHandler)`.
 */
export const guardianConsentLinkHandler = {
  async describe(db: Db, link: GuardianLink) {
    const consent = await db.guardianConsent.findUnique({ where: { tenantId_id: { tenantId: link.tenantId, id: consentIdOf(link) } } });
    if (!consent || consent.state !== "pending") throw new GuardianConsentStateError("This consent request is no longer open");
    return { title: "Consent for a child's credentials", paragraphs: consent.wording.split("\n\n"), action: "I give my consent" };
  },
  async confirm(db: Db, link: GuardianLink, now: Date) {
    const consent = await db.guardianConsent.findUnique({ where: { tenantId_id: { tenantId: link.tenantId, id: consentIdOf(link) } } });
    if (!consent) throw new GuardianConsentStateError("This consent request is no longer open");
    await giveGuardianConsent(db, systemCaller(link.tenantId), consent.id, { wording: consent.wording, via: "email_link" }, now);
    return { title: "Thank you", message: "Your consent is recorded. You can withdraw it, or ask for your child's data to be erased, at any time." };
  },
};

/**
 * What the requestGuardianConsent mutation does: records the pending consent (requestGuardianConsent),
 * makes the guardian's one-time link (purpose guardian_consent, valid as long as the request) and queues
 * the email carrying the wording and that link, all in the caller's transaction.
 * @throws as requestGuardianConsent
 */
export async function askGuardianForConsent(db: Db, config: App["config"], caller: Caller, input: RequestGuardianConsentInput, now = new Date()) {
  const consent = await requestGuardianConsent(db, caller, input, now);
  const link = await createOneTimeLink(db, config, {
    tenantId: caller.tenantId,
    purpose: "guardian_consent",
    recipientId: consent.recipientId,
    sentTo: consent.guardianEmail!,
    payload: { consentId: consent.id },
    ttlHours: GUARDIAN_CONSENT_DAYS * 24,
  }, now);
  await sendGuardianConsentEmail(db, mailSettings(config), consent, link);
  return consent;
}

/**
 * Who answers for a child's data: the guardian of the consent in force, else of the newest consent asked
 * for (a child marked after issuance may have none given). Null when no guardian is on record.
 */
export async function guardianOf(db: Db, tenantId: string, recipientId: string): Promise<{ email: string; name: string | null } | null> {
  const rows = await db.guardianConsent.findMany({
    where: { tenantId, recipientId, OR: [{ guardianEmailSealed: { not: null } }, { legacyGuardianEmail: { not: null } }] },
    orderBy: [{ requestedAt: "desc" }, { id: "desc" }],
    select: { state: true, ...SEALED_GUARDIAN },
  });
  const chosen = rows.find((c) => c.state === "given") ?? rows[0];
  if (!chosen) return null;
  const opened = openGuardian(await tenantKeys(db, tenantId), chosen);
  return opened.guardianEmail ? { email: opened.guardianEmail, name: opened.guardianName } : null;
}

/**
 * Where Laurel writes to a person about their own data (links, their export, a refusal): their address
 * on record, or for a child (in the tenant's zone, at `now`) the guardian on record (guardianOf); null for a
 * child with no guardian on record, who is written to by no one (Art. 8).
 */
export async function rightsAddress(
  db: Db,
  tenantId: string,
  person: { id: string; email: string; isChild: boolean; birthDate: Date | null },
  timeZone: string,
  now = new Date(),
): Promise<{ email: string; guardian: boolean } | null> {
  if (!isChildNow(person, timeZone, now)) return { email: person.email, guardian: false };
  const guardian = await guardianOf(db, tenantId, person.id);
  return guardian ? { email: guardian.email, guardian: true } : null;
}

registerLinkPurpose("guardian_consent", guardianConsentLinkHandler);
