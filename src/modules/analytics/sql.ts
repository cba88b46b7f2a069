// Analytics SQL: each operation is one statement over the four *_rollups tables (plus tenants,
// templates, template_versions and bulk_jobs for settings, labels, tags and id checks), run on the
// request's transaction so RLS applies; every statement also names the tenant. Ranges are read through
// analytics_cover() and series through analytics_buckets() (sql/021). Sums are cast to int8.
import type { Db } from "../../db/tenant-transaction.js";
import { Prisma } from "../../generated/prisma/client.js";
import type { AnalyticsFilter, RangeInput } from "./inputs.js";
import { ANALYTICS_EVENT_TYPES, BREAKDOWN_DIMENSIONS, FUNNEL_STAGES, type BreakdownDimension } from "./stages.js";

const sql = Prisma.sql;
type Sql = Prisma.Sql;

/** What every statement answers besides its data: the tenant's settings and the filter's id checks. */
export interface Checked {
  k: number;
  tenantZone: string;
  unknownTemplateIds: string[];
  bulkJobFound: boolean;
}

/** Labels of the Templates / BulkJobs a result names, by uuid. */
export type Labels = Record<string, string>;
/** A templates row as Prisma returns it (for the Template node), plus its current name. */
export type TemplateJson = Record<string, unknown>;

/**
 * Runs one analytics statement and returns its single row. (JIT, which compiled these plans for
 * seconds, is off in every tenant transaction: src/db/tenant-transaction.ts.)
 */
export async function run<T>(db: Db, query: Sql): Promise<T> {
  // Aggregates over a year of hours group ~100k rows into a few thousand cells: with the default 4 MB
  // the planner sorted them (90 ms) rather than hash them. For this transaction only.
  await db.$queryRaw`select set_config('work_mem', ${ANALYTICS_WORK_MEM}, true)`;
  const [row] = await db.$queryRaw<T[]>(query);
  return row!;
}

/** work_mem of an analytics statement (per sort or hash node; the server's default is 4 MB). */
export const ANALYTICS_WORK_MEM = "32MB";

export function checkedColumns(tenantId: string, filter: AnalyticsFilter): Sql {
  return sql`
    (select t.minimum_group_size from tenants t where t.id = ${tenantId}::uuid) as k,
    (select t.time_zone from tenants t where t.id = ${tenantId}::uuid) as "tenantZone",
    (select coalesce(json_agg(x), '[]') from unnest(${filter.templateIds}::uuid[]) x
      where not exists (select 1 from templates t where t.tenant_id = ${tenantId}::uuid and t.id = x)) as "unknownTemplateIds",
    (${filter.bulkJobId}::uuid is null or exists (select 1 from bulk_jobs b where b.tenant_id = ${tenantId}::uuid and b.id = ${filter.bulkJobId}::uuid))
      as "bulkJobFound"`;
}

/** Rows of `r` whose template matches templateIds and tag (the tag of each template's current version). */
export function templateCondition(tenantId: string, filter: AnalyticsFilter, column = sql`r.template_id`): Sql {
  const parts: Sql[] = [];
  if (filter.templateIds) parts.push(sql`and ${column} = any(${filter.templateIds}::uuid[])`);
  if (filter.tag !== null) {
    parts.push(sql`and ${column} in (
      select v.template_id from templates t
        join template_versions v on v.tenant_id = t.tenant_id and v.template_id = t.id and v.version = t.current_version
       where t.tenant_id = ${tenantId}::uuid and ${filter.tag} = any(v.tags))`);
  }
  return parts.length ? Prisma.join(parts, " ") : Prisma.empty;
}

const ROLLUP_COLUMNS: Record<string, string> = {
  analytics_event_rollups: "r.bucket, r.value, r.type, r.template_id, r.machine, r.events, r.first_human, r.first_any",
  analytics_cohort_rollups: "r.template_id, r.bulk_job_id, r.locale, r.status, r.human_mask, r.any_mask, r.credentials",
  analytics_latency_rollups: "r.template_id, r.stage, r.bin, r.credentials",
  analytics_delivery_rollups: "r.bucket, r.template_id, r.sender_domain, r.outcome, r.messages",
};

/**
 * A rollup table's rows of one grain in [lo, hi) that meet `conditions`, as `r`, for a lateral join.
 * `offset 0` keeps the planner from flattening the subquery: it guesses 1,000 rows for a set-returning
 * function (analytics_cover, analytics_buckets) and would hash-join the tenant's whole table; kept
 * apart, each piece is one index range scan (the *_read indexes cover every column read).
 */
export function rollupRows(tenantId: string, table: string, piece: { grain: Sql; lo: Sql; hi: Sql }, conditions: Sql = Prisma.empty): Sql {
  return sql`lateral (select ${Prisma.raw(ROLLUP_COLUMNS[table]!)} from ${Prisma.raw(table)} r
     where r.tenant_id = ${tenantId}::uuid ${conditions} and r.grain = ${piece.grain} and r.bucket >= ${piece.lo} and r.bucket < ${piece.hi}
    offset 0) r`;
}

/** analytics_cover() pieces of [from, to) (as `c`), each joined to its rows of a rollup table (as `r`). */
export function coveredRows(tenantId: string, table: string, from: Sql, to: Sql, conditions: Sql = Prisma.empty): Sql {
  return sql`analytics_cover(${tenantId}::uuid, ${from}, ${to}) c
    cross join ${rollupRows(tenantId, table, { grain: sql`c.grain`, lo: sql`c.lo`, hi: sql`c.hi` }, conditions)}`;
}

export const at = (d: Date) => sql`${d.toISOString()}::timestamptz`;

/** Labels: a template's current name; a bulk job's template name and its creation date in the tenant's zone. */
export function labelsColumn(tenantId: string, kind: "template" | "bulkJob" | null, keys: Sql): Sql {
  if (kind === "template") {
    return sql`(select coalesce(json_object_agg(t.id, v.name), '{}') from templates t
      join template_versions v on v.tenant_id = t.tenant_id and v.template_id = t.id and v.version = t.current_version
     where t.tenant_id = ${tenantId}::uuid and t.id::text in (${keys})) as labels`;
  }
  if (kind === "bulkJob") {
    return sql`(select coalesce(json_object_agg(b.id, v.name || ' · ' || to_char(b.created_at at time zone z.time_zone, 'YYYY-MM-DD')), '{}')
      from bulk_jobs b
      join tenants z on z.id = b.tenant_id
      join templates t on t.tenant_id = b.tenant_id and t.id = b.template_id
      join template_versions v on v.tenant_id = t.tenant_id and v.template_id = t.id and v.version = t.current_version
     where b.tenant_id = ${tenantId}::uuid and b.id::text in (${keys})) as labels`;
  }
  return sql`'{}'::json as labels`;
}

/** The Template rows (for the Template node) named by `keys`, each with its current name as `label`. */
export function templatesColumn(tenantId: string, keys: Sql): Sql {
  return sql`(select coalesce(json_object_agg(t.id, to_jsonb(t) || jsonb_build_object('label', v.name)), '{}') from templates t
      join template_versions v on v.tenant_id = t.tenant_id and v.template_id = t.id and v.version = t.current_version
     where t.tenant_id = ${tenantId}::uuid and t.id::text in (${keys})) as templates`;
}

const machineColumns = (filter: AnalyticsFilter) =>
  filter.includeMachine
    ? sql`coalesce(sum(r.events), 0)::int8 as events, coalesce(sum(r.first_any), 0)::int8 as credentials`
    : sql`coalesce(sum(r.events) filter (where not r.machine), 0)::int8 as events, coalesce(sum(r.first_human), 0)::int8 as credentials`;

/** Which event-rollup dimension answers a filter: bulk job ('j') or locale ('l') when given, else template ('t'). */
/** Rows of the given event types (no condition when every type is asked for). */
export function typeCondition(types: readonly string[]): Sql {
  return types.length >= ANALYTICS_EVENT_TYPES.length ? Prisma.empty : sql`and r.type = any(${types}::engagement_type[])`;
}

/**
 * The rows a time series reads: a bulk job's ('j') or a locale's ('l') when filtered so, the named
 * templates' ('t', by value, which the by_value index leads with) when filtered to templates or a tag,
 * else the whole tenant's ('*': one row per bucket, type and machine flag).
 */
export function seriesDimension(tenantId: string, filter: AnalyticsFilter): { dimension: string; value: Sql } {
  if (filter.bulkJobId || filter.locale !== null) return eventDimension(filter);
  if (!filter.templateIds && filter.tag === null) return { dimension: "*", value: Prisma.empty };
  const parts: Sql[] = [];
  if (filter.templateIds) parts.push(sql`and r.value = any(${filter.templateIds.map(String)}::text[])`);
  if (filter.tag !== null) {
    parts.push(sql`and r.value in (
      select v.template_id::text from templates t
        join template_versions v on v.tenant_id = t.tenant_id and v.template_id = t.id and v.version = t.current_version
       where t.tenant_id = ${tenantId}::uuid and ${filter.tag} = any(v.tags))`);
  }
  return { dimension: "t", value: Prisma.join(parts, " ") };
}

export function eventDimension(filter: AnalyticsFilter): { dimension: string; value: Sql } {
  if (filter.bulkJobId) return { dimension: "j", value: sql`and r.value = ${filter.bulkJobId}` };
  if (filter.locale !== null) return { dimension: "l", value: sql`and r.value = ${filter.locale}` };
  return { dimension: "t", value: Prisma.empty };
}

// ---------------------------------------------------------------------------------------------------
// Time series: cells [period (0 current, 1 previous), bucket idx, type, events, credentials].

export interface SeriesRow extends Checked {
  zone: string;
  buckets: [number, number, string, string, boolean][];
  cells: [number, number, string, number, number][];
}

export async function timeSeriesQuery(
  db: Db,
  tenantId: string,
  q: { range: RangeInput; previous: RangeInput | null; unit: string; zone: string | null; types: string[]; filter: AnalyticsFilter },
): Promise<SeriesRow> {
  const { dimension, value } = seriesDimension(tenantId, q.filter);
  const conditions = sql`and r.dimension = ${dimension} ${typeCondition(q.types)} ${value} ${templateCondition(tenantId, q.filter)}`;
  return run<SeriesRow>(db, sql`
    with ${seriesBuckets(tenantId, q)},
    cells as (
      select m.p, ${bucketIndex(sql`r.bucket`)} as idx, r.type::text as type, ${machineColumns(q.filter)}
        from pieces m join starts s on s.p = m.p
        cross join ${rollupRows(tenantId, "analytics_event_rollups", { grain: sql`m.grain`, lo: sql`m.lo`, hi: sql`m.hi` }, conditions)}
       group by 1, 2, 3)
    select ${checkedColumns(tenantId, q.filter)}, (select zone from z) as zone,
      (select json_agg(json_build_array(b.p, b.idx, b.lo, b.hi, b.partial) order by b.p, b.idx) from b) as buckets,
      (select coalesce(json_agg(json_build_array(p, idx, type, events, credentials)), '[]') from cells) as cells`);
}

/**
 * CTEs of a series: z (the zone: the caller's, else the tenant's; same = the tenant's own), periods
 * (p 0 the range, 1 the previous period), b (calendar buckets of each period: p, idx, lo, hi) and pieces
 * (p, grain, lo, hi): what to read so that every rollup row read lies within one bucket.
 *  - In the tenant's own zone, DAY/WEEK/MONTH buckets: the cover of the first and of the last bucket,
 *    and of the whole buckets between them (down from days, or months for MONTH: the zone's own rows,
 *    and no hour there, since those bounds are day starts). So a year of days is one index range, and no
 *    UTC hour straddles a bucket bound (it would in a half-hour zone: found by the equivalence test).
 *  - Otherwise (HOUR buckets, or another zone): each bucket's whole UTC hours, and slots at its edges;
 *    adjacent pieces of one grain merged, so a whole-hour zone's hours are again one range.
 */
export function seriesBuckets(tenantId: string, q: { range: RangeInput; previous: RangeInput | null; unit: string; zone: string | null }): Sql {
  const previous = q.previous ? sql`union all select 1, ${at(q.previous.from)}, ${at(q.previous.to)}` : Prisma.empty;
  const coarsest = q.unit === "month" ? "m" : "d";
  return sql`
    z as (select x.zone, x.zone = x.own as same from (
            select coalesce(${q.zone}::text, t.time_zone) as zone, t.time_zone as own from tenants t where t.id = ${tenantId}::uuid) x),
    periods as (select 0 as p, ${at(q.range.from)} as lo, ${at(q.range.to)} as hi ${previous}),
    b as (select per.p, x.idx, x.lo, x.hi, x.partial from periods per cross join lateral analytics_buckets(per.lo, per.hi, ${q.unit}, (select zone from z)) x),
    ends as (select b.p, min(b.idx) as f, max(b.idx) as l from b group by b.p),
    pieces as (
      select b.p, c.grain, c.lo, c.hi
        from b join ends e on e.p = b.p and b.idx in (e.f, e.l)
        cross join lateral analytics_cover(${tenantId}::uuid, b.lo, b.hi, ${coarsest}) c
       where ${q.unit} <> 'hour' and (select same from z)
      union all
      select e.p, c.grain, c.lo, c.hi
        from ends e join b f on f.p = e.p and f.idx = e.f join b l on l.p = e.p and l.idx = e.l
        cross join lateral analytics_cover(${tenantId}::uuid, f.hi, l.lo, ${coarsest}) c
       where ${q.unit} <> 'hour' and (select same from z) and f.hi < l.lo
      union all
      select w.p, w.grain, min(w.lo), max(w.hi) from (
        select v.*, sum(v.brk) over (partition by v.p, v.grain order by v.lo) as island from (
          select e.*, case when lag(e.hi) over (partition by e.p, e.grain order by e.lo) = e.lo then 0 else 1 end as brk
            from (select b.p, x.grain, x.lo, x.hi
                    from b
                    cross join lateral (select to_timestamp(ceil(extract(epoch from b.lo) / 3600) * 3600) as a,
                                               to_timestamp(floor(extract(epoch from b.hi) / 3600) * 3600) as f) k
                    cross join lateral (values ('h'::text, k.a, k.f),
                                               ('s', b.lo, case when k.a < k.f then k.a else b.hi end),
                                               ('s', case when k.a < k.f then k.f else b.hi end, b.hi)) x(grain, lo, hi)
                   where x.lo < x.hi and not (${q.unit} <> 'hour' and (select same from z))) e) v) w
       group by w.p, w.grain, w.island),
    starts as (select b.p, array_agg(b.lo order by b.idx) as los from b group by b.p)`;
}

/**
 * The series bucket (idx) holding a rollup row that starts at \`bucket\`: a binary search of its period's
 * bucket starts (CTE starts: p, los), as width_bucket does for a sorted array. Rows lie within one bucket
 * by seriesBuckets, so the last start at or before the row's is its bucket.
 */
export function bucketIndex(bucket: Sql): Sql {
  return sql`width_bucket(${bucket}, s.los) - 1`;
}

// ---------------------------------------------------------------------------------------------------
// Breakdown: cells [key, type, events, credentials] of one dimension over the range.

export interface BreakdownSqlRow extends Checked {
  cells: [string, string, number, number][];
  labels: Labels;
}

export async function breakdownQuery(
  db: Db,
  tenantId: string,
  q: { range: RangeInput; by: BreakdownDimension; types: string[]; filter: AnalyticsFilter },
): Promise<BreakdownSqlRow> {
  const dimension = BREAKDOWN_DIMENSIONS[q.by];
  const value = eventDimension(q.filter).value; // bulkJobId / locale only reach here with their own dimension
  const labelKind = q.by === "TEMPLATE" ? "template" : q.by === "BULK_JOB" ? "bulkJob" : null;
  return run<BreakdownSqlRow>(db, sql`
    with cells as (
      select r.value as key, r.type::text as type, ${machineColumns(q.filter)}
        from ${coveredRows(tenantId, "analytics_event_rollups", at(q.range.from), at(q.range.to),
                           sql`and r.dimension = ${dimension} ${typeCondition(q.types)} ${value} ${templateCondition(tenantId, q.filter)}`)}
       group by 1, 2)
    select ${checkedColumns(tenantId, q.filter)},
      (select coalesce(json_agg(json_build_array(key, type, events, credentials)), '[]') from cells) as cells,
      ${labelsColumn(tenantId, labelKind, sql`select key from cells`)}`);
}

// ---------------------------------------------------------------------------------------------------
// Top templates: per template, events and credentials of one type.

export interface TopTemplatesSqlRow extends Checked {
  cells: [string, number, number][];
  templates: Record<string, TemplateJson>;
}

export async function topTemplatesQuery(
  db: Db,
  tenantId: string,
  q: { range: RangeInput; type: string; filter: AnalyticsFilter },
): Promise<TopTemplatesSqlRow> {
  const { dimension, value } = eventDimension(q.filter);
  return run<TopTemplatesSqlRow>(db, sql`
    with cells as (
      select r.template_id::text as key, ${machineColumns(q.filter)}
        from ${coveredRows(tenantId, "analytics_event_rollups", at(q.range.from), at(q.range.to),
                           sql`and r.dimension = ${dimension} and r.type = ${q.type}::engagement_type ${value} ${templateCondition(tenantId, q.filter)}`)}
       group by 1)
    select ${checkedColumns(tenantId, q.filter)},
      (select coalesce(json_agg(json_build_array(key, events, credentials)), '[]') from cells) as cells,
      ${templatesColumn(tenantId, sql`select key from cells`)}`);
}

/** Funnel stage sums of `cells(g, mask, n)` as two JSON arrays in FUNNEL_STAGES order: reached (mask >= bit), reached directly. */
export function funnelStageArrays(): Sql {
  const reached = FUNNEL_STAGES.map((s) =>
    s.bit === 0 ? sql`coalesce(sum(n), 0)::int8` : sql`coalesce(sum(n) filter (where mask >= ${Prisma.raw(String(s.bit))}), 0)::int8`,
  );
  const direct = FUNNEL_STAGES.map((s) =>
    s.bit === 0 ? sql`coalesce(sum(n), 0)::int8` : sql`coalesce(sum(n) filter (where mask & ${Prisma.raw(String(s.bit))} <> 0), 0)::int8`,
  );
  return sql`json_build_array(${Prisma.join(reached)}) as reached, json_build_array(${Prisma.join(direct)}) as direct`;
}
