// Analytics over GraphQL (issue 9): the result types and the six queries. Aggregates only: keys are
// Template / BulkJob global ids or dimension values, never a person. Definitions come from stages.ts.
import type { EnumRef } from "@pothos/core";
import { builder } from "../../builder.js";
import { ValidationError } from "../../errors.js";
import type { EngagementType } from "../engagement/ingest.js";
import { TemplateRef } from "../templates/schema.js";
import type { TypeCount } from "./results.js";
import { deliveryHealth, engagementFunnel, engagementLatency, type DeliveryBucket, type DeliveryRow, type FunnelGroup, type FunnelStage, type LatencyRow, type LatencyStats } from "./service-cohorts.js";
import { engagementBreakdown, engagementTimeSeries, topTemplates, type BreakdownRow, type TemplateRanking, type TimeBucket, type TimeSeries, type TimeSeriesPeriod } from "./service.js";
import {
  BREAKDOWN_DIMENSIONS, DELIVERY_DEFINITION, EVENTS_DEFINITION, FUNNEL_DEFINITION, FUNNEL_STAGES, INTERVAL_UNITS, LATENCY_DEFINITION,
  SUPPRESSION_DEFINITION, TOP_TEMPLATE_MEASURES,
} from "./stages.js";

// EngagementType (engagement module) and CredentialStatus (credentials module) are referenced by name:
// Pothos resolves a type name to the type its module defined.
type Types = typeof builder extends PothosSchemaTypes.SchemaBuilder<infer T> ? T : never;
const EngagementTypeEnum = "EngagementType" as unknown as EnumRef<Types, EngagementType, EngagementType>;
const CredentialStatusEnum = "CredentialStatus" as unknown as EnumRef<Types, string, string>;

const keysOf = <T extends object>(o: T) => Object.keys(o) as (keyof T & string)[];
const FunnelStageNameEnum = builder.enumType("FunnelStageName", { values: FUNNEL_STAGES.map((s) => s.name) });
const FunnelGroupByEnum = builder.enumType("FunnelGroupBy", { values: ["TEMPLATE", "BULK_JOB", "LOCALE", "STATUS"] as const });
const IntervalEnum = builder.enumType("AnalyticsInterval", { values: keysOf(INTERVAL_UNITS) });
const DimensionEnum = builder.enumType("BreakdownDimension", { values: keysOf(BREAKDOWN_DIMENSIONS) });
const MeasureEnum = builder.enumType("AnalyticsMeasure", { values: ["EVENTS", "CREDENTIALS"] as const });
const TopMeasureEnum = builder.enumType("TopTemplatesMeasure", {
  description: "VIEWS page_viewed, SHARES shared (not LinkedIn adds), LINKEDIN_ADDS linkedin_added, VERIFICATIONS verified",
  values: keysOf(TOP_TEMPLATE_MEASURES),
});
const DeliveryGroupByEnum = builder.enumType("DeliveryGroupBy", { values: ["NONE", "TEMPLATE", "SENDER_DOMAIN"] as const });

const RangeInput = builder.inputType("AnalyticsRangeInput", {
  description: "[from, to): both on a 15-minute UTC boundary, to after from, at most 1,096 days",
  fields: (t) => ({ from: t.field({ type: "DateTime", required: true }), to: t.field({ type: "DateTime", required: true }) }),
});
const FilterInput = builder.inputType("AnalyticsFilterInput", {
  fields: (t) => ({
    templateIds: t.idList({ description: "The tenant's Template ids (global ids)" }),
    tag: t.string({ description: "Templates whose current version has this tag" }),
    bulkJobId: t.id({ description: "The tenant's BulkJob id (global id)" }),
    locale: t.string({ description: "Recipients' locale, as stored" }),
    includeMachine: t.boolean({ description: "Count machines' events (mail proxies, link scanners, bots) too" }),
  }),
});
const OrderInput = builder.inputType("BreakdownOrderInput", {
  fields: (t) => ({ type: t.field({ type: EngagementTypeEnum, required: true }), measure: t.field({ type: MeasureEnum, required: true }) }),
});

const FunnelStageRef = builder.objectRef<FunnelStage>("FunnelStage").implement({
  description: FUNNEL_DEFINITION,
  fields: (t) => ({
    stage: t.field({ type: FunnelStageNameEnum, resolve: (s) => s.stage }),
    credentials: t.exposeInt("credentials", { nullable: true }),
    reachedDirectly: t.exposeInt("reachedDirectly", {
      nullable: true,
      description: "Credentials whose own events (or delivery) set this stage; null when below minimumGroupSize, even in a stage that is shown",
    }),
    rateFromPrevious: t.exposeFloat("rateFromPrevious", { nullable: true }),
    rateFromIssued: t.exposeFloat("rateFromIssued", { nullable: true }),
    suppressed: t.exposeBoolean("suppressed", { description: SUPPRESSION_DEFINITION }),
  }),
});
const FunnelGroupRef = builder.objectRef<FunnelGroup>("FunnelGroup").implement({
  fields: (t) => ({
    key: t.exposeString("key", { description: "A Template / BulkJob global id (\"\" for issued one by one), a locale or a status" }),
    label: t.exposeString("label", { nullable: true }),
    stages: t.field({ type: [FunnelStageRef], resolve: (g) => g.stages }),
  }),
});
const FunnelRef = builder.objectRef<{ stages: FunnelStage[]; groups: FunnelGroup[] }>("EngagementFunnel").implement({
  description: FUNNEL_DEFINITION,
  fields: (t) => ({
    stages: t.field({ type: [FunnelStageRef], resolve: (f) => f.stages }),
    groups: t.field({ type: [FunnelGroupRef], resolve: (f) => f.groups }),
  }),
});

const TypeCountRef = builder.objectRef<TypeCount>("EngagementTypeCount").implement({
  description: EVENTS_DEFINITION,
  fields: (t) => ({
    type: t.field({ type: EngagementTypeEnum, resolve: (c) => c.type }),
    events: t.exposeInt("events", { nullable: true }),
    credentials: t.exposeInt("credentials", { nullable: true }),
    suppressed: t.exposeBoolean("suppressed", { description: SUPPRESSION_DEFINITION }),
  }),
});
const TimeBucketRef = builder.objectRef<TimeBucket>("TimeBucket").implement({
  fields: (t) => ({
    start: t.expose("start", { type: "DateTime" }),
    end: t.expose("end", { type: "DateTime" }),
    partial: t.exposeBoolean("partial", { description: "The range cuts this calendar bucket short: start and end are the range's part of it" }),
    counts: t.field({ type: [TypeCountRef], resolve: (b) => b.counts }),
  }),
});
const PeriodRef = builder.objectRef<TimeSeriesPeriod>("EngagementTimeSeriesPeriod").implement({
  fields: (t) => ({
    from: t.expose("from", { type: "DateTime" }),
    to: t.expose("to", { type: "DateTime" }),
    buckets: t.field({ type: [TimeBucketRef], resolve: (p) => p.buckets }),
    totals: t.field({ type: [TypeCountRef], resolve: (p) => p.totals }),
  }),
});
const TimeSeriesRef = builder.objectRef<TimeSeries>("EngagementTimeSeries").implement({
  description: EVENTS_DEFINITION,
  fields: (t) => ({
    interval: t.field({ type: IntervalEnum, resolve: (s) => s.interval }),
    timeZone: t.exposeString("timeZone"),
    buckets: t.field({ type: [TimeBucketRef], resolve: (s) => s.buckets }),
    totals: t.field({ type: [TypeCountRef], resolve: (s) => s.totals }),
    previous: t.field({ type: PeriodRef, nullable: true, description: "The same over [from - (to - from), from)", resolve: (s) => s.previous }),
  }),
});

const BreakdownRowRef = builder.objectRef<BreakdownRow>("BreakdownRow").implement({
  fields: (t) => ({
    key: t.exposeString("key", { description: 'A Template / BulkJob global id ("" for none), else the value ("" for none or unknown)' }),
    label: t.exposeString("label", { nullable: true }),
    counts: t.field({ type: [TypeCountRef], resolve: (r) => r.counts }),
    suppressed: t.exposeBoolean("suppressed", { description: "No count of the row reaches minimumGroupSize credentials: all are hidden" }),
  }),
});
const BreakdownRef = builder.objectRef<{ by: keyof typeof BREAKDOWN_DIMENSIONS; rows: BreakdownRow[] }>("EngagementBreakdown").implement({
  description: EVENTS_DEFINITION,
  fields: (t) => ({
    by: t.field({ type: DimensionEnum, resolve: (b) => b.by }),
    rows: t.field({ type: [BreakdownRowRef], resolve: (b) => b.rows }),
  }),
});

const RankingRef = builder.objectRef<TemplateRanking>("TemplateRanking").implement({
  fields: (t) => ({
    template: t.field({ type: TemplateRef, nullable: true, resolve: (r) => r.template as never }),
    label: t.exposeString("label", { nullable: true, description: "The template's current name" }),
    events: t.exposeInt("events", { nullable: true }),
    credentials: t.exposeInt("credentials", { nullable: true }),
    suppressed: t.exposeBoolean("suppressed"),
  }),
});
const TopTemplatesRef = builder.objectRef<Awaited<ReturnType<typeof topTemplates>>>("TopTemplates").implement({
  fields: (t) => ({
    by: t.field({ type: TopMeasureEnum, resolve: (r) => r.by }),
    measure: t.field({ type: MeasureEnum, resolve: (r) => r.measure }),
    rankings: t.field({ type: [RankingRef], resolve: (r) => r.rankings }),
  }),
});

const LatencyStatsRef = builder.objectRef<LatencyStats>("LatencyStats").implement({
  fields: (t) => ({
    credentials: t.exposeInt("credentials", { nullable: true, description: "Credentials measured (with a first view / share by people)" }),
    medianSeconds: t.exposeFloat("medianSeconds", { nullable: true }),
    p90Seconds: t.exposeFloat("p90Seconds", { nullable: true }),
    suppressed: t.exposeBoolean("suppressed"),
  }),
});
const LatencyRowRef = builder.objectRef<LatencyRow>("LatencyRow").implement({
  fields: (t) => ({
    template: t.field({ type: TemplateRef, nullable: true, description: "null for overall", resolve: (r) => r.template as never }),
    label: t.exposeString("label", { nullable: true, description: "The template's current name" }),
    toFirstView: t.field({ type: LatencyStatsRef, resolve: (r) => r.toFirstView }),
    toFirstShare: t.field({ type: LatencyStatsRef, resolve: (r) => r.toFirstShare }),
  }),
});
const LatencyRef = builder.objectRef<{ overall: LatencyRow; templates: LatencyRow[] }>("EngagementLatency").implement({
  description: LATENCY_DEFINITION,
  fields: (t) => ({
    overall: t.field({ type: LatencyRowRef, resolve: (l) => l.overall }),
    templates: t.field({ type: [LatencyRowRef], resolve: (l) => l.templates }),
  }),
});

const DeliveryRowRef = builder.objectRef<DeliveryRow>("DeliveryRow").implement({
  description: DELIVERY_DEFINITION,
  fields: (t) => ({
    key: t.exposeString("key", { description: '"all" (NONE), a Template global id, or a sender domain ("" until sent)' }),
    label: t.exposeString("label", { nullable: true }),
    ...Object.fromEntries(
      (["messages", "delivered", "bounced", "complained", "failed", "pending", "stored", "sent"] as const).map((f) => [f, t.exposeInt(f, { nullable: true })]),
    ),
    ...Object.fromEntries(
      (["deliveredRate", "bouncedRate", "complainedRate", "failedRate"] as const).map((f) => [f, t.exposeFloat(f, { nullable: true })]),
    ),
    suppressed: t.exposeBoolean("suppressed"),
  }),
});
const DeliveryBucketRef = builder.objectRef<DeliveryBucket>("DeliveryBucket").implement({
  fields: (t) => ({
    start: t.expose("start", { type: "DateTime" }),
    end: t.expose("end", { type: "DateTime" }),
    partial: t.exposeBoolean("partial"),
    rows: t.field({ type: [DeliveryRowRef], resolve: (b) => b.rows }),
  }),
});
const DeliveryHealthRef = builder.objectRef<Awaited<ReturnType<typeof deliveryHealth>>>("DeliveryHealth").implement({
  description: DELIVERY_DEFINITION,
  fields: (t) => ({
    groupBy: t.field({ type: DeliveryGroupByEnum, resolve: (d) => d.groupBy }),
    rows: t.field({ type: [DeliveryRowRef], resolve: (d) => d.rows }),
    buckets: t.field({ type: [DeliveryBucketRef], nullable: true, description: "Only with an interval", resolve: (d) => d.buckets }),
  }),
});

const analytics = { $all: { tenant: true, permission: "analytics" } } as const;
const errorsNamed = (name: string) => ({ types: [ValidationError], union: { name } });

builder.queryFields((t) => ({
  engagementFunnel: t.field({
    type: FunnelRef,
    description: FUNNEL_DEFINITION,
    authScopes: analytics,
    errors: errorsNamed("EngagementFunnelResult"),
    args: {
      range: t.arg({ type: RangeInput, required: true }),
      filter: t.arg({ type: FilterInput }),
      statuses: t.arg({ type: [CredentialStatusEnum] }),
      groupBy: t.arg({ type: FunnelGroupByEnum }),
    },
    resolve: (_r, args, ctx) => engagementFunnel(ctx.db, ctx.tenantId!, args),
  }),
  engagementTimeSeries: t.field({
    type: TimeSeriesRef,
    description: EVENTS_DEFINITION,
    authScopes: analytics,
    errors: errorsNamed("EngagementTimeSeriesResult"),
    args: {
      range: t.arg({ type: RangeInput, required: true }),
      interval: t.arg({ type: IntervalEnum, required: true }),
      timeZone: t.arg.string({ description: "IANA time zone of the buckets; the tenant's by default" }),
      types: t.arg({ type: [EngagementTypeEnum] }),
      filter: t.arg({ type: FilterInput, description: "At most one of bulkJobId / locale" }),
      compareWithPreviousPeriod: t.arg.boolean(),
    },
    resolve: (_r, args, ctx) => engagementTimeSeries(ctx.db, ctx.tenantId!, args),
  }),
  engagementBreakdown: t.field({
    type: BreakdownRef,
    description: EVENTS_DEFINITION,
    authScopes: analytics,
    errors: errorsNamed("EngagementBreakdownResult"),
    args: {
      range: t.arg({ type: RangeInput, required: true }),
      by: t.arg({ type: DimensionEnum, required: true }),
      types: t.arg({ type: [EngagementTypeEnum] }),
      filter: t.arg({ type: FilterInput, description: "bulkJobId only when by is BULK_JOB, locale only when by is LOCALE" }),
      orderBy: t.arg({ type: OrderInput }),
      first: t.arg.int({ description: "1 to 100 rows (the page-size limit of every `first`)" }),
    },
    resolve: (_r, args, ctx) => engagementBreakdown(ctx.db, ctx.tenantId!, args),
  }),
  topTemplates: t.field({
    type: TopTemplatesRef,
    authScopes: analytics,
    errors: errorsNamed("TopTemplatesResult"),
    args: {
      range: t.arg({ type: RangeInput, required: true }),
      by: t.arg({ type: TopMeasureEnum, required: true }),
      measure: t.arg({ type: MeasureEnum, required: true }),
      first: t.arg.int({ defaultValue: 10, description: "1 to 100" }),
      filter: t.arg({ type: FilterInput, description: "At most one of bulkJobId / locale" }),
    },
    resolve: (_r, args, ctx) => topTemplates(ctx.db, ctx.tenantId!, args),
  }),
  engagementLatency: t.field({
    type: LatencyRef,
    description: LATENCY_DEFINITION,
    authScopes: analytics,
    errors: errorsNamed("EngagementLatencyResult"),
    args: { range: t.arg({ type: RangeInput, required: true }), filter: t.arg({ type: FilterInput, description: "templateIds and tag only" }) },
    resolve: (_r, args, ctx) => engagementLatency(ctx.db, ctx.tenantId!, args),
  }),
  deliveryHealth: t.field({
    type: DeliveryHealthRef,
    description: DELIVERY_DEFINITION,
    authScopes: analytics,
    errors: errorsNamed("DeliveryHealthResult"),
    args: {
      range: t.arg({ type: RangeInput, required: true }),
      groupBy: t.arg({ type: DeliveryGroupByEnum }),
      interval: t.arg({ type: IntervalEnum }),
      timeZone: t.arg.string({ description: "IANA time zone of the buckets (with interval); the tenant's by default" }),
      filter: t.arg({ type: FilterInput, description: "templateIds and tag only" }),
    },
    resolve: (_r, args, ctx) => deliveryHealth(ctx.db, ctx.tenantId!, args),
  }),
}));
