// Analytics verbs over events: time series, breakdowns and top templates (the funnel, latency and
// delivery health are in service-cohorts.ts). Each checks its input, runs one statement (sql.ts) and
// applies the tenant's minimumGroupSize. Definitions: stages.ts. Answers never name a person.
import type { Db } from "../../db/tenant-transaction.js";
import type { EngagementType } from "../engagement/ingest.js";
import {
  checkFilter, checkFirst, checkHourBuckets, checkIdsFound, checkRange, checkTimeZone, exactHourBuckets, Problems,
  type AnalyticsFilter, type FilterInput, type FilterRules, type RangeInput,
} from "./inputs.js";
import { keyOf, labelOf, templateRefOf, toCount, TypeSums, type TemplateRef, type TypeCount } from "./results.js";
import { breakdownQuery, timeSeriesQuery, topTemplatesQuery, type Checked } from "./sql.js";
import {
  ANALYTICS_EVENT_TYPES, ANALYTICS_LIMITS, INTERVAL_UNITS, isEventCellSuppressed, TOP_TEMPLATE_MEASURES,
  type AnalyticsInterval, type BreakdownDimension, type TopTemplatesMeasure,
} from "./stages.js";

export type AnalyticsMeasure = "EVENTS" | "CREDENTIALS";

/** Checks range and filter shape; returns the collected problems to add to. */
export function begin(range: RangeInput, filter: FilterInput | null | undefined, rules: FilterRules) {
  const problems = new Problems();
  checkRange(range, problems);
  return { problems, filter: checkFilter(filter, rules, problems) };
}

/** After the statement: ids that are not the tenant's become ValidationErrors too. */
export function finish(row: Checked, filter: AnalyticsFilter, problems: Problems): number {
  checkIdsFound(row, filter, problems);
  problems.throwIfAny();
  return row.k;
}

function checkTypes(types: readonly EngagementType[] | null | undefined, problems: Problems): EngagementType[] {
  if (types == null) return [...ANALYTICS_EVENT_TYPES];
  if (types.length === 0) problems.add(["types"], "Give at least one event type, or leave types out for all");
  return ANALYTICS_EVENT_TYPES.filter((t) => types.includes(t));
}

const ONE_DIMENSION: Omit<FilterRules, "why"> = { bulkJobId: true, locale: true, oneOfBulkJobOrLocale: true, includeMachine: true };

export interface TimeBucket {
  start: Date;
  end: Date;
  /** The bucket was cut short by the range (its calendar hour, day, week or month reaches outside it). */
  partial: boolean;
  counts: TypeCount[];
}
export interface TimeSeriesPeriod {
  from: Date;
  to: Date;
  buckets: TimeBucket[];
  totals: TypeCount[];
}
export interface TimeSeries extends TimeSeriesPeriod {
  interval: AnalyticsInterval;
  timeZone: string;
  previous: TimeSeriesPeriod | null;
}

/**
 * Events and first-touch credentials per type per calendar bucket of `interval` in `timeZone` (the
 * tenant's by default), empty buckets as zeros; `previous` = the same over [from - (to - from), from).
 * Reads dimension 'j' with bulkJobId, 'l' with locale, else 't'. ValidationError: range, filter, zone,
 * types, more than 1,000 HOUR buckets.
 */
export async function engagementTimeSeries(
  db: Db,
  tenantId: string,
  input: {
    range: RangeInput; interval: AnalyticsInterval; timeZone?: string | null; types?: readonly EngagementType[] | null;
    filter?: FilterInput | null; compareWithPreviousPeriod?: boolean | null;
  },
): Promise<TimeSeries> {
  const { problems, filter } = begin(input.range, input.filter, { ...ONE_DIMENSION, why: "give bulkJobId or locale, not both" });
  const types = checkTypes(input.types, problems);
  checkHourBuckets(input.range, input.interval, problems);
  const zone = await checkTimeZone(db, input.timeZone, problems);
  problems.throwIfAny();
  const span = input.range.to.getTime() - input.range.from.getTime();
  const previous = input.compareWithPreviousPeriod ? { from: new Date(input.range.from.getTime() - span), to: input.range.from } : null;
  // The previous period is a range of its own: across a DST change it can have one bucket more (QA).
  const counted: number[] = [];
  for (const r of previous ? [input.range, previous] : [input.range]) {
    const n = await exactHourBuckets(db, tenantId, r, input.interval, zone);
    if (n !== undefined) counted.push(n);
  }
  checkHourBuckets(input.range, input.interval, problems, counted.length ? Math.max(...counted) : undefined);
  problems.throwIfAny();
  const row = await timeSeriesQuery(db, tenantId, { range: input.range, previous, unit: INTERVAL_UNITS[input.interval], zone, types, filter });
  checkHourBuckets(input.range, input.interval, problems, Math.max(...[0, 1].map((p) => row.buckets.filter((b) => b[0] === p).length)));
  const k = finish(row, filter, problems);

  const sums = new Map<string, TypeSums>(); // "period:idx"
  for (const [p, idx, type, events, credentials] of row.cells) {
    const key = `${p}:${idx}`;
    if (!sums.has(key)) sums.set(key, new TypeSums());
    sums.get(key)!.add(type, events, credentials);
  }
  const period = (p: number, range: RangeInput): TimeSeriesPeriod => {
    const totals = new TypeSums();
    const buckets = row.buckets
      .filter((b) => b[0] === p)
      .map(([, idx, lo, hi, partial]) => {
        const cell = sums.get(`${p}:${idx}`) ?? new TypeSums();
        for (const t of types) totals.add(t, cell.get(t).events, cell.get(t).credentials);
        return { start: new Date(lo), end: new Date(hi), partial, counts: cell.counts(types, k) };
      });
    return { from: range.from, to: range.to, buckets, totals: totals.counts(types, k) };
  };
  return { interval: input.interval, timeZone: row.zone, ...period(0, input.range), previous: previous ? period(1, previous) : null };
}

export interface BreakdownRow {
  key: string;
  label: string | null;
  counts: TypeCount[];
  /** No count of the row can prove minimumGroupSize credentials: every count is hidden. */
  suppressed: boolean;
}

/**
 * The range's events and first-touch credentials per value of one dimension (keys: Template / BulkJob
 * global ids, "" for none; else the value, "" for none or unknown). Ordered by `orderBy` (largest first,
 * hidden values last, then key) or by key; `first` rows (1..100). bulkJobId / locale only with
 * `by` BULK_JOB / LOCALE.
 */
export async function engagementBreakdown(
  db: Db,
  tenantId: string,
  input: {
    range: RangeInput; by: BreakdownDimension; types?: readonly EngagementType[] | null; filter?: FilterInput | null;
    orderBy?: { type: EngagementType; measure: AnalyticsMeasure } | null; first?: number | null;
  },
): Promise<{ by: BreakdownDimension; rows: BreakdownRow[] }> {
  const { problems, filter } = begin(input.range, input.filter, {
    bulkJobId: input.by === "BULK_JOB", locale: input.by === "LOCALE", includeMachine: true,
    why: "a breakdown filters by bulk job or locale only when it is broken down by that dimension",
  });
  const types = checkTypes(input.types, problems);
  checkFirst(input.first, ANALYTICS_LIMITS.maxFirst, problems);
  problems.throwIfAny();
  const queried = input.orderBy && !types.includes(input.orderBy.type) ? [...types, input.orderBy.type] : types;
  const row = await breakdownQuery(db, tenantId, { range: input.range, by: input.by, types: queried, filter });
  const k = finish(row, filter, problems);

  const byKey = new Map<string, TypeSums>();
  for (const [key, type, events, credentials] of row.cells) {
    if (!byKey.has(key)) byKey.set(key, new TypeSums());
    byKey.get(key)!.add(type, events, credentials);
  }
  const kind = input.by === "TEMPLATE" ? "template" : input.by === "BULK_JOB" ? "bulkJob" : null;
  const rows = [...byKey.entries()]
    .filter(([, s]) => types.some((t) => s.get(t).events > 0 || s.get(t).credentials > 0))
    .map(([value, s]) => {
      const proven = Math.max(...types.map((t) => s.get(t).credentials));
      const events = types.reduce((n, t) => n + s.get(t).events, 0);
      const suppressed = isEventCellSuppressed(events, proven, k);
      const order = input.orderBy ? s.get(input.orderBy.type) : null;
      const orderCell = input.orderBy ? s.counts([input.orderBy.type], k)[0]! : null;
      const sortValue = suppressed || !order || orderCell!.suppressed ? -1 : input.orderBy!.measure === "EVENTS" ? order.events : order.credentials;
      const counts = suppressed ? types.map((type) => ({ type, events: null, credentials: null, suppressed: true })) : s.counts(types, k);
      return { key: keyOf(kind, value), label: labelOf(kind, value, row.labels), counts, suppressed, sortValue };
    })
    .sort((a, b) => b.sortValue - a.sortValue || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return { by: input.by, rows: rows.slice(0, input.first ?? rows.length).map(({ sortValue: _, ...r }) => r) };
}

export interface TemplateRanking extends TemplateRef {
  events: number | null;
  credentials: number | null;
  suppressed: boolean;
}

/**
 * Templates ranked by one event type (VIEWS page_viewed, SHARES shared, LINKEDIN_ADDS linkedin_added,
 * VERIFICATIONS verified) and `measure`, largest first; hidden cells last; `first` (default 10, 1..100).
 */
export async function topTemplates(
  db: Db,
  tenantId: string,
  input: { range: RangeInput; by: TopTemplatesMeasure; measure: AnalyticsMeasure; first?: number | null; filter?: FilterInput | null },
): Promise<{ by: TopTemplatesMeasure; measure: AnalyticsMeasure; rankings: TemplateRanking[] }> {
  const { problems, filter } = begin(input.range, input.filter, { ...ONE_DIMENSION, why: "give bulkJobId or locale, not both" });
  checkFirst(input.first, ANALYTICS_LIMITS.maxFirst, problems);
  problems.throwIfAny();
  const row = await topTemplatesQuery(db, tenantId, { range: input.range, type: TOP_TEMPLATE_MEASURES[input.by], filter });
  const k = finish(row, filter, problems);
  const rankings = row.cells
    .map(([uuid, events, credentials]) => ({ uuid, events: toCount(events), credentials: toCount(credentials) }))
    .filter((c) => c.events > 0 || c.credentials > 0)
    .map((c) => {
      const suppressed = isEventCellSuppressed(c.events, c.credentials, k);
      const ref = templateRefOf(c.uuid, row.templates);
      const value = suppressed ? -1 : input.measure === "EVENTS" ? c.events : c.credentials;
      return { ...ref, events: suppressed ? null : c.events, credentials: suppressed ? null : c.credentials, suppressed, value, uuid: c.uuid };
    })
    .sort((a, b) => b.value - a.value || (a.label ?? "").localeCompare(b.label ?? "") || a.uuid.localeCompare(b.uuid))
    .slice(0, input.first ?? 10)
    .map(({ value: _v, uuid: _u, ...r }) => r);
  return { by: input.by, measure: input.measure, rankings };
}
