// The one place that decides what may be done with a person's data: restriction (GDPR Art. 18),
// objection (Art. 21), consent withdrawal (Art. 7(3)) and children (Art. 8). processing_allowed()
// (sql/037) is the same rule in SQL for the paths that run there; test/privacy/processing.test.ts
// compares the two on every combination of flags, so they cannot drift apart unnoticed.
import { DateTime } from "luxon";
import type { Db } from "../../db/tenant-transaction.js";
import { ExpectedError } from "../../errors.js";
import { zoneOrUtc } from "../../lib/calendar.js";

/**
 * What one may want to do with a person's data:
 * - `issuance`: issue them a credential (the record the tenant keeps);
 * - `email`: email them about their credential (issued, revoked, suspended, reinstated);
 * - `reminders`: follow-ups (unopened reminders, expiry notices);
 * - `issuance_event`: the credential.issued partner event;
 * - `partner_events`: every other partner event naming their credential (viewed, shared, delivered, ...);
 * - `tracking`: opens and clicks linked to them (the pixel, per-person engagement events);
 * - `analytics_by_person`: engagement counted per credential (funnel stages, first touches).
 */
export const PROCESSING_PURPOSES = ["issuance", "email", "reminders", "issuance_event", "partner_events", "tracking", "analytics_by_person"] as const;
export type ProcessingPurpose = (typeof PROCESSING_PURPOSES)[number];

/** Age under which a child needs a guardian's consent (GDPR Art. 8(1) lets member states go down to 13; Laurel promises 13). */
export const CHILD_AGE = 13;

/** The flags the rule reads: a recipient row as Prisma returns it, or the same facts from SQL. */
export interface ProcessingFlags {
  trackingConsent: boolean;
  restrictedAt: Date | null;
  objectedAt: Date | null;
  isChild: boolean;
  /** A calendar date (Prisma returns a Date at UTC midnight). */
  birthDate: Date | null;
  guardianConsentAt: Date | null;
}

/**
 * True while a person is a child: marked so, or born less than 13 years before today's date in
 * `timeZone` (an unknown zone computes in UTC, as SQL does). A 29 February birthday turns 13 on 28
 * February in common years (luxon and PostgreSQL's date + interval agree).
 */
export function isChildNow(person: Pick<ProcessingFlags, "isChild" | "birthDate">, timeZone: string, now = new Date()): boolean {
  if (person.isChild) return true;
  if (!person.birthDate) return false;
  const born = DateTime.fromISO(person.birthDate.toISOString().slice(0, 10), { zone: "UTC" });
  const today = DateTime.fromJSDate(now, { zone: zoneOrUtc(timeZone) }).toISODate()!;
  return born.plus({ years: CHILD_AGE }).toISODate()! > today;
}

/**
 * Whether `purpose` may be done with this person's data now (mirrored by processing_allowed(), sql/037).
 *
 * - A child without a guardian's recorded consent: nothing at all (Art. 8).
 * - Restriction (Art. 18(1)-(2)): storage only. Issuance stays allowed because a credential is the
 *   record of an achievement the tenant already holds, and refusing it would lose that record; but it
 *   is neither emailed, nor told to partners, nor tracked. What the person asked for (answers to their
 *   own requests) is not under this rule at all (see email_purpose()).
 * - Objection (Art. 21): no reminders, tracking, partner events naming them or analytics by person;
 *   emails about the credential itself still go (they deliver what was issued, not marketing).
 * - Consent withdrawn (Art. 7(3), tracking_consent false): no tracking; nothing else relied on it.
 * - A child with consent: issuance, its email and its issuance event only; never reminders, tracking,
 *   other partner events or analytics by person (the issue's promise: never retargeted or shared).
 *
 * @param timeZone the tenant's IANA zone, for a birth date's 13th birthday
 */
export function mayProcess(person: ProcessingFlags, purpose: ProcessingPurpose, timeZone = "UTC", now = new Date()): boolean {
  const child = isChildNow(person, timeZone, now);
  if (child && !person.guardianConsentAt) return false;
  const restricted = person.restrictedAt !== null;
  const objected = person.objectedAt !== null;
  switch (purpose) {
    case "issuance":
      return true;
    case "email":
      return !restricted;
    case "issuance_event":
      return !restricted && !objected;
    case "tracking":
      return !child && !restricted && !objected && person.trackingConsent;
    case "reminders":
    case "partner_events":
    case "analytics_by_person":
      return !child && !restricted && !objected;
  }
}

/** Why the rule says no, in words a tenant's staff read in an outbox or a delivery log. */
export function withheldReason(person: ProcessingFlags, purpose: ProcessingPurpose, timeZone = "UTC", now = new Date()): string | null {
  if (mayProcess(person, purpose, timeZone, now)) return null;
  const child = isChildNow(person, timeZone, now);
  if (child && !person.guardianConsentAt) return "Withheld: a child without a guardian's recorded consent (GDPR Art. 8)";
  if (person.restrictedAt) return "Withheld: processing is restricted (GDPR Art. 18)";
  if (child) return "Withheld: never done for a child (GDPR Art. 8)";
  if (person.objectedAt) return "Withheld: the person objected (GDPR Art. 21)";
  return "Withheld: the person withdrew consent to tracking (GDPR Art. 7(3))";
}

/** Issuing to a child whose guardian has not (or no longer) consented. */
export class GuardianConsentRequiredError extends ExpectedError {
  override name = "GuardianConsentRequiredError";
  constructor(message = "This recipient is a child under 13: a parent's or guardian's consent must be recorded before anything is issued to them") {
    super(message);
  }
}

/**
 * Refuses issuance to a recipient the rule stops (today: a child without a guardian's consent).
 * A recipient who does not exist yet (issued to by email for the first time) is nobody's child.
 *
 * @throws GuardianConsentRequiredError
 */
export async function assertMayIssue(db: Db, tenantId: string, recipientId: string | null, timeZone: string, now = new Date()): Promise<void> {
  if (!recipientId) return;
  const person = await db.recipient.findUnique({ where: { tenantId_id: { tenantId, id: recipientId } } });
  if (person && !mayProcess(person, "issuance", timeZone, now)) throw new GuardianConsentRequiredError();
}
