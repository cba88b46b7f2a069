// Reading and checking analytics inputs: the range, the filter, the time zone and the limits. Every
// problem found is collected and thrown once as a ValidationError naming each offending field.
import { decodeGlobalID } from "@pothos/plugin-relay";
import type { Db } from "../../db/tenant-transaction.js";
import { ValidationError, type FieldProblem } from "../../errors.js";
import { isServerTimeZone } from "../../lib/calendar.js";
import { isUuid } from "../common/caller.js";
import { ANALYTICS_LIMITS } from "./stages.js";

export interface RangeInput {
  from: Date;
  to: Date;
}

export interface FilterInput {
  templateIds?: readonly string[] | null;
  tag?: string | null;
  bulkJobId?: string | null;
  locale?: string | null;
  includeMachine?: boolean | null;
}

/** A checked filter: uuids (not global ids), null where not given. */
export interface AnalyticsFilter {
  templateIds: string[] | null;
  tag: string | null;
  bulkJobId: string | null;
  locale: string | null;
  includeMachine: boolean;
}

/** Which filter fields an operation accepts besides templateIds and tag (the contract's combinations). */
export interface FilterRules {
  bulkJobId: boolean;
  locale: boolean;
  /** At most one of bulkJobId / locale (time series, top templates: one rollup dimension is read). */
  oneOfBulkJobOrLocale?: boolean;
  includeMachine: boolean;
  /** Why a refused field is refused, for the message. */
  why: string;
}

export class Problems {
  readonly list: FieldProblem[] = [];
  add(path: string[], message: string): void {
    this.list.push({ path, message });
  }
  /** Throws one ValidationError holding every problem, if any. */
  throwIfAny(): void {
    if (this.list.length) throw new ValidationError(this.list[0]!.message, this.list);
  }
}

/**
 * [from, to): both on a 15-minute UTC boundary (epoch seconds % 900 == 0), both within 1970-2200, to
 * after from, at most 1,096 days. Problems go to path ["range", "from" | "to"].
 */
export function checkRange(range: RangeInput, problems: Problems): RangeInput {
  const { alignmentMs, maxRangeDays } = ANALYTICS_LIMITS;
  for (const end of ["from", "to"] as const) {
    if (range[end].getTime() % alignmentMs !== 0) {
      problems.add(["range", end], `${end} must be on a 15-minute boundary (UTC), e.g. 2026-03-01T00:00:00Z or 10:15, 10:30, 10:45`);
    }
  }
  const { earliest, latest } = ANALYTICS_LIMITS;
  for (const end of ["from", "to"] as const) {
    const ms = range[end].getTime();
    if (ms < earliest || ms > latest) problems.add(["range", end], `${end} must be between 1970-01-01T00:00:00Z and 2200-01-01T00:00:00Z`);
  }
  if (range.to.getTime() <= range.from.getTime()) problems.add(["range", "to"], "to must be after from");
  else if (range.to.getTime() - range.from.getTime() > maxRangeDays * 86_400_000) {
    problems.add(["range", "to"], `The range may span at most ${maxRangeDays} days (3 years)`);
  }
  return range;
}

function uuidOf(globalId: string, typename: string): string | null {
  try {
    const decoded = decodeGlobalID(globalId);
    return decoded.typename === typename && isUuid(decoded.id) ? decoded.id.toLowerCase() : null;
  } catch {
    return null;
  }
}

/** Checks the filter's shape; whether its ids are the tenant's is checked with the query (see sql.ts). */
export function checkFilter(filter: FilterInput | null | undefined, rules: FilterRules, problems: Problems): AnalyticsFilter {
  const f = filter ?? {};
  const result: AnalyticsFilter = { templateIds: null, tag: null, bulkJobId: null, locale: null, includeMachine: false };
  if (f.templateIds != null) {
    if (f.templateIds.length === 0 || f.templateIds.length > ANALYTICS_LIMITS.maxIds) {
      problems.add(["filter", "templateIds"], `Give 1 to ${ANALYTICS_LIMITS.maxIds} template ids, or leave templateIds out`);
    } else {
      const ids = f.templateIds.map((id) => uuidOf(id, "Template"));
      const bad = f.templateIds.filter((_, i) => ids[i] === null);
      if (bad.length) problems.add(["filter", "templateIds"], `Not a Template's id: ${bad.slice(0, 5).join(", ")}`);
      else result.templateIds = [...new Set(ids as string[])];
    }
  }
  if (f.tag != null) {
    const tag = f.tag.trim();
    if (tag.length < 1 || tag.length > 200) problems.add(["filter", "tag"], "tag must have 1 to 200 characters");
    else result.tag = tag;
  }
  if (f.bulkJobId != null) {
    if (!rules.bulkJobId) problems.add(["filter", "bulkJobId"], `bulkJobId cannot be used here: ${rules.why}`);
    else {
      result.bulkJobId = uuidOf(f.bulkJobId, "BulkJob");
      if (!result.bulkJobId) problems.add(["filter", "bulkJobId"], `Not a BulkJob's id: ${f.bulkJobId}`);
    }
  }
  if (f.locale != null) {
    if (!rules.locale) problems.add(["filter", "locale"], `locale cannot be used here: ${rules.why}`);
    else if (f.locale.trim().length < 1 || f.locale.trim().length > 35) problems.add(["filter", "locale"], "locale must have 1 to 35 characters");
    else result.locale = f.locale.trim();
  }
  if (rules.oneOfBulkJobOrLocale && f.bulkJobId != null && f.locale != null) {
    problems.add(["filter", "locale"], "Give bulkJobId or locale, not both: these counts are kept per bulk job or per locale, not per pair");
  }
  if (f.includeMachine) {
    if (!rules.includeMachine) problems.add(["filter", "includeMachine"], `includeMachine cannot be used here: ${rules.why}`);
    else result.includeMachine = true;
  }
  return result;
}

/** Adds the problems a query found: ids that are not the tenant's Template / BulkJob. */
export function checkIdsFound(found: { unknownTemplateIds: string[]; bulkJobFound: boolean }, filter: AnalyticsFilter, problems: Problems): void {
  if (found.unknownTemplateIds.length) {
    problems.add(["filter", "templateIds"], `No such template in this tenant: ${found.unknownTemplateIds.length} of the ids given`);
  }
  if (filter.bulkJobId && !found.bulkJobFound) problems.add(["filter", "bulkJobId"], "No such bulk job in this tenant");
}

export function checkFirst(first: number | null | undefined, max: number, problems: Problems): void {
  if (first != null && (first < 1 || first > max)) problems.add(["first"], `first must be between 1 and ${max}`);
}

/**
 * An IANA zone both the runtime (luxon/Intl) and PostgreSQL (pg_timezone_names) know; anything else
 * (offsets such as "+05:30", which PostgreSQL reads as POSIX with the sign inverted, abbreviations,
 * typos) is a problem at ["timeZone"]. PostgreSQL's list is read once per process (it takes ~100 ms).
 */
export async function checkTimeZone(db: Db, name: string | null | undefined, problems: Problems): Promise<string | null> {
  if (name == null) return null;
  if (await isServerTimeZone(db, name.trim())) return name.trim();
  problems.add(["timeZone"], `Unknown time zone "${name}": use an IANA name such as Europe/Paris, Asia/Kolkata or UTC`);
  return null;
}

/**
 * HOUR buckets are at most 1,000: checked before the query from the range's length (an hour-aligned
 * count would be at most one more), and exactly from the buckets the query made (`count`).
 * exactHourBuckets() counts them before the query when the length is near the limit.
 */
export function checkHourBuckets(range: RangeInput, interval: string, problems: Problems, count?: number): void {
  if (interval !== "HOUR") return;
  const hours = count ?? Math.ceil((range.to.getTime() - range.from.getTime()) / 3_600_000);
  if (hours > ANALYTICS_LIMITS.maxHourBuckets) {
    problems.add(["interval"], `HOUR gives at most ${ANALYTICS_LIMITS.maxHourBuckets} buckets (about 41 days): use DAY, or a shorter range`);
  }
}

/**
 * The exact number of HOUR buckets of `range` in `zone` (the tenant's when null), counted by
 * analytics_buckets() itself, when the range's length puts it within a few of the 1,000 limit (a
 * half-hour zone or a DST change adds one or two); undefined otherwise. So a request over the limit is
 * refused before the analytics statement runs, not after (QA: 15 aliases of one cost 5.7 s).
 */
export async function exactHourBuckets(db: Db, tenantId: string, range: RangeInput, interval: string, zone: string | null): Promise<number | undefined> {
  if (interval !== "HOUR") return undefined;
  const hours = (range.to.getTime() - range.from.getTime()) / 3_600_000;
  if (hours < ANALYTICS_LIMITS.maxHourBuckets - 5 || hours > ANALYTICS_LIMITS.maxHourBuckets) return undefined;
  const [row] = await db.$queryRaw<{ n: number }[]>`
    select count(*)::int as n from analytics_buckets(${range.from}, ${range.to}, 'hour',
      coalesce(${zone}::text, (select t.time_zone from tenants t where t.id = ${tenantId}::uuid)))`;
  return row!.n;
}
