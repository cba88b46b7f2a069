// A person's privacy choices (tracking consent, restriction, objection, being a child) as flags on their
// recipient row, which the processing rule reads (processing.ts), and as a history that is never rewritten
// (privacy_choices: what, when, by whom or which request; GDPR Art. 7(1) asks that consent be shown).
import { DateTime } from "luxon";
import type { Db } from "../../db/tenant-transaction.js";
import type { DataSubjectRequestKind, PrivacyChoiceKind, PrivacyChoiceSource } from "../../generated/prisma/enums.js";
import type { DataSubjectRequest } from "../../generated/prisma/client.js";
import { NotFoundError, ValidationError } from "../../errors.js";
import { FIRST_YEAR, parseCalendarDate, zoneOrUtc } from "../../lib/calendar.js";
import { recordAudit } from "../audit/service.js";
import { isUuid, type Caller } from "../common/caller.js";
import { tenantTimeZone } from "../tenants/service.js";
import { emitRequestClosed } from "./partner-events.js";
import { AlreadyErasedError } from "./erasure.js";
import { emailPersonAbout } from "./notify.js";
import type { App } from "../../context.js";

export interface PrivacyChoicesInput {
  /** false withdraws consent to tracking (Art. 7(3)); true gives it again. */
  trackingConsent?: boolean | null;
  /** Restriction of processing (Art. 18) on or off. */
  restricted?: boolean | null;
  /** Objection (Art. 21) on or off: no reminders, tracking, partner events or analytics by person. */
  objects?: boolean | null;
  /** Marked a child under 13 (whatever the birth date). */
  isChild?: boolean | null;
  /** YYYY-MM-DD, or "" to clear: a child while under 13 in the tenant's zone. */
  birthDate?: string | null;
}

export interface ChoiceOrigin {
  source: PrivacyChoiceSource;
  requestId?: string | null;
  guardianConsentId?: string | null;
}

/**
 * A birth date as a person gives it: a calendar date (YYYY-MM-DD), not before 1900-01-01 and not after
 * today in the tenant's zone. "" clears it.
 * @returns the date at UTC midnight (how Prisma writes a `date`), null to clear
 * @throws ValidationError at `path`
 */
export function checkBirthDate(text: string, timeZone: string, path: string[], now = new Date()): Date | null {
  if (text.trim() === "") return null;
  const parsed = parseCalendarDate(text);
  if (!parsed.ok) throw ValidationError.field(path, parsed.message);
  if (parsed.value < `${FIRST_YEAR}-01-01`) throw ValidationError.field(path, `A birth date is not before ${FIRST_YEAR}-01-01`);
  const today = DateTime.fromJSDate(now, { zone: zoneOrUtc(timeZone) }).toISODate()!;
  if (parsed.value > today) throw ValidationError.field(path, "A birth date is not in the future");
  return new Date(`${parsed.value}T00:00:00Z`);
}

/** Appends one entry to the person's privacy history. */
export async function recordChoice(db: Db, caller: Caller, recipientId: string, choice: PrivacyChoiceKind, value: boolean, origin: ChoiceOrigin, now = new Date()) {
  await db.privacyChoice.create({
    data: {
      tenantId: caller.tenantId, recipientId, choice, value, madeAt: now, source: origin.source,
      actorKind: caller.actor.kind, actorId: caller.actor.id, requestId: origin.requestId ?? null, guardianConsentId: origin.guardianConsentId ?? null,
    },
  });
}

/**
 * Sets a person's privacy flags and records each change (only what changes) in their history.
 * Restriction and objection keep their first time while they stay on. Another tenant's recipient is NotFound.
 * @throws NotFoundError, ValidationError (a bad birth date)
 */
export async function setPrivacyChoices(db: Db, caller: Caller, recipientId: string, input: PrivacyChoicesInput, origin: ChoiceOrigin = { source: "staff" }, now = new Date()) {
  const recipient = isUuid(recipientId) ? await db.recipient.findUnique({ where: { tenantId_id: { tenantId: caller.tenantId, id: recipientId } } }) : null;
  if (!recipient) throw new NotFoundError("Recipient");
  if (recipient.erasedAt) throw new AlreadyErasedError();
  const birthDate = input.birthDate != null ? checkBirthDate(input.birthDate, await tenantTimeZone(db, caller.tenantId), ["input", "birthDate"], now) : undefined;
  const changes: [PrivacyChoiceKind, boolean][] = [];
  if (input.trackingConsent != null && input.trackingConsent !== recipient.trackingConsent) changes.push(["tracking_consent", input.trackingConsent]);
  if (input.restricted != null && input.restricted !== (recipient.restrictedAt !== null)) changes.push(["restriction", input.restricted]);
  if (input.objects != null && input.objects !== (recipient.objectedAt !== null)) changes.push(["objection", input.objects]);
  if (input.isChild != null && input.isChild !== recipient.isChild) changes.push(["child", input.isChild]);
  const updated = await db.recipient.update({
    where: { tenantId_id: { tenantId: caller.tenantId, id: recipient.id } },
    data: {
      ...(input.trackingConsent != null ? { trackingConsent: input.trackingConsent } : {}),
      ...(input.restricted != null ? { restrictedAt: input.restricted ? (recipient.restrictedAt ?? now) : null } : {}),
      ...(input.objects != null ? { objectedAt: input.objects ? (recipient.objectedAt ?? now) : null } : {}),
      ...(input.isChild != null ? { isChild: input.isChild } : {}),
      ...(birthDate !== undefined ? { birthDate } : {}),
    },
  });
  for (const [choice, value] of changes) await recordChoice(db, caller, recipient.id, choice, value, origin, now);
  // Flags only, never the birth date itself: the audit log is read more widely than the person's record.
  await recordAudit(db, caller, {
    action: "recipient.privacy_updated", targetType: "Recipient", targetId: recipient.id,
    details: { ...Object.fromEntries(changes), ...(birthDate !== undefined ? { birthDateSet: birthDate !== null } : {}), source: origin.source },
  });
  return updated;
}

/** The person's privacy history, oldest first. */
export function privacyHistory(db: Db, tenantId: string, recipientId: string) {
  return db.privacyChoice.findMany({ where: { tenantId, recipientId }, orderBy: [{ madeAt: "asc" }, { id: "asc" }] });
}

/** What carrying out each kind of request sets. */
const REQUESTED: Partial<Record<DataSubjectRequestKind, { input: PrivacyChoicesInput; outcome: string; told: { en: string; fr: string } }>> = {
  restriction: {
    input: { restricted: true },
    outcome: "Processing restricted (GDPR Art. 18): their data is stored only; no emails, reminders, partner events or tracking",
    told: {
      en: "your data is now only stored: no more emails about your credentials, reminders, notices to partners or tracking, until you are told the restriction is lifted",
      fr: "vos données sont désormais seulement conservées : plus d'e-mails sur vos titres, de relances, d'avis aux partenaires ni de mesure d'audience, jusqu'à ce qu'on vous annonce la levée de la limitation",
    },
  },
  objection: {
    input: { objects: true },
    outcome: "Objection recorded (GDPR Art. 21): no reminders, tracking, partner events naming them or analytics by person",
    told: {
      en: "no more reminders, tracking, notices to partners naming you or analytics about you",
      fr: "plus de relances, de mesure d'audience, d'avis aux partenaires vous nommant ni de statistiques vous concernant",
    },
  },
  consent_withdrawal: {
    input: { trackingConsent: false },
    outcome: "Consent to tracking withdrawn (GDPR Art. 7(3)): opens and clicks no longer name them",
    told: {
      en: "opening its emails and viewing your credentials are no longer recorded against your name",
      fr: "l'ouverture de ses e-mails et la consultation de vos titres ne sont plus enregistrées à votre nom",
    },
  },
};

export const isChoiceKind = (kind: DataSubjectRequestKind) => kind in REQUESTED;

/**
 * Carries out a restriction, objection or consent-withdrawal request at once (no job: it is a flag):
 * sets the flag, records the choice with the request's id, completes the request with its outcome and
 * emits data_subject_request.completed, all in the caller's transaction. Work already queued for the
 * person is stopped when it runs (the send and delivery tasks ask the rule again). With `config`, the
 * person (or a child's guardian) is emailed what was done (Art. 12(3)); rights emails are not stopped by
 * a restriction, which is about the person's data, not about answering them.
 * @throws ValidationError when the request is final or names no recipient
 */
export async function carryOutChoiceRequest(db: Db, caller: Caller, request: DataSubjectRequest, now = new Date(), config?: App["config"]) {
  const what = REQUESTED[request.kind];
  if (!what) throw new Error(`not a choice request: ${request.kind}`);
  if (!request.recipientId) throw ValidationError.field(["id"], "The request names no recipient: nothing of theirs is held");
  await setPrivacyChoices(db, caller, request.recipientId, what.input, { source: "data_subject_request", requestId: request.id }, now);
  const { count } = await db.dataSubjectRequest.updateMany({
    where: { tenantId: caller.tenantId, id: request.id, state: { in: ["open", "in_progress"] } },
    data: { state: "completed", completedAt: now, outcome: what.outcome },
  });
  if (count !== 1) throw ValidationError.field(["id"], "The request changed meanwhile: read it again");
  const done = await db.dataSubjectRequest.findUniqueOrThrow({ where: { tenantId_id: { tenantId: caller.tenantId, id: request.id } } });
  await emitRequestClosed(db, done);
  await recordAudit(db, caller, { action: "data_subject_request.carried_out", targetType: "DataSubjectRequest", targetId: request.id, details: { kind: request.kind } });
  if (config) await emailPersonAbout(db, config, done, "data_subject_request_completed", (_zone, locale) => ({ requestAction: locale.toLowerCase().startsWith("fr") ? what.told.fr : what.told.en }));
  return done;
}
