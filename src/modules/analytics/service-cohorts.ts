// Analytics verbs over credentials by issue time and over credential emails: the funnel, latency to
// first view / share, and delivery health. Same pattern as service.ts: check, one statement, suppress.
import type { Db } from "../../db/tenant-transaction.js";
import { checkHourBuckets, checkTimeZone, exactHourBuckets, type FilterInput, type RangeInput } from "./inputs.js";
import { keyOf, labelOf, rate, templateRefOf, toCount, type TemplateRef } from "./results.js";
import { deliveryQuery, funnelQuery, latencyQuery, type DeliveryGroupBy, type FunnelGroupBy } from "./sql-cohorts.js";
import { DELIVERY_OUTCOMES, FUNNEL_STAGES, INTERVAL_UNITS, isSuppressed, latencyBinUpperSeconds, type AnalyticsInterval, type DeliveryOutcome, type FunnelStageName } from "./stages.js";
import { begin, finish } from "./service.js";

export interface FunnelStage {
  stage: FunnelStageName;
  credentials: number | null;
  reachedDirectly: number | null;
  rateFromPrevious: number | null;
  rateFromIssued: number | null;
  suppressed: boolean;
}
export interface FunnelGroup {
  key: string;
  label: string | null;
  stages: FunnelStage[];
}

function stagesOf(reached: unknown[], direct: unknown[], k: number): FunnelStage[] {
  const counts = reached.map(toCount);
  return FUNNEL_STAGES.map((s, i) => {
    const credentials = counts[i]!;
    if (isSuppressed(credentials, k)) {
      return { stage: s.name, credentials: null, reachedDirectly: null, rateFromPrevious: null, rateFromIssued: null, suppressed: true };
    }
    // reachedDirectly counts distinct credentials too: below k it is hidden on its own (null), though
    // the stage's credentials, which can prove k, stay shown.
    const reachedDirectly = toCount(direct[i]);
    return {
      stage: s.name,
      credentials,
      reachedDirectly: isSuppressed(reachedDirectly, k) ? null : reachedDirectly,
      rateFromPrevious: i === 0 ? null : rate(credentials, counts[i - 1]!),
      rateFromIssued: rate(credentials, counts[0]!),
      suppressed: false,
    };
  });
}

/**
 * The funnel over the cohort of credentials issued in [from, to) matching the filter and `statuses`
 * (FUNNEL_DEFINITION in stages.ts), overall and per `groupBy` value (keys: Template / BulkJob global
 * ids, "" for issued one by one; a locale; a status). Groups with no credential are left out; groups
 * are ordered by issued, largest first, hidden ones last, then key.
 */
export async function engagementFunnel(
  db: Db,
  tenantId: string,
  input: { range: RangeInput; filter?: FilterInput | null; statuses?: readonly string[] | null; groupBy?: FunnelGroupBy | null },
): Promise<{ stages: FunnelStage[]; groups: FunnelGroup[] }> {
  const { problems, filter } = begin(input.range, input.filter, { bulkJobId: true, locale: true, includeMachine: true, why: "" });
  if (input.statuses && input.statuses.length === 0) problems.add(["statuses"], "Give at least one status, or leave statuses out for all");
  problems.throwIfAny();
  const groupBy = input.groupBy ?? null;
  const row = await funnelQuery(db, tenantId, { range: input.range, filter, statuses: input.statuses ? [...input.statuses] : null, groupBy });
  const k = finish(row, filter, problems);
  const overall = row.groups.find((g) => g[0] === null);
  const stages = stagesOf(overall?.[1] ?? FUNNEL_STAGES.map(() => 0), overall?.[2] ?? FUNNEL_STAGES.map(() => 0), k);
  const kind = groupBy === "TEMPLATE" ? "template" : groupBy === "BULK_JOB" ? "bulkJob" : null;
  const groups = row.groups
    .filter((g): g is [string, number[], number[]] => g[0] !== null && toCount(g[1][0]) > 0)
    .map(([value, reached, direct]) => ({ key: keyOf(kind, value), label: labelOf(kind, value, row.labels), stages: stagesOf(reached, direct, k) }))
    .sort((a, b) => (b.stages[0]!.credentials ?? -1) - (a.stages[0]!.credentials ?? -1) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return { stages, groups };
}

export interface LatencyStats {
  credentials: number | null;
  medianSeconds: number | null;
  p90Seconds: number | null;
  suppressed: boolean;
}
export interface LatencyRow extends TemplateRef {
  toFirstView: LatencyStats;
  toFirstShare: LatencyStats;
}

function latencyStats(stat: [unknown, number | null, number | null] | undefined, k: number): LatencyStats {
  const credentials = toCount(stat?.[0] ?? 0);
  if (isSuppressed(credentials, k)) return { credentials: null, medianSeconds: null, p90Seconds: null, suppressed: true };
  const seconds = (bin: number | null | undefined) => (credentials > 0 && bin != null ? latencyBinUpperSeconds(bin) : null);
  return { credentials, medianSeconds: seconds(stat?.[1]), p90Seconds: seconds(stat?.[2]), suppressed: false };
}

/**
 * Seconds from issue to people's first view and first share for credentials issued in the range
 * (LATENCY_DEFINITION in stages.ts), overall and per template that has any measurement (by name).
 * Filter: templateIds and tag only.
 */
export async function engagementLatency(
  db: Db,
  tenantId: string,
  input: { range: RangeInput; filter?: FilterInput | null },
): Promise<{ overall: LatencyRow; templates: LatencyRow[] }> {
  const { problems, filter } = begin(input.range, input.filter, {
    bulkJobId: false, locale: false, includeMachine: false, why: "latency is kept per template, from people's events only",
  });
  problems.throwIfAny();
  const row = await latencyQuery(db, tenantId, { range: input.range, filter });
  const k = finish(row, filter, problems);
  const byTemplate = new Map<string | null, Map<string, [number, number | null, number | null]>>();
  for (const [template, stage, total, median, p90] of row.stats) {
    if (!byTemplate.has(template)) byTemplate.set(template, new Map());
    byTemplate.get(template)!.set(stage, [total, median, p90]);
  }
  const rowOf = (template: string | null): LatencyRow => ({
    ...(template === null ? { template: null, label: null } : templateRefOf(template, row.templates)),
    toFirstView: latencyStats(byTemplate.get(template)?.get("v"), k),
    toFirstShare: latencyStats(byTemplate.get(template)?.get("s"), k),
  });
  const templates = [...byTemplate.keys()]
    .filter((t): t is string => t !== null)
    .map(rowOf)
    .sort((a, b) => (a.label ?? "").localeCompare(b.label ?? "") || String(a.template?.id).localeCompare(String(b.template?.id)));
  return { overall: rowOf(null), templates };
}

export interface DeliveryRow {
  key: string;
  label: string | null;
  messages: number | null;
  /** delivered + complained (a complaint implies delivery) */
  delivered: number | null;
  bounced: number | null;
  complained: number | null;
  failed: number | null;
  pending: number | null;
  stored: number | null;
  sent: number | null;
  deliveredRate: number | null;
  bouncedRate: number | null;
  complainedRate: number | null;
  failedRate: number | null;
  suppressed: boolean;
}
export interface DeliveryBucket {
  start: Date;
  end: Date;
  partial: boolean;
  rows: DeliveryRow[];
}

function deliveryRows(cells: [string, string, unknown][], groupBy: DeliveryGroupBy, labels: Record<string, string>, k: number): DeliveryRow[] {
  const groups = new Map<string, Record<DeliveryOutcome, number>>();
  if (groupBy === "NONE") groups.set("", Object.fromEntries(DELIVERY_OUTCOMES.map((o) => [o, 0])) as Record<DeliveryOutcome, number>);
  for (const [g, outcome, n] of cells) {
    if (!groups.has(g)) groups.set(g, Object.fromEntries(DELIVERY_OUTCOMES.map((o) => [o, 0])) as Record<DeliveryOutcome, number>);
    const counts = groups.get(g)!;
    counts[outcome as DeliveryOutcome] = toCount(counts[outcome as DeliveryOutcome] + toCount(n));
  }
  const kind = groupBy === "TEMPLATE" ? "template" : null;
  return [...groups.entries()]
    .map(([g, c]) => {
      const messages = toCount(DELIVERY_OUTCOMES.reduce((sum, o) => sum + c[o], 0));
      const key = groupBy === "NONE" ? "all" : keyOf(kind, g);
      const label = groupBy === "NONE" ? "All credential emails" : labelOf(kind, g, labels);
      if (isSuppressed(messages, k)) {
        return {
          key, label, messages: null, delivered: null, bounced: null, complained: null, failed: null, pending: null, stored: null, sent: null,
          deliveredRate: null, bouncedRate: null, complainedRate: null, failedRate: null, suppressed: true,
        };
      }
      const delivered = c.delivered + c.complained;
      return {
        key, label, messages, delivered, bounced: c.bounced, complained: c.complained, failed: c.failed, pending: c.pending, stored: c.stored,
        sent: c.sent, deliveredRate: rate(delivered, messages), bouncedRate: rate(c.bounced, messages),
        complainedRate: rate(c.complained, messages), failedRate: rate(c.failed, messages), suppressed: false,
      };
    })
    .filter((r) => groupBy === "NONE" || r.suppressed || r.messages! > 0)
    .sort((a, b) => (b.messages ?? -1) - (a.messages ?? -1) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/**
 * Credential emails queued in the range by current outcome (DELIVERY_DEFINITION in stages.ts), as one
 * row (NONE, key "all") or per template / sender domain ("" until sent); with `interval`, the same per
 * calendar bucket in `timeZone` (the tenant's by default; checked, but unused without an interval).
 * Filter: templateIds and tag only.
 */
export async function deliveryHealth(
  db: Db,
  tenantId: string,
  input: { range: RangeInput; groupBy?: DeliveryGroupBy | null; interval?: AnalyticsInterval | null; timeZone?: string | null; filter?: FilterInput | null },
): Promise<{ groupBy: DeliveryGroupBy; rows: DeliveryRow[]; buckets: DeliveryBucket[] | null }> {
  const { problems, filter } = begin(input.range, input.filter, {
    bulkJobId: false, locale: false, includeMachine: false, why: "delivery health is kept per template and sender domain",
  });
  if (input.interval) checkHourBuckets(input.range, input.interval, problems);
  const zone = await checkTimeZone(db, input.timeZone, problems);
  problems.throwIfAny();
  if (input.interval) checkHourBuckets(input.range, input.interval, problems, await exactHourBuckets(db, tenantId, input.range, input.interval, zone));
  problems.throwIfAny();
  const groupBy = input.groupBy ?? "NONE";
  const unit = input.interval ? INTERVAL_UNITS[input.interval] : null;
  const row = await deliveryQuery(db, tenantId, { range: input.range, filter, groupBy, unit, zone });
  if (input.interval) checkHourBuckets(input.range, input.interval, problems, row.buckets!.length);
  const k = finish(row, filter, problems);
  const cellsByBucket = new Map<number, [string, string, unknown][]>();
  for (const [idx, g, outcome, n] of row.bucketCells ?? []) {
    if (!cellsByBucket.has(idx)) cellsByBucket.set(idx, []);
    cellsByBucket.get(idx)!.push([g, outcome, n]);
  }
  const buckets = row.buckets?.map(([idx, lo, hi, partial]) => ({
    start: new Date(lo),
    end: new Date(hi),
    partial,
    rows: deliveryRows(cellsByBucket.get(idx) ?? [], groupBy, row.labels, k),
  }));
  return { groupBy, rows: deliveryRows(row.cells, groupBy, row.labels, k), buckets: buckets ?? null };
}
