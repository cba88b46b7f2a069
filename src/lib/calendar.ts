// Dates and time zones, one way for every path (API, bulk rows, CSV, pages, emails, LinkedIn links).
// Instants are JavaScript Dates (millisecond precision); a calendar date means a day in the tenant's
// IANA time zone. Zone rules and calendar validity come from luxon, which reads the runtime's own
// time-zone database through Intl: we never carry offset tables of our own.
import { DateTime, IANAZone } from "luxon";
import type { Db } from "../db/tenant-transaction.js";

export const DEFAULT_TIME_ZONE = "UTC";

/** Dates Laurel accepts fall within these years (inclusive): wide enough for old records, never 20260. */
export const FIRST_YEAR = 1900;
export const LAST_YEAR = 2199;
/** An issue date may be scheduled (a credential valid from a later day), but no more than a year ahead. */
export const MAX_ISSUE_AHEAD_DAYS = 366;

const OUT_OF_RANGE = `Out of range: give a date between ${FIRST_YEAR}-01-01 and ${LAST_YEAR}-12-31`;
const CALENDAR_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
// RFC 3339 date-time (the ISO 8601 profile the web uses): seconds and fraction optional, offset required.
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}:\d{2})$/;
const LOCAL_DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/;

// Asking Intl whether a zone exists builds a formatter (~0.1 ms): remember the answers.
const knownZones = new Map<string, boolean>();

/** True for a zone name the runtime knows (IANA names such as "Europe/Paris", "UTC"); offsets like "+02:00" are not zones. */
export function isTimeZone(name: string): boolean {
  let known = knownZones.get(name);
  if (known === undefined) {
    known = name.length > 0 && name.length <= 64 && /^[A-Za-z]/.test(name) && IANAZone.isValidZone(name);
    if (knownZones.size < 10_000) knownZones.set(name, known);
  }
  return known;
}

let serverZones: Promise<Set<string>> | null = null;

/**
 * The one check for a zone a caller gives (a tenant's zone, an analytics timeZone): an IANA name both
 * the runtime (luxon/Intl) and PostgreSQL (pg_timezone_names) know. Node's tzdata keeps names that
 * PostgreSQL's has dropped (US/Pacific-New, Canada/East-Saskatchewan), and a stored zone PostgreSQL
 * cannot read breaks every statement that computes in it. PostgreSQL's list is read once per process
 * (it takes ~100 ms); a failed read is not remembered.
 */
export async function isServerTimeZone(db: Db, name: string): Promise<boolean> {
  // Legacy names without an area (CET, EET, MET, WET, EST5EDT, ...) are kept by tzdata for old systems,
  // and PostgreSQL and Node read some of them differently (QA: PostgreSQL took CET as +01:00 all year,
  // luxon with summer time, so analytics days and the credential page's date were an hour apart).
  if (!isTimeZone(name) || (!name.includes("/") && name !== "UTC")) return false;
  serverZones ??= db
    .$queryRaw<{ name: string }[]>`select name from pg_timezone_names`
    .then((rows) => new Set(rows.map((r) => r.name)))
    .catch((error: unknown) => {
      serverZones = null;
      throw error;
    });
  return (await serverZones).has(name);
}

/** The zone to compute in: the tenant's when the runtime knows it, else UTC (a read never fails on a zone). */
export function zoneOrUtc(timeZone: string | null | undefined): string {
  return timeZone && isTimeZone(timeZone) ? timeZone : DEFAULT_TIME_ZONE;
}

export type DateInput = { ok: true; date: Date; dateOnly: boolean } | { ok: false; message: string };

/**
 * Reads an ISO 8601 date as Laurel accepts it everywhere: a calendar date (`2026-11-29`), taken as the
 * start (`"start"`) or the last millisecond (`"end"`, 23:59:59.999 local) of that day in `timeZone`; or
 * an RFC 3339 date-time with an explicit offset or Z (`2026-11-29T09:30:00+10:00`), taken exactly.
 * Refused with a message: other shapes (`03/04/2026`, `20260`), impossible days (`2026-02-30`), a
 * date-time without offset, and years outside FIRST_YEAR..LAST_YEAR.
 */
export function parseDateInput(text: string, timeZone: string, edge: "start" | "end"): DateInput {
  // A CSV repeats the same few dates on every row, and luxon takes 10-60 µs a date: remember answers.
  const key = `${edge}|${timeZone}|${text}`;
  let result = parsedInputs.get(key);
  if (!result) {
    result = parseUncached(text, timeZone, edge);
    if (parsedInputs.size >= 10_000) parsedInputs.clear();
    parsedInputs.set(key, result);
  }
  return result.ok ? { ...result, date: new Date(result.date) } : result;
}

const parsedInputs = new Map<string, DateInput>();

function parseUncached(text: string, timeZone: string, edge: "start" | "end"): DateInput {
  const value = text.trim();
  const zone = zoneOrUtc(timeZone);
  let parsed: DateTime;
  let dateOnly = false;
  const day = CALENDAR_DATE.exec(value);
  if (day) {
    parsed = DateTime.fromObject({ year: Number(day[1]), month: Number(day[2]), day: Number(day[3]) }, { zone });
    if (parsed.isValid) parsed = edge === "start" ? parsed.startOf("day") : parsed.endOf("day");
    dateOnly = true;
  } else if (DATE_TIME.test(value)) {
    // ISO 8601 allows 24:00 for the next midnight; RFC 3339 does not, and neither do we.
    parsed = value.slice(11, 13) === "24" ? DateTime.invalid("hour 24") : DateTime.fromISO(value, { setZone: true });
  } else if (LOCAL_DATE_TIME.test(value)) {
    return { ok: false, message: "Give the time zone offset or Z (e.g. 2026-11-29T09:30:00+01:00), or a date alone (2026-11-29)" };
  } else {
    return { ok: false, message: "Not an ISO 8601 date: use 2026-11-29, or 2026-11-29T09:30:00Z with an offset or Z" };
  }
  if (!parsed.isValid) return { ok: false, message: `No such date: ${value}` };
  // The year as written (its own zone or offset), so 1900-01-01 is in range on either side of UTC.
  if (parsed.year < FIRST_YEAR || parsed.year > LAST_YEAR) return { ok: false, message: OUT_OF_RANGE };
  return { ok: true, date: parsed.toJSDate(), dateOnly };
}

/** A calendar date alone (custom fields of type DATE): the same text back when it names a real day in range. */
export function parseCalendarDate(text: string): { ok: true; value: string } | { ok: false; message: string } {
  const value = text.trim();
  if (!CALENDAR_DATE.test(value)) return { ok: false, message: "Must be a date (YYYY-MM-DD)" };
  const result = parseDateInput(value, DEFAULT_TIME_ZONE, "start");
  return result.ok ? { ok: true, value } : result;
}

/** Why an instant is outside the years Laurel writes, or null. */
export function rangeProblem(date: Date): string | null {
  const year = date.getUTCFullYear();
  return Number.isNaN(date.getTime()) || year < FIRST_YEAR || year > LAST_YEAR ? OUT_OF_RANGE : null;
}

/**
 * Instants a query may take as a bound on stored rows (engagementSummary, the audit log; the analytics
 * ranges use the same): every stored instant is since 1970, and year 0 is no date to PostgreSQL.
 */
export const QUERY_EARLIEST = new Date("1970-01-01T00:00:00Z");
export const QUERY_LATEST = new Date("2200-01-01T00:00:00Z");

/** Why `date`, the argument `name`, cannot bound a query, or null. */
export function queryBoundProblem(name: string, date: Date): string | null {
  const ms = date.getTime();
  const outside = Number.isNaN(ms) || ms < QUERY_EARLIEST.getTime() || ms > QUERY_LATEST.getTime();
  return outside ? `${name} must be between 1970-01-01T00:00:00Z and 2200-01-01T00:00:00Z` : null;
}

/** Why an issue date (a credential's validFrom) cannot be used, or null: in range and at most a year ahead. */
export function issueDateProblem(date: Date, now = new Date()): string | null {
  const range = rangeProblem(date);
  if (range) return range;
  if (date.getTime() > now.getTime() + MAX_ISSUE_AHEAD_DAYS * 86_400_000) return "An issue date may be at most one year ahead";
  return null;
}

/**
 * A stored instant as the API may show it: null when it is invalid or outside the years an RFC 3339
 * date-time can write (0000-9999), as rows stored before dates were checked may be. Reads never fail.
 */
export function representable(date: Date | null | undefined): Date | null {
  if (!(date instanceof Date) || Number.isNaN(date.getTime())) return null;
  const year = date.getUTCFullYear();
  return year >= 0 && year <= 9999 ? date : null;
}

/** `days` calendar days after `date` in `timeZone` (the same local time, across DST changes). */
export function addCalendarDays(date: Date, days: number, timeZone: string): Date {
  return DateTime.fromJSDate(date, { zone: zoneOrUtc(timeZone) }).plus({ days }).toJSDate();
}

/** The calendar day an instant falls on in `timeZone`, or null for an unreadable instant. */
export function calendarDay(date: Date | null | undefined, timeZone: string): { year: number; month: number; day: number; iso: string } | null {
  if (!representable(date)) return null;
  const local = DateTime.fromJSDate(date!, { zone: zoneOrUtc(timeZone) });
  return { year: local.year, month: local.month, day: local.day, iso: local.toISODate()! };
}

/**
 * A day for people to read, in `timeZone` and `locale` (BCP 47; unknown or malformed: en-GB):
 * "1 January 2026", "1 janvier 2026". Null for an unreadable instant.
 */
export function formatDay(date: Date | null | undefined, timeZone: string, locale = "en-GB"): string | null {
  if (!representable(date)) return null;
  const options = { day: "numeric", month: "long", year: "numeric", timeZone: zoneOrUtc(timeZone) } as const;
  try {
    return new Intl.DateTimeFormat(locale, options).format(date!);
  } catch {
    return new Intl.DateTimeFormat("en-GB", options).format(date!);
  }
}

/** An instant as a signed document writes it: RFC 3339 in UTC, milliseconds only when there are any. */
export function documentTime(date: Date): string {
  return date.toISOString().replace(/\.000Z$/, "Z");
}
