// Analytics SQL: each operation is one statement over the four *_rollups tables (plus tenants,
// templates, template_versions and bulk_jobs for settings, labels, tags and id checks), run on the
// request's transaction so RLS applies; every statement also names the tenant. Ranges are read through
// analytics_cover() and series through analytics_buckets() (sql/021). Sums are cast to int8.
import type { Db } from "../../db/tenant-transaction.js";
import { Prisma } from "../../generated/prisma/client.js";
import type { AnalyticsFilter, RangeInput } from "./inputs.js";
import { BREAKDOWN_DIMENSIONS, FUNNEL_STAGES, type BreakdownDimension } from "./stages.js";

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

export const uuid = (v: string) => sql`${v}::uuid`;

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

/** analytics_cover() pieces of [from, to) joined to a rollup table as `r`. */
export function coveredRows(tenantId: string, table: string, from: Sql, to: Sql, extraOn: Sql = Prisma.empty): Sql {
  return sql`analytics_cover(${tenantId}::uuid, ${from}, ${to}) c
    join ${Prisma.raw(table)} r on r.tenant_id = ${tenantId}::uuid ${extraOn} and r.grain = c.grain and r.bucket >= c.lo and r.bucket < c.hi`;
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
  const { dimension, value } = eventDimension(q.filter);
  const zone = sql`(select zone from z)`;
  const previous = q.previous
    ? sql`union all select 1, x.idx, x.lo, x.hi from analytics_buckets(${at(q.previous.from)}, ${at(q.previous.to)}, ${q.unit}, ${zone}) x`
    : Prisma.empty;
  // An hour (of any zone) is never a whole day or month: its cover is its 15-minute slots.
  const pieces =
    q.unit === "hour"
      ? sql`join analytics_event_rollups r on r.tenant_id = ${tenantId}::uuid and r.dimension = ${dimension} and r.grain = 's'
              and r.bucket >= b.lo and r.bucket < b.hi`
      : sql`cross join lateral ${coveredRows(tenantId, "analytics_event_rollups", sql`b.lo`, sql`b.hi`, sql`and r.dimension = ${dimension}`)}`;
  const [row] = await db.$queryRaw<SeriesRow[]>(sql`
    with z as (select coalesce(${q.zone}::text, (select t.time_zone from tenants t where t.id = ${tenantId}::uuid)) as zone),
    b as (select 0 as p, x.idx, x.lo, x.hi from analytics_buckets(${at(q.range.from)}, ${at(q.range.to)}, ${q.unit}, ${zone}) x ${previous}),
    cells as (
      select b.p, b.idx, r.type::text as type, ${machineColumns(q.filter)}
        from b ${pieces}
       where r.type = any(${q.types}::engagement_type[]) ${value} ${templateCondition(tenantId, q.filter)}
       group by 1, 2, 3)
    select ${checkedColumns(tenantId, q.filter)}, (select zone from z) as zone,
      (select json_agg(json_build_array(b.p, b.idx, b.lo, b.hi,
                 date_trunc(${q.unit}, b.lo, z.zone) <> b.lo or date_trunc(${q.unit}, b.hi, z.zone) <> b.hi) order by b.p, b.idx)
         from b, z) as buckets,
      (select coalesce(json_agg(json_build_array(p, idx, type, events, credentials)), '[]') from cells) as cells`);
  return row!;
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
  const [row] = await db.$queryRaw<BreakdownSqlRow[]>(sql`
    with cells as (
      select r.value as key, r.type::text as type, ${machineColumns(q.filter)}
        from ${coveredRows(tenantId, "analytics_event_rollups", at(q.range.from), at(q.range.to), sql`and r.dimension = ${dimension}`)}
       where r.type = any(${q.types}::engagement_type[]) ${value} ${templateCondition(tenantId, q.filter)}
       group by 1, 2)
    select ${checkedColumns(tenantId, q.filter)},
      (select coalesce(json_agg(json_build_array(key, type, events, credentials)), '[]') from cells) as cells,
      ${labelsColumn(tenantId, labelKind, sql`select key from cells`)}`);
  return row!;
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
  const [row] = await db.$queryRaw<TopTemplatesSqlRow[]>(sql`
    with cells as (
      select r.template_id::text as key, ${machineColumns(q.filter)}
        from ${coveredRows(tenantId, "analytics_event_rollups", at(q.range.from), at(q.range.to), sql`and r.dimension = ${dimension}`)}
       where r.type = ${q.type}::engagement_type ${value} ${templateCondition(tenantId, q.filter)}
       group by 1)
    select ${checkedColumns(tenantId, q.filter)},
      (select coalesce(json_agg(json_build_array(key, events, credentials)), '[]') from cells) as cells,
      ${templatesColumn(tenantId, sql`select key from cells`)}`);
  return row!;
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
