// People's rights: requests a person makes about their data (filed by staff for now), their state and
// deadlines, and the tenant's public holidays those deadlines skip. Erasure and rectification are
// carried out in erasure.ts and rectification.ts, exports in export.ts; the rest are later work.
import type { Db } from "../../db/tenant-transaction.js";
import { randomUUID } from "node:crypto";
import { byEmail as recipientByEmail } from "../recipients/personal.js";
import { tenantKeys } from "../vault/vault.js";
import { sealRequestedChanges } from "./sealed.js";
import type { DataSubjectRequestKind, DataSubjectRequestState, IdentityVerificationMethod } from "../../generated/prisma/enums.js";
import type { Prisma } from "../../generated/prisma/client.js";
import { NotFoundError, ValidationError, type FieldProblem } from "../../errors.js";
import { normaliseEmail } from "../../lib/email-address.js";
import { parseCalendarDate } from "../../lib/calendar.js";
import { textProblem } from "../../lib/text.js";
import { recordAudit } from "../audit/service.js";
import { isUuid, type Caller } from "../common/caller.js";
import { tenantTimeZone } from "../tenants/service.js";
import { requestDeadline, type HolidaySet } from "./deadlines.js";
import { assertNotErased } from "./erasure.js";
import { emitRequestClosed } from "./partner-events.js";
import type { App } from "../../context.js";
import { emailPersonAbout } from "./notify.js";
import { checkCorrection, type Correction, type CorrectionInput } from "./rectification.js";

export const MAX_IDENTITY_NOTE = 1000;
export const MAX_OUTCOME = 2000;
export const MAX_HOLIDAYS = 100;
export const MAX_HOLIDAY_NAME = 100;

/** Kinds Laurel carries out itself (carryOutDataSubjectRequest); only that completes them. */
export const CARRIED_OUT_KINDS: readonly DataSubjectRequestKind[] = ["access", "portability", "rectification", "erasure", "restriction", "objection", "consent_withdrawal"];

/** States after which a request never moves again. */
export const FINAL_STATES: readonly DataSubjectRequestState[] = ["completed", "refused", "cancelled"];
export const PENDING_STATES: readonly DataSubjectRequestState[] = ["open", "in_progress"];

/** Where each state may go next; final states go nowhere. */
const TRANSITIONS: Record<DataSubjectRequestState, readonly DataSubjectRequestState[]> = {
  open: ["in_progress", "completed", "refused", "cancelled"],
  in_progress: ["completed", "refused", "cancelled"],
  completed: [],
  refused: [],
  cancelled: [],
};

export function isFinal(state: DataSubjectRequestState): boolean {
  return FINAL_STATES.includes(state);
}

/** Deadline passed and not yet closed. */
export function isOverdue(request: { state: DataSubjectRequestState; deadlineAt: Date }, now = new Date()): boolean {
  return !isFinal(request.state) && request.deadlineAt.getTime() < now.getTime();
}

/** A Prisma filter for `overdue` (true: deadline passed and pending; false: the rest). */
export function overdueWhere(overdue: boolean, now = new Date()): Prisma.DataSubjectRequestWhereInput {
  const late = { state: { in: [...PENDING_STATES] }, deadlineAt: { lt: now } };
  return overdue ? late : { NOT: late };
}

/** The tenant's holidays as ISO dates ("2026-12-25"), ascending. */
export async function tenantHolidays(db: Db, tenantId: string): Promise<{ date: string; name: string }[]> {
  const rows = await db.tenantHoliday.findMany({ where: { tenantId }, orderBy: { day: "asc" } });
  return rows.map((r) => ({ date: r.day.toISOString().slice(0, 10), name: r.name }));
}

/** What a deadline is computed with: the tenant's zone and holidays. */
export async function deadlineCalendar(db: Db, tenantId: string): Promise<{ timeZone: string; holidays: HolidaySet }> {
  const [timeZone, holidays] = await Promise.all([tenantTimeZone(db, tenantId), tenantHolidays(db, tenantId)]);
  return { timeZone, holidays: new Set(holidays.map((h) => h.date)) };
}

export interface FileRequestInput {
  kind: DataSubjectRequestKind;
  /** A recipient's id (UUID, already decoded from its global id). */
  recipientId?: string | null;
  email?: string | null;
  identityVerification: { method: IdentityVerificationMethod; note?: string | null };
  /** Rectification only (and required there): the corrected name and/or email the person asks for. */
  requestedChanges?: CorrectionInput | null;
}

function optionalText(value: string | null | undefined, path: string[], max: number, problems: FieldProblem[]): string | null {
  const text = value?.trim() || null;
  if (text === null) return null;
  const problem = textProblem(text);
  if (problem) problems.push({ path, message: problem });
  else if (text.length > max) problems.push({ path, message: `At most ${max} characters` });
  return text;
}

/**
 * Files a request on a person's behalf (staff, with privacy:manage), naming the person by recipient
 * id or email (exactly one), and records how their identity was verified. The deadline is fixed now,
 * from the tenant's zone and holidays as they are at receipt. Another tenant's recipient is NotFound.
 */
export async function fileDataSubjectRequest(db: Db, caller: Caller, input: FileRequestInput, now = new Date()) {
  const problems: FieldProblem[] = [];
  const byId = input.recipientId != null && input.recipientId !== "";
  const byEmail = input.email != null && input.email.trim() !== "";
  if (byId === byEmail) {
    problems.push({ path: ["input"], message: byId ? "Give the person's recipientId or their email, not both" : "Name the person: give their recipientId or their email" });
  }
  const { method, note: rawNote } = input.identityVerification;
  const note = optionalText(rawNote, ["input", "identityVerification", "note"], MAX_IDENTITY_NOTE, problems);
  if (method === "other" && !note && !problems.some((p) => p.path.at(-1) === "note")) {
    problems.push({ path: ["input", "identityVerification", "note"], message: "Say how identity was verified when the method is other" });
  }
  let email: string | null = null;
  if (byEmail && !byId) {
    const checked = normaliseEmail(input.email!);
    if (checked.ok) email = checked.email;
    else problems.push({ path: ["input", "email"], message: `Not a valid email address: ${checked.reason}` });
  }
  let requestedChanges: Correction | null = null;
  if (input.kind === "rectification") {
    if (!input.requestedChanges) problems.push({ path: ["input", "requestedChanges"], message: "Say what the person asks to correct: their name, email or both" });
    else {
      try {
        requestedChanges = checkCorrection(input.requestedChanges, ["input", "requestedChanges"]);
      } catch (error) {
        if (!(error instanceof ValidationError)) throw error;
        problems.push(...error.fieldErrors);
      }
    }
  } else if (input.requestedChanges) {
    problems.push({ path: ["input", "requestedChanges"], message: `Only a rectification request carries a correction, not ${input.kind}` });
  }
  if (problems.length) throw new ValidationError(problems[0]!.message, problems);

  const keys = await tenantKeys(db, caller.tenantId);
  // By address through the blind index: the database holds addresses sealed (sql/044).
  const where: Prisma.RecipientWhereInput | null = byId
    ? isUuid(input.recipientId!) ? { tenantId: caller.tenantId, id: input.recipientId! } : null
    : { tenantId: caller.tenantId, ...recipientByEmail(keys, email!) };
  const recipient = where ? await db.recipient.findFirst({ where, select: { id: true } }) : null;
  if (!recipient) throw new NotFoundError("Recipient");
  // Nothing of an erased person is left to access, port, correct, restrict or erase: every kind is refused alike.
  await assertNotErased(db, caller.tenantId, recipient.id);

  const { timeZone, holidays } = await deadlineCalendar(db, caller.tenantId);
  const deadlineAt = requestDeadline(input.kind, now, timeZone, holidays);
  const requestId = randomUUID();
  const request = await db.dataSubjectRequest.create({
    data: {
      id: requestId,
      tenantId: caller.tenantId,
      kind: input.kind,
      recipientId: recipient.id,
      filedBy: "staff",
      filedByUserId: caller.actor.kind === "user" ? caller.actor.id : null,
      filedByApiKeyId: caller.actor.kind === "api_key" ? caller.actor.id : null,
      identityMethod: method,
      identityNote: note,
      receivedAt: now,
      deadlineAt,
      ...(requestedChanges ? sealRequestedChanges(keys, requestId, requestedChanges) : {}),
    },
  });
  // No personal data in the audit entry: the request's id leads to the person for those allowed.
  await recordAudit(db, caller, {
    action: "data_subject_request.filed",
    targetType: "DataSubjectRequest",
    targetId: request.id,
    details: { kind: input.kind, identityMethod: method, deadlineAt: deadlineAt.toISOString() },
  });
  return request;
}

export interface UpdateRequestInput {
  id: string;
  state: DataSubjectRequestState;
  outcome?: string | null;
}

/**
 * Moves a request to `state` along the allowed transitions (open -> in_progress -> completed |
 * refused | cancelled; final states never move). Entering a final state sets completedAt. A refusal
 * must give its reasons as `outcome` (GDPR Art. 12(4)).
 */
export async function updateDataSubjectRequest(db: Db, caller: Caller, input: UpdateRequestInput, now = new Date(), config?: App["config"]) {
  const found = isUuid(input.id)
    ? await db.dataSubjectRequest.findUnique({ where: { tenantId_id: { tenantId: caller.tenantId, id: input.id } } })
    : null;
  if (!found) throw new NotFoundError("DataSubjectRequest");
  const problems: FieldProblem[] = [];
  const outcome = optionalText(input.outcome, ["input", "outcome"], MAX_OUTCOME, problems);
  if (!TRANSITIONS[found.state].includes(input.state)) {
    const why = isFinal(found.state)
      ? `The request is ${found.state}, which is final`
      : `A request that is ${found.state} cannot become ${input.state}`;
    problems.push({ path: ["input", "state"], message: why });
  }
  // What Laurel carries out is completed by carrying it out, so the record cannot say a right was honoured
  // when nothing was done: staff may refuse (with reasons) or cancel such a request, not complete it by hand.
  if (input.state === "completed" && CARRIED_OUT_KINDS.includes(found.kind) && !problems.some((p) => p.path[1] === "state")) {
    problems.push({ path: ["input", "state"], message: `Laurel completes ${found.kind.replaceAll("_", " ")} requests itself: use carryOutDataSubjectRequest` });
  }
  if (input.state === "refused" && !outcome && !problems.some((p) => p.path[1] === "outcome")) {
    problems.push({ path: ["input", "outcome"], message: "Give the reasons for refusing (GDPR Art. 12(4))" });
  }
  if (problems.length) throw new ValidationError(problems[0]!.message, problems);

  // Guarded by the state read above, so two concurrent changes cannot both leave the same state.
  const { count } = await db.dataSubjectRequest.updateMany({
    where: { tenantId: caller.tenantId, id: found.id, state: found.state },
    data: { state: input.state, ...(outcome !== null ? { outcome } : {}), ...(isFinal(input.state) ? { completedAt: now } : {}) },
  });
  if (count !== 1) throw ValidationError.field(["input", "state"], "The request changed meanwhile: read it again");
  await recordAudit(db, caller, {
    action: "data_subject_request.updated",
    targetType: "DataSubjectRequest",
    targetId: found.id,
    details: { state: { from: found.state, to: input.state } },
  });
  const updated = await db.dataSubjectRequest.findUniqueOrThrow({ where: { tenantId_id: { tenantId: caller.tenantId, id: found.id } } });
  if (isFinal(updated.state)) await emitRequestClosed(db, updated);
  // A refusal is told to the person with its reasons, which are staff's own words (Art. 12(4)).
  if (updated.state === "refused" && config) await emailPersonAbout(db, config, updated, "data_subject_request_refused", () => ({ reason: updated.outcome ?? "" }));
  return updated;
}

/**
 * Replaces the tenant's public holidays (at most 100; calendar dates read by lib/calendar, names of
 * 1-100 characters, each date once). Deadlines already fixed do not move.
 */
export async function setTenantHolidays(db: Db, caller: Caller, days: { date: string; name: string }[]) {
  const problems: FieldProblem[] = [];
  if (days.length > MAX_HOLIDAYS) problems.push({ path: ["input", "days"], message: `At most ${MAX_HOLIDAYS} holidays` });
  const seen = new Set<string>();
  const rows: { tenantId: string; day: Date; name: string }[] = [];
  days.slice(0, MAX_HOLIDAYS).forEach((d, i) => {
    const base = ["input", "days", String(i)];
    const date = parseCalendarDate(d.date);
    if (!date.ok) problems.push({ path: [...base, "date"], message: date.message });
    else if (seen.has(date.value)) problems.push({ path: [...base, "date"], message: `${date.value} is listed twice` });
    const name = d.name.trim();
    if (name.length < 1 || name.length > MAX_HOLIDAY_NAME) problems.push({ path: [...base, "name"], message: `A name has 1 to ${MAX_HOLIDAY_NAME} characters` });
    else if (/[\r\n\t]/.test(name)) problems.push({ path: [...base, "name"], message: "A name is one line: no line breaks or tabs" });
    if (date.ok && !seen.has(date.value)) {
      seen.add(date.value);
      rows.push({ tenantId: caller.tenantId, day: new Date(`${date.value}T00:00:00Z`), name });
    }
  });
  if (problems.length) throw new ValidationError(problems[0]!.message, problems);
  await db.tenantHoliday.deleteMany({ where: { tenantId: caller.tenantId } });
  if (rows.length) await db.tenantHoliday.createMany({ data: rows });
  await recordAudit(db, caller, { action: "tenant.holidays_set", targetType: "Tenant", targetId: caller.tenantId, details: { count: rows.length } });
  return tenantHolidays(db, caller.tenantId);
}
