// A person acts for themselves, without an account (GDPR Art. 12(2): the controller facilitates the
// exercise of rights; Art. 12(6): identity checked first). From their credential's page or email they ask
// for any right; Laurel emails a one-time link (links.ts) to the address on record for that credential's
// holder - whoever asked, only the holder can use it - and the request is recorded when the link is used,
// with identity_method email_link. Nothing is recorded, and nothing about the holder is shown, before.
import { DateTime } from "luxon";
import { randomUUID } from "node:crypto";
import { SEALED_RECIPIENT, withPersonal } from "../recipients/personal.js";
import { tenantKeys } from "../vault/vault.js";
import { sealRequestedChanges } from "./sealed.js";
import type { App } from "../../context.js";
import type { Db } from "../../db/tenant-transaction.js";
import type { DataSubjectRequestKind } from "../../generated/prisma/enums.js";
import { ExpectedError, NotFoundError, ValidationError } from "../../errors.js";
import { zoneOrUtc } from "../../lib/calendar.js";
import { recordAudit } from "../audit/service.js";
import { isUuid, systemCaller } from "../common/caller.js";
import { mailSettings } from "../delivery/compose.js";
import { queueEmails } from "../outbox/service.js";
import { tenantTimeZone } from "../tenants/service.js";
import { requestDeadline } from "./deadlines.js";
import { AlreadyErasedError, assertNotErased } from "./erasure.js";
import { createOneTimeLink, LINK_TTL_HOURS, openLinkPayload, registerLinkPurpose, type LinkPurposeHandler, type PrivacyLink } from "./links.js";
import { checkCorrection, type Correction } from "./rectification.js";
import { rightsAddress, withdrawGivenGuardianConsents } from "./guardian.js";
import { carryOutChoiceRequest, isChoiceKind } from "./choices.js";
import { deadlineCalendar } from "./service.js";
import { tellOwnersOfRequest } from "./deadline-warnings.js";
import { languageOf, selfServiceTexts, type SelfServiceLanguage } from "./self-service-texts.js";

/** Every right a person can ask for themselves, in the order the page lists them. */
export const SELF_SERVICE_KINDS: readonly DataSubjectRequestKind[] = [
  "access", "portability", "rectification", "restriction", "objection", "consent_withdrawal", "erasure",
];

/** Links asked for one person in 24 hours, at most: enough to retry, too few to flood their inbox. */
export const MAX_LINKS_PER_DAY = 5;

/** The sentence for a request kind in the person's language (English unless French): self-service-texts.ts. */
export function requestAction(kind: DataSubjectRequestKind, locale: string | null | undefined): string {
  return selfServiceTexts(languageOf(locale)).actions[kind];
}

export class TooManyLinksError extends ExpectedError {
  override name = "TooManyLinksError";
  constructor() {
    super(`At most ${MAX_LINKS_PER_DAY} links a day are sent to one person: use one already sent, or try tomorrow`);
  }
}

export interface AskInput {
  kind: string;
  /** Rectification: what the person says is right (either or both; checked when staff carry it out). */
  correctName?: string | null;
  correctEmail?: string | null;
}

/** A correction as the person typed it, checked and normalised exactly as staff's (rectification.ts). */
function correctionOf(input: AskInput): Correction | null {
  const name = input.correctName?.trim() ? input.correctName : null;
  const email = input.correctEmail?.trim() ? input.correctEmail : null;
  if (name === null && email === null) return null;
  try {
    return checkCorrection({ name, email }, []);
  } catch (error) {
    // The form's fields are correctName and correctEmail.
    if (error instanceof ValidationError) {
      const field = (p: string[]) => [p[0] === "email" ? "correctEmail" : "correctName"];
      throw new ValidationError(error.message, error.fieldErrors.map((f) => ({ path: field(f.path), message: f.message })));
    }
    throw error;
  }
}

/**
 * What the ask form shows before anything is asked: the organisation's name (its issuer profile's, as the
 * credential names it, else the tenant's) and the language of the holder's pages. Names no one. Errors
 * as askForPrivacyLink: NotFoundError (no such credential in this tenant), AlreadyErasedError.
 */
export async function askFormFacts(db: Db, tenantId: string, credentialId: string): Promise<{ organisation: string; language: SelfServiceLanguage }> {
  const credential = isUuid(credentialId)
    ? await db.credential.findUnique({
        where: { tenantId_id: { tenantId, id: credentialId } },
        select: { erasedAt: true, recipient: { select: { locale: true, erasedAt: true } }, tenant: { select: { name: true, issuerProfile: { select: { name: true } } } } },
      })
    : null;
  if (!credential) throw new NotFoundError("Credential");
  if (credential.erasedAt || credential.recipient.erasedAt) throw new AlreadyErasedError();
  return { organisation: credential.tenant.issuerProfile?.name ?? credential.tenant.name, language: languageOf(credential.recipient.locale) };
}

/**
 * For a page about a link in any state (used, expired): the language its holder reads (a guardian's
 * consent pages are English, as guardian.ts writes them) and the credential the request was asked from,
 * so the page can lead back to its form. Null for a link that does not exist.
 */
export async function linkSetting(db: Db, tenantId: string, linkId: string): Promise<{ language: SelfServiceLanguage; credentialId: string | null } | null> {
  const link = isUuid(linkId)
    ? await db.privacyLink.findUnique({ where: { tenantId_id: { tenantId, id: linkId } }, select: { id: true, purpose: true, payloadSealed: true, legacyPayload: true, recipient: { select: { locale: true } } } })
    : null;
  if (!link) return null;
  const credentialId = openLinkPayload(await tenantKeys(db, tenantId), link).credentialId;
  return {
    language: link.purpose === "guardian_consent" ? "en" : languageOf(link.recipient.locale),
    credentialId: typeof credentialId === "string" && isUuid(credentialId) ? credentialId : null,
  };
}

/**
 * Someone on a credential's page asks for a right: emails a one-time link for it to the address on record
 * for the credential's holder. Returns nothing about the holder. Errors: NotFoundError (no such
 * credential in this tenant), AlreadyErasedError (holder erased), ValidationError (kind, correction),
 * TooManyLinksError (more than MAX_LINKS_PER_DAY for this person in 24 hours).
 */
export async function askForPrivacyLink(db: Db, app: Pick<App, "config">, tenantId: string, credentialId: string, input: AskInput, now = new Date()): Promise<{ expiresAt: Date }> {
  if (!SELF_SERVICE_KINDS.includes(input.kind as DataSubjectRequestKind)) throw ValidationError.field(["kind"], "Choose what you are asking for");
  const kind = input.kind as DataSubjectRequestKind;
  const correction = kind === "rectification" ? correctionOf(input) : null;
  if (kind === "rectification" && !correction) throw ValidationError.field(["correctName"], "Say what is wrong: give the right name, email address, or both");
  const credential = isUuid(credentialId)
    ? await db.credential.findUnique({
        where: { tenantId_id: { tenantId, id: credentialId } },
        select: { erasedAt: true, recipient: { select: { ...SEALED_RECIPIENT, locale: true, erasedAt: true, isChild: true, birthDate: true } } },
      })
    : null;
  if (!credential) throw new NotFoundError("Credential");
  if (credential.erasedAt || credential.recipient.erasedAt) throw new AlreadyErasedError();
  const recipient = (await withPersonal(db, tenantId, [credential.recipient]))[0]!;
  // Locked from here: concurrent asks count one after another, and an erasure either ran or waits for us.
  await assertNotErased(db, tenantId, recipient.id);
  const recent = await db.privacyLink.count({
    where: { tenantId, recipientId: recipient.id, purpose: { not: "guardian_consent" }, createdAt: { gt: new Date(now.getTime() - 86_400_000) } },
  });
  if (recent >= MAX_LINKS_PER_DAY) throw new TooManyLinksError();
  const timeZone = await tenantTimeZone(db, tenantId);
  // A child's rights are their guardian's to exercise (Art. 8): the link goes to the guardian on record,
  // and with none on record to no one. The answer is the same as when a link went out, so a credential's
  // public URL does not tell anyone its holder is a child; staff see it in the audit log.
  const to = await rightsAddress(db, tenantId, recipient, timeZone, now);
  if (!to) {
    const caller = systemCaller(tenantId);
    await recordAudit(db, caller, { action: "privacy_link.withheld", targetType: "Credential", targetId: credentialId, details: { kind, reason: "a child without a guardian on record" } });
    return { expiresAt: new Date(now.getTime() + LINK_TTL_HOURS.data_subject_request * 3_600_000) };
  }
  const link = await createOneTimeLink(db, app.config, {
    tenantId,
    purpose: to.guardian && kind === "erasure" ? "guardian_erasure" : "data_subject_request",
    recipientId: recipient.id,
    sentTo: to.email,
    payload: { kind, credentialId, ...(correction ? { correction } : {}), ...(to.guardian ? { guardian: true } : {}) },
  }, now);
  const zone = zoneOrUtc(timeZone);
  const expires = DateTime.fromJSDate(link.expiresAt, { zone }).setLocale(recipient.locale.toLowerCase().startsWith("fr") ? "fr" : "en-GB");
  await queueEmails(db, mailSettings(app.config), tenantId, [{
    kind: "privacy_request_link",
    toEmail: to.email,
    locale: recipient.locale,
    recipientId: recipient.id,
    idempotencyKey: `privacy_request_link:${link.id}`,
    payload: {
      // The link is a secret: acceptUrl is what the send task forgets once the message has left (sql/019).
      acceptUrl: link.url,
      // A guardian is told which child (they may have several): consent and requests must be specific (Art. 7, 8).
      requestAction: `${requestAction(kind, recipient.locale)}${to.guardian ? selfServiceTexts(languageOf(recipient.locale)).forChild(recipient.name) : ""}`,
      linkExpiresAt: `${expires.toLocaleString(DateTime.DATETIME_MED)} (${expires.toFormat("ZZZZ")})`,
    },
  }]);
  const caller = systemCaller(tenantId);
  // That a link went out, and for what: the link's id leads to the person for those allowed.
  await recordAudit(db, caller, { action: "privacy_link.sent", targetType: "PrivacyLink", targetId: link.id, details: { kind } });
  return { expiresAt: link.expiresAt };
}

/**
 * The person's own request, recorded as they confirm it by their link: filed_by data_subject, identity
 * verified by email_link (the note says to which address and when), deadline from receipt, that is now.
 */
export async function fileOwnRequest(db: Db, link: PrivacyLink, now: Date, config?: App["config"]) {
  const payload = link.payload as unknown as { kind: DataSubjectRequestKind; correction?: Correction; guardian?: boolean };
  await assertNotErased(db, link.tenantId, link.recipientId);
  const { timeZone, holidays } = await deadlineCalendar(db, link.tenantId);
  const deadlineAt = requestDeadline(payload.kind, now, timeZone, holidays);
  const requestId = randomUUID();
  const keys = await tenantKeys(db, link.tenantId);
  const request = await db.dataSubjectRequest.create({
    data: {
      id: requestId,
      tenantId: link.tenantId,
      kind: payload.kind,
      recipientId: link.recipientId,
      filedBy: "data_subject",
      identityMethod: "email_link",
      identityNote: `One-time link emailed to the ${payload.guardian ? "guardian's address" : "address"} on record on ${link.createdAt.toISOString()}, used on ${now.toISOString()}`,
      // What the person says is right; staff carry it out (carryOutDataSubjectRequest) once they agree.
      ...(payload.kind === "rectification" && payload.correction ? sealRequestedChanges(keys, requestId, payload.correction) : {}),
      receivedAt: now,
      deadlineAt,
    },
  });
  const caller = systemCaller(link.tenantId);
  await recordAudit(db, caller, {
    action: "data_subject_request.filed",
    targetType: "DataSubjectRequest",
    targetId: request.id,
    details: { kind: payload.kind, identityMethod: "email_link", filedBy: "data_subject", ...(payload.guardian ? { by: "guardian" } : {}), linkId: link.id, deadlineAt: deadlineAt.toISOString() },
  });
  if (config) await tellOwnersOfRequest(db, config, request);
  return request;
}

/** A person's own request, or a guardian's for their child: recorded by fileOwnRequest as the link is used. */
const ownRequest: LinkPurposeHandler = {
  async describe(db, link) {
    const { kind, correction, guardian } = link.payload as { kind: DataSubjectRequestKind; correction?: { name?: string; email?: string }; guardian?: boolean };
    const tenant = await db.tenant.findUniqueOrThrow({ where: { id: link.tenantId }, select: { name: true } });
    const recipient = await db.recipient.findUniqueOrThrow({ where: { tenantId_id: { tenantId: link.tenantId, id: link.recipientId } }, select: { ...SEALED_RECIPIENT, locale: true } });
    const { name } = (await withPersonal(db, link.tenantId, [recipient]))[0]!;
    const language = languageOf(recipient.locale);
    const t = selfServiceTexts(language).confirm;
    return {
      language,
      title: t.title(tenant.name),
      paragraphs: [
        t.asking(tenant.name, `${requestAction(kind, recipient.locale)}${guardian ? selfServiceTexts(language).forChild(name) : ""}`),
        ...(correction?.name ? [t.rightName(correction.name)] : []),
        ...(correction?.email ? [t.rightEmail(correction.email)] : []),
        ...(guardian && kind === "consent_withdrawal" ? [t.guardianWithdrawal] : []),
        kind === "erasure" ? t.erasureFinal : isChoiceKind(kind) ? t.atOnce : t.inTime,
      ],
      action: t.button,
    };
  },
  async confirm(db, link, now, config) {
    let request = await fileOwnRequest(db, link, now, config);
    const { timeZone } = await deadlineCalendar(db, link.tenantId);
    const recipient = await db.recipient.findUniqueOrThrow({ where: { tenantId_id: { tenantId: link.tenantId, id: link.recipientId } }, select: { locale: true } });
    const language = languageOf(recipient.locale);
    const texts = selfServiceTexts(language);
    const day = (d: Date) => DateTime.fromJSDate(d, { zone: zoneOrUtc(timeZone) }).setLocale(texts.dateLocale).toLocaleString(DateTime.DATE_FULL);
    // Withdrawing consent must be as easy as giving it (Art. 7(3)), and an objection or a restriction asked
    // by the person themselves, identity checked, needs no one's review: all three take effect now.
    if (isChoiceKind(request.kind)) {
      const caller = systemCaller(link.tenantId);
      request = await carryOutChoiceRequest(db, caller, request, now, config);
      // A guardian withdrawing consent withdraws the Art. 8 consent they gave, not only tracking.
      const withdrawn = (link.payload as { guardian?: boolean }).guardian && request.kind === "consent_withdrawal"
        ? await withdrawGivenGuardianConsents(db, caller, link.recipientId, now)
        : 0;
      return {
        language,
        title: texts.done.title,
        message: texts.done.message(day(now), texts.done.what[request.kind] ?? "", withdrawn > 0),
        details: { requestId: request.id, kind: request.kind, state: request.state, guardianConsentsWithdrawn: withdrawn },
      };
    }
    return {
      language,
      title: texts.done.recordedTitle,
      message: texts.done.recorded(day(now), day(request.deadlineAt)),
      details: { requestId: request.id, kind: request.kind, deadlineAt: request.deadlineAt.toISOString() },
    };
  },
};

registerLinkPurpose("data_subject_request", ownRequest);
// A guardian asking to erase their child's data (the link went to the guardian, links.ts): the same
// request, with a page that says whose data goes.
registerLinkPurpose("guardian_erasure", {
  ...ownRequest,
  async describe(db, link) {
    const recipient = await db.recipient.findUniqueOrThrow({ where: { tenantId_id: { tenantId: link.tenantId, id: link.recipientId } }, select: { locale: true } });
    const language = languageOf(recipient.locale);
    const t = selfServiceTexts(language).guardianErasure;
    return { language, title: t.title, paragraphs: t.paragraphs, action: t.button };
  },
});
