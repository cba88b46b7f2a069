// What the analytics downloads contain (issue 9, item 5): each analytics result as CSV rows (the same
// numbers the GraphQL operation answered, one row per stage / bucket x type / row x type), and the
// anonymised event stream, read with a cursor in the caller's tenant transaction. Aggregates and
// event facts only: never a credential, recipient, message or IP column.
import { encodeGlobalID } from "@pothos/plugin-relay";
import { parse, Kind, type OperationDefinitionNode } from "graphql";
import type postgres from "postgres";
import * as sdk from "../../sdk/generated.js";
import { resultCsv } from "../bulk/download.js";

type Json = Record<string, any>; // a GraphQL result object, as the operation selected it
type Cell = string | number | boolean | null | undefined;

export interface ResultExport {
  /** The Query field (and so the operation in schema/operations/analytics.graphql) it runs. */
  field: string;
  columns: string[];
  /** The field's value (its success branch) as CSV rows, in `columns` order. */
  rows(value: Json): Cell[][];
}

const count = (c: Json): Cell[] => [c.type, c.events, c.credentials, c.suppressed];
const rates = ["deliveredRate", "bouncedRate", "complainedRate", "failedRate"];
const outcomes = ["messages", "delivered", "bounced", "complained", "failed", "pending", "stored", "sent"];
const deliveryRow = (r: Json): Cell[] => [r.key, r.label, ...outcomes.map((k) => r[k]), ...rates.map((k) => r[k]), r.suppressed];
const templateOf = (r: Json): Cell[] => [r.template?.id, r.label ?? r.template?.name];

/**
 * The six result exports, by URL name. Columns (README, "Analytics: what each number means"):
 * - funnel: scope (total | group), group_key, group_label, stage, credentials, reached_directly,
 *   rate_from_previous, rate_from_issued, suppressed; one row per stage, overall then per group.
 * - time-series: period (current | previous), kind (bucket | total), start, end, partial, type, events,
 *   credentials, suppressed; one row per bucket and type, then the totals per type (start and end of
 *   the period's range).
 * - breakdown: key, label, type, events, credentials, suppressed; one row per group and type.
 * - top-templates: rank, template_id, template_name, events, credentials, suppressed.
 * - latency: scope (overall | template), template_id, template_name, measure (first_view | first_share),
 *   credentials, median_seconds, p90_seconds, suppressed.
 * - delivery-health: kind (total | bucket), start, end, key, label, messages, delivered, bounced,
 *   complained, failed, pending, stored, sent, delivered_rate, bounced_rate, complained_rate,
 *   failed_rate, suppressed; the rows over the whole range, then each bucket's (with an interval).
 */
export const RESULT_EXPORTS: Record<string, ResultExport> = {
  funnel: {
    field: "engagementFunnel",
    columns: ["scope", "group_key", "group_label", "stage", "credentials", "reached_directly", "rate_from_previous", "rate_from_issued", "suppressed"],
    rows: (v) => {
      const stage = (s: Json): Cell[] => [s.stage, s.credentials, s.reachedDirectly, s.rateFromPrevious, s.rateFromIssued, s.suppressed];
      return [
        ...(v.stages ?? []).map((s: Json) => ["total", "", "", ...stage(s)]),
        ...(v.groups ?? []).flatMap((g: Json) => (g.stages ?? []).map((s: Json) => ["group", g.key, g.label, ...stage(s)])),
      ];
    },
  },
  "time-series": {
    field: "engagementTimeSeries",
    columns: ["period", "kind", "start", "end", "partial", "type", "events", "credentials", "suppressed"],
    rows: (v) => {
      const period = (name: string, p: Json | null | undefined, from: Cell, to: Cell): Cell[][] => [
        ...(p?.buckets ?? []).flatMap((b: Json) => (b.counts ?? []).map((c: Json) => [name, "bucket", b.start, b.end, b.partial, ...count(c)])),
        ...(p?.totals ?? []).map((c: Json) => [name, "total", from, to, "", ...count(c)]),
      ];
      const buckets: Json[] = v.buckets ?? [];
      return [...period("current", v, buckets[0]?.start, buckets.at(-1)?.end), ...period("previous", v.previous, v.previous?.from, v.previous?.to)];
    },
  },
  breakdown: {
    field: "engagementBreakdown",
    columns: ["key", "label", "type", "events", "credentials", "suppressed"],
    rows: (v) => (v.rows ?? []).flatMap((r: Json) => (r.counts ?? []).map((c: Json) => [r.key, r.label, ...count(c)])),
  },
  "top-templates": {
    field: "topTemplates",
    columns: ["rank", "template_id", "template_name", "events", "credentials", "suppressed"],
    rows: (v) => (v.rankings ?? []).map((r: Json, i: number) => [i + 1, ...templateOf(r), r.events, r.credentials, r.suppressed]),
  },
  latency: {
    field: "engagementLatency",
    columns: ["scope", "template_id", "template_name", "measure", "credentials", "median_seconds", "p90_seconds", "suppressed"],
    rows: (v) => {
      const row = (scope: string, r: Json): Cell[][] => [
        ["first_view", r.toFirstView],
        ["first_share", r.toFirstShare],
      ].filter(([, s]) => s).map(([measure, s]) => [scope, ...(scope === "overall" ? ["", ""] : templateOf(r)), measure, s.credentials, s.medianSeconds, s.p90Seconds, s.suppressed]);
      return [...(v.overall ? row("overall", v.overall) : []), ...(v.templates ?? []).flatMap((r: Json) => row("template", r))];
    },
  },
  "delivery-health": {
    field: "deliveryHealth",
    columns: ["kind", "start", "end", "key", "label", ...outcomes, "delivered_rate", "bounced_rate", "complained_rate", "failed_rate", "suppressed"],
    rows: (v) => [
      ...(v.rows ?? []).map((r: Json) => ["total", "", "", ...deliveryRow(r)]),
      ...(v.buckets ?? []).flatMap((b: Json) => (b.rows ?? []).map((r: Json) => ["bucket", b.start, b.end, ...deliveryRow(r)])),
    ],
  },
};

/** CSV of a header and rows, formula-safe as the bulk result CSV is (bulk/download.ts resultCsv). */
export function toCsv(columns: string[] | null, rows: Cell[][]): string {
  const lines = rows.map((r) => r.map((c) => (c === null || c === undefined ? "" : String(c))));
  return resultCsv(columns ? [columns, ...lines] : lines);
}

let operations: Map<string, { query: string; operationName: string }> | undefined;

/**
 * The SDK's operation (schema/operations/*.graphql, compiled into src/sdk/generated.ts) whose one root
 * field is `field`, so an export runs exactly what an SDK caller would. Undefined if there is none.
 */
export function operationFor(field: string): { query: string; operationName: string } | undefined {
  if (!operations) {
    operations = new Map();
    for (const value of Object.values(sdk)) {
      if (!(value instanceof String)) continue;
      const query = value.toString();
      let definitions;
      try {
        definitions = parse(query).definitions;
      } catch {
        continue;
      }
      for (const d of definitions) {
        if (d.kind !== Kind.OPERATION_DEFINITION || d.operation !== "query" || !d.name) continue;
        const fields = (d as OperationDefinitionNode).selectionSet.selections.filter((s) => s.kind === Kind.FIELD && s.name.value !== "__typename");
        if (fields.length === 1 && fields[0]!.kind === Kind.FIELD && !operations.has(fields[0]!.name.value)) {
          operations.set(fields[0]!.name.value, { query, operationName: d.name.value });
        }
      }
    }
  }
  return operations.get(field);
}

export const EVENT_COLUMNS = ["occurred_at", "type", "template_id", "bulk_job_id", "locale", "channel", "network", "format", "device_class", "machine"] as const;
export type EventRecord = Record<(typeof EVENT_COLUMNS)[number], string | boolean | null>;

interface EventRow {
  occurred_at: Date;
  type: string;
  template_id: string | null;
  bulk_job_id: string | null;
  locale: string | null;
  channel: string;
  network: string | null;
  format: string | null;
  device_class: string;
  machine: boolean;
}

/**
 * Streams the tenant's engagement events with occurred_at in [from, to), in time order, `batch` rows at
 * a time (a server-side cursor: memory stays flat whatever the range), to `write`, which may wait for
 * the client. Run inside the caller's tenant transaction (RLS applies). Template and bulk job are global
 * ids; bulk job and locale come from the event's credential, so they are null for events stored
 * without one (recipients who withheld tracking consent or are restricted). No credential, recipient,
 * message or IP column is read.
 */
export async function streamEvents(
  tx: postgres.TransactionSql,
  tenantId: string,
  range: { from: Date; to: Date },
  write: (rows: EventRecord[]) => Promise<void>,
  batch = 2_000,
): Promise<number> {
  let n = 0;
  const cursor = tx<EventRow[]>`
    select e.occurred_at, e.type::text as type, e.template_id, c.bulk_job_id, r.locale, e.channel, e.network, e.format,
           e.ua_class as device_class, e.machine
      from engagement_events e
      left join credentials c on c.tenant_id = e.tenant_id and c.id = e.credential_id
      left join recipients r on r.tenant_id = c.tenant_id and r.id = c.recipient_id
     where e.tenant_id = ${tenantId} and e.occurred_at >= ${range.from} and e.occurred_at < ${range.to}
     order by e.occurred_at, e.id`.cursor(batch);
  for await (const rows of cursor) {
    n += rows.length;
    await write(
      rows.map((r) => ({
        occurred_at: r.occurred_at.toISOString(),
        type: r.type.toUpperCase(), // as GraphQL spells EngagementType
        template_id: r.template_id && encodeGlobalID("Template", r.template_id),
        bulk_job_id: r.bulk_job_id && encodeGlobalID("BulkJob", r.bulk_job_id),
        locale: r.locale,
        channel: r.channel,
        network: r.network,
        format: r.format,
        device_class: r.device_class,
        machine: r.machine,
      })),
    );
  }
  return n;
}
