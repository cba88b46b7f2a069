// When a data subject's request must be answered. Pure functions of the receipt instant, the tenant's
// IANA time zone and its public holidays: no database, no clock of their own (callers pass `now`).
// Working days are Monday to Friday in the tenant's zone, less the tenant's holidays.
import { DateTime } from "luxon";
import type { DataSubjectRequestKind } from "../../generated/prisma/enums.js";
import { zoneOrUtc } from "../../lib/calendar.js";

/** Laurel's promise for erasure (GDPR Art. 17 requires "without undue delay"; we promise this many working days). */
export const ERASURE_WORKING_DAYS = 7;

/** Holidays as ISO calendar dates in the tenant's zone ("2026-12-25"). */
export type HolidaySet = ReadonlySet<string>;

/** True when `day` (a local date in some zone) is Monday to Friday and not one of `holidays`. */
export function isWorkingDay(day: DateTime, holidays: HolidaySet): boolean {
  return day.weekday <= 5 && !holidays.has(day.toISODate()!);
}

/**
 * Erasure deadline (GDPR Art. 17; Laurel's seven-working-day promise): the END (23:59:59.999 local) of
 * the seventh working day in `timeZone`, counting the day of receipt as the first when it is a working
 * day; a request received on a weekend or a holiday starts counting on the next working day.
 * A request received Monday 09:00 is due at the end of the following Tuesday; one received Friday
 * 23:30 (local) counts that Friday and is due at the end of the Monday ten days later.
 *
 * Of the two readings of "seven working days after receipt", this is the earlier one: the other (the
 * day of receipt never counts, as EU Regulation 1182/71 Art. 3(1) reckons periods) gives one working
 * day more for a request received on a working day, so a deadline kept under this rule is kept under both.
 *
 * @param receivedAt instant of receipt
 * @param timeZone the tenant's IANA zone (an unknown name computes in UTC, as every read does)
 * @param holidays the tenant's public holidays, ISO dates local to `timeZone`
 * @returns the deadline instant (millisecond precision)
 */
export function erasureDeadline(receivedAt: Date, timeZone: string, holidays: HolidaySet): Date {
  let day = DateTime.fromJSDate(receivedAt, { zone: zoneOrUtc(timeZone) }).startOf("day");
  let counted = 0;
  // Terminates: at most 7 working days, plus weekends, plus the (at most 100) holidays.
  for (;;) {
    if (isWorkingDay(day, holidays) && ++counted === ERASURE_WORKING_DAYS) return day.endOf("day").toJSDate();
    day = day.plus({ days: 1 });
  }
}

/**
 * Deadline of every other kind (GDPR Art. 12(3): "within one month of receipt of the request"): the
 * END (23:59:59.999 local) of the same calendar day one month later in `timeZone`, or of that month's
 * last day when it has no such day (received 31 January: end of 28 or 29 February). Weekends and
 * holidays do not move it: Art. 12(3) counts calendar time, and we never push it later.
 *
 * @param receivedAt instant of receipt
 * @param timeZone the tenant's IANA zone
 * @returns the deadline instant (millisecond precision)
 */
export function oneMonthDeadline(receivedAt: Date, timeZone: string): Date {
  return DateTime.fromJSDate(receivedAt, { zone: zoneOrUtc(timeZone) }).startOf("day").plus({ months: 1 }).endOf("day").toJSDate();
}

/** The deadline of a request of `kind` received at `receivedAt` (erasure: working days; others: one month). */
export function requestDeadline(kind: DataSubjectRequestKind, receivedAt: Date, timeZone: string, holidays: HolidaySet): Date {
  return kind === "erasure" ? erasureDeadline(receivedAt, timeZone, holidays) : oneMonthDeadline(receivedAt, timeZone);
}

/**
 * Working days left until `deadlineAt`, counted in `timeZone`: the working days from `now`'s local day
 * to the deadline's local day, both included (on the last working day itself: 1). 0 once the deadline
 * has passed. Uses the holidays as they are now, which may differ from those the deadline was computed with.
 *
 * @returns a whole number of working days, >= 0
 */
export function workingDaysLeft(deadlineAt: Date, now: Date, timeZone: string, holidays: HolidaySet): number {
  if (now.getTime() > deadlineAt.getTime()) return 0;
  const zone = zoneOrUtc(timeZone);
  const last = DateTime.fromJSDate(deadlineAt, { zone }).startOf("day");
  let left = 0;
  for (let day = DateTime.fromJSDate(now, { zone }).startOf("day"); day <= last; day = day.plus({ days: 1 })) {
    if (isWorkingDay(day, holidays)) left++;
  }
  return left;
}
