// Analytics SQL over credentials by issue time and over credential emails: the funnel (cohort
// rollups), latency (histograms) and delivery health. One statement each, as in sql.ts.
import type { Db } from "../../db/tenant-transaction.js";
import { Prisma } from "../../generated/prisma/client.js";
import type { AnalyticsFilter, RangeInput } from "./inputs.js";
import {
  at, bucketIndex, checkedColumns, coveredRows, rollupRows, run, funnelStageArrays, labelsColumn, seriesBuckets, templateCondition, templatesColumn,
  type Checked, type Labels, type TemplateJson,
} from "./sql.js";

const sql = Prisma.sql;

export type FunnelGroupBy = "TEMPLATE" | "BULK_JOB" | "LOCALE" | "STATUS";

// Grouped by the column itself (a uuid or enum hashes faster than its text), cast once per group.
const FUNNEL_GROUP_COLUMNS: Record<FunnelGroupBy, string> = {
  TEMPLATE: "r.template_id",
  BULK_JOB: "r.bulk_job_id",
  LOCALE: "r.locale",
  STATUS: "r.status",
};

export interface FunnelSqlRow extends Checked {
  /** [group key (null: the whole cohort), reached per stage, reached directly per stage] */
  groups: [string | null, number[], number[]][];
  labels: Labels;
}

export async function funnelQuery(
  db: Db,
  tenantId: string,
  q: { range: RangeInput; filter: AnalyticsFilter; statuses: string[] | null; groupBy: FunnelGroupBy | null },
): Promise<FunnelSqlRow> {
  const f = q.filter;
  const mask = Prisma.raw(f.includeMachine ? "r.any_mask" : "r.human_mask");
  const group = q.groupBy ? Prisma.raw(FUNNEL_GROUP_COLUMNS[q.groupBy]) : sql`null::text`;
  // Grouped: the whole cohort is the grouping set (), told apart by grouping(g).
  const groupKey = q.groupBy ? sql`case when grouping(g) = 1 then null else g::text end` : sql`null::text`;
  const sets = q.groupBy ? sql`group by grouping sets ((), (g))` : Prisma.empty;
  const where = [
    templateCondition(tenantId, f),
    f.bulkJobId ? sql`and r.bulk_job_id = ${f.bulkJobId}::uuid` : Prisma.empty,
    f.locale !== null ? sql`and r.locale = ${f.locale}` : Prisma.empty,
    q.statuses ? sql`and r.status = any(${q.statuses}::credential_status[])` : Prisma.empty,
  ];
  const labelKind = q.groupBy === "TEMPLATE" ? "template" : q.groupBy === "BULK_JOB" ? "bulkJob" : null;
  return run<FunnelSqlRow>(db, sql`
    with cells as (
      select ${group} as g, ${mask} as mask, sum(r.credentials)::int8 as n
        from ${coveredRows(tenantId, "analytics_cohort_rollups", at(q.range.from), at(q.range.to), Prisma.join(where, " "))}
       group by 1, 2),
    agg as (
      select ${groupKey} as g, ${funnelStageArrays()}
        from cells ${sets})
    select ${checkedColumns(tenantId, f)},
      (select coalesce(json_agg(json_build_array(g, reached, direct)), '[]') from agg) as groups,
      ${labelsColumn(tenantId, labelKind, sql`select g::text from cells`)}`);
}

export interface LatencySqlRow extends Checked {
  /** [template uuid (null: overall), stage 'v' | 's', credentials measured, median bin, p90 bin] */
  stats: [string | null, "v" | "s", number, number | null, number | null][];
  templates: Record<string, TemplateJson>;
}

/**
 * Per template and overall, per stage: credentials measured and the bins holding the nearest-rank
 * median and p90 (rank ceil(p * n) in float8, exactly as percentile_disc computes it).
 */
export async function latencyQuery(db: Db, tenantId: string, q: { range: RangeInput; filter: AnalyticsFilter }): Promise<LatencySqlRow> {
  return run<LatencySqlRow>(db, sql`
    with h as (
      select grouping(r.template_id) = 1 as overall, r.template_id, r.stage, r.bin, sum(r.credentials)::int8 as n
        from ${coveredRows(tenantId, "analytics_latency_rollups", at(q.range.from), at(q.range.to), templateCondition(tenantId, q.filter))}
       group by grouping sets ((r.stage, r.bin), (r.template_id, r.stage, r.bin))),
    cum as (
      select overall, template_id, stage, bin,
             sum(n) over (partition by overall, template_id, stage order by bin) as c,
             sum(n) over (partition by overall, template_id, stage) as total
        from h where n > 0),
    stats as (
      select overall, template_id, stage, max(total)::int8 as total,
             min(bin) filter (where c >= ceil(0.5::float8 * total::float8)) as median_bin,
             min(bin) filter (where c >= ceil(0.9::float8 * total::float8)) as p90_bin
        from cum group by 1, 2, 3)
    select ${checkedColumns(tenantId, q.filter)},
      (select coalesce(json_agg(json_build_array(case when overall then null else template_id end, stage, total, median_bin, p90_bin)), '[]')
         from stats) as stats,
      ${templatesColumn(tenantId, sql`select template_id::text from stats where not overall`)}`);
}

export type DeliveryGroupBy = "NONE" | "TEMPLATE" | "SENDER_DOMAIN";

const DELIVERY_GROUP_COLUMNS: Record<DeliveryGroupBy, string> = {
  NONE: "''::text",
  TEMPLATE: "r.template_id::text",
  SENDER_DOMAIN: "r.sender_domain",
};

export interface DeliverySqlRow extends Checked {
  zone: string;
  /** [group key, outcome, messages] */
  cells: [string, string, number][];
  /** [idx, lo, hi, partial] when an interval was given */
  buckets: [number, string, string, boolean][] | null;
  /** [bucket idx, group key, outcome, messages] */
  bucketCells: [number, string, string, number][] | null;
  labels: Labels;
}

export async function deliveryQuery(
  db: Db,
  tenantId: string,
  q: { range: RangeInput; filter: AnalyticsFilter; groupBy: DeliveryGroupBy; unit: string | null; zone: string | null },
): Promise<DeliverySqlRow> {
  const group = Prisma.raw(DELIVERY_GROUP_COLUMNS[q.groupBy]);
  const templates = templateCondition(tenantId, q.filter);
  const series = q.unit
    ? sql`,
      bcells as (
        select ${bucketIndex(sql`r.bucket`)} as idx, ${group} as g, r.outcome, sum(r.messages)::int8 as n
          from pieces m join starts s on s.p = m.p
          cross join ${rollupRows(tenantId, "analytics_delivery_rollups", { grain: sql`m.grain`, lo: sql`m.lo`, hi: sql`m.hi` }, templates)}
         group by 1, 2, 3)`
    : Prisma.empty;
  const seriesColumns = q.unit
    ? sql`(select json_agg(json_build_array(b.idx, b.lo, b.hi, b.partial) order by b.idx) from b) as buckets,
          (select coalesce(json_agg(json_build_array(idx, g, outcome, n)), '[]') from bcells) as "bucketCells"`
    : sql`null::json as buckets, null::json as "bucketCells"`;
  const keys = q.unit ? sql`select g from cells union select g from bcells` : sql`select g from cells`;
  return run<DeliverySqlRow>(db, sql`
    with ${seriesBuckets(tenantId, { range: q.range, previous: null, unit: q.unit ?? "day", zone: q.zone })},
    cells as (
      select ${group} as g, r.outcome, sum(r.messages)::int8 as n
        from ${coveredRows(tenantId, "analytics_delivery_rollups", at(q.range.from), at(q.range.to), templates)}
       group by 1, 2) ${series}
    select ${checkedColumns(tenantId, q.filter)}, (select zone from z) as zone,
      (select coalesce(json_agg(json_build_array(g, outcome, n)), '[]') from cells) as cells,
      ${seriesColumns},
      ${labelsColumn(tenantId, q.groupBy === "TEMPLATE" ? "template" : null, keys)}`);
}
