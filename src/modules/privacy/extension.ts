// Extending a request's deadline (GDPR Art. 12(3)): by up to two further months "where necessary,
// taking into account the complexity and number of the requests", telling the person "within one month
// of receipt of the request, together with the reasons for the delay". Once per request, before its
// first deadline; the first deadline is kept beside the new one (sql/040 holds the rule in a trigger).
// Erasure is never extended: Laurel promises it within seven working days.
import { DateTime } from "luxon";
import type { App } from "../../context.js";
import type { Db } from "../../db/tenant-transaction.js";
import { NotFoundError, ValidationError, type FieldProblem } from "../../errors.js";
import { zoneOrUtc } from "../../lib/calendar.js";
import { textProblem } from "../../lib/text.js";
import { recordAudit } from "../audit/service.js";
import { isUuid, type Caller } from "../common/caller.js";
import { emailDay } from "../delivery/content.js";
import { tenantTimeZone } from "../tenants/service.js";
import { emailPersonAbout } from "./notify.js";
import { isFinal, MAX_OUTCOME } from "./service.js";

export interface ExtendRequestInput {
  /** The request's id (UUID, decoded from its global id). */
  id: string;
  /** Why more time is needed: told to the person as written (1-2,000 characters). */
  reason: string;
  /** Further months, 1 or 2 (default 2). */
  months?: number | null;
}

/**
 * Extends a pending, not yet extended, non-erasure request by `months` (1-2) further months: the new
 * deadline is the end of the same calendar day that many months after the first deadline, in the
 * tenant's zone (end of the month's last day when it has no such day). Only before the first deadline
 * passes (Art. 12(3) says the person is told within the first month). Records who, when and why
 * (audit `data_subject_request.extended`) and emails the person (their address on record; a child's
 * guardian; nobody for an erased person or a child without one) the reasons and the new date.
 * Throws NotFoundError (no such request here) or ValidationError (erasure, final, extended already,
 * first deadline passed, reason missing or not text, months not 1 or 2).
 */
export async function extendDataSubjectRequest(db: Db, caller: Caller, input: ExtendRequestInput, now: Date, config: App["config"]) {
  const found = isUuid(input.id) ? await db.dataSubjectRequest.findUnique({ where: { tenantId_id: { tenantId: caller.tenantId, id: input.id } } }) : null;
  if (!found) throw new NotFoundError("DataSubjectRequest");
  const problems: FieldProblem[] = [];
  const reason = input.reason.trim();
  const reasonProblem = reason ? textProblem(reason) : "Give the reasons for the delay (GDPR Art. 12(3))";
  if (reasonProblem) problems.push({ path: ["input", "reason"], message: reasonProblem });
  else if (reason.length > MAX_OUTCOME) problems.push({ path: ["input", "reason"], message: `At most ${MAX_OUTCOME} characters` });
  const months = input.months ?? 2;
  if (months !== 1 && months !== 2) problems.push({ path: ["input", "months"], message: "GDPR Art. 12(3) allows one or two further months" });
  const refusal =
    found.kind === "erasure" ? "Erasure is not extended: Laurel promises it within seven working days"
    : isFinal(found.state) ? `The request is ${found.state}, which is final`
    : found.extendedAt ? "The request was extended already: GDPR Art. 12(3) allows one extension of at most two further months"
    : found.deadlineAt <= now ? "The deadline has passed: an extension must be told to the person within the first month"
    : null;
  if (refusal) problems.unshift({ path: ["input", "id"], message: refusal });
  if (problems.length) throw new ValidationError(problems[0]!.message, problems);

  const timeZone = await tenantTimeZone(db, caller.tenantId);
  const deadlineAt = DateTime.fromJSDate(found.deadlineAt, { zone: zoneOrUtc(timeZone) }).plus({ months }).endOf("day").toJSDate();
  const { count } = await db.dataSubjectRequest.updateMany({
    where: { tenantId: caller.tenantId, id: found.id, state: found.state, extendedAt: null },
    data: { deadlineAt, originalDeadlineAt: found.deadlineAt, extendedAt: now, extensionReason: reason },
  });
  if (count !== 1) throw ValidationError.field(["input", "id"], "The request changed meanwhile: read it again");
  await recordAudit(db, caller, {
    action: "data_subject_request.extended",
    targetType: "DataSubjectRequest",
    targetId: found.id,
    details: { from: found.deadlineAt.toISOString(), to: deadlineAt.toISOString(), months },
  });
  await emailPersonAbout(db, config, found, "data_subject_request_extended", (zone, locale) => ({ reason, dueOn: emailDay(deadlineAt, zone, locale) }));
  return db.dataSubjectRequest.findUniqueOrThrow({ where: { tenantId_id: { tenantId: caller.tenantId, id: found.id } } });
}
