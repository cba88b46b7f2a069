// What each analytics number means, defined once: the SQL built in sql.ts, the GraphQL descriptions in
// schema.ts and the README all read these constants, so a measure means the same thing everywhere.
// The database side of the same definitions is sql/021_engagement_analytics.sql (analytics_stage_bit).
import type { EngagementType } from "../engagement/ingest.js";
import { ENGAGEMENT_TYPES } from "../engagement/service.js";

/** Every engagement event type, in the order analytics answers list them (engagementSummary's order). */
export const ANALYTICS_EVENT_TYPES: readonly EngagementType[] = ENGAGEMENT_TYPES;

export type FunnelStageName = "ISSUED" | "DELIVERED" | "OPENED" | "VIEWED" | "ENGAGED" | "CLAIMED" | "VERIFIED";

export interface FunnelStageDefinition {
  name: FunnelStageName;
  /** The stage's bit in a credential's mask (0 for ISSUED: every credential of the cohort). */
  bit: number;
  /** Event types that set the bit; DELIVERED is set by a credential email's delivery, not by an event. */
  eventTypes: readonly EngagementType[];
  description: string;
}

/**
 * The funnel, in order. A credential's `human_mask` holds the bits of people's events (machine = false)
 * plus DELIVERED; `any_mask` the bits of everyone's events (machines too) plus DELIVERED.
 * Stage k's `credentials` = cohort credentials whose mask >= bit(k): they reached stage k or any later
 * stage ("reached at least"); ISSUED = all. `reachedDirectly` = mask & bit(k) <> 0.
 */
export const FUNNEL_STAGES: readonly FunnelStageDefinition[] = [
  { name: "ISSUED", bit: 0, eventTypes: [], description: "Every credential of the cohort (issued in the range, matching the filters)" },
  { name: "DELIVERED", bit: 1, eventTypes: [], description: "A credential email for it was delivered (delivered_at set by the provider)" },
  { name: "OPENED", bit: 2, eventTypes: ["email_opened", "link_clicked"], description: "Its email was opened or a link in it clicked" },
  { name: "VIEWED", bit: 4, eventTypes: ["page_viewed"], description: "Its public page was viewed" },
  { name: "ENGAGED", bit: 8, eventTypes: ["shared", "linkedin_added", "downloaded"], description: "It was shared, added to LinkedIn or downloaded" },
  { name: "CLAIMED", bit: 16, eventTypes: ["claimed"], description: "Its recipient claimed it" },
  { name: "VERIFIED", bit: 32, eventTypes: ["verified"], description: "A third party verified it" },
];

/** Stage bit of an event type (0 for none); equals analytics_stage_bit() in sql/021. */
export function stageBitOf(type: EngagementType): number {
  return FUNNEL_STAGES.find((s) => s.eventTypes.includes(type))?.bit ?? 0;
}

export const FUNNEL_DEFINITION =
  "Funnel over a cohort: the credentials ISSUED in [from, to) matching the filters. Stage k's `credentials` counts cohort " +
  "credentials that reached stage k or any later stage (by people; machines too with includeMachine); `reachedDirectly` " +
  "those whose own events (or delivery) set stage k. rateFromPrevious = credentials(k) / credentials(k-1), rateFromIssued = " +
  "credentials(k) / issued; null when the denominator is 0. Order: ISSUED, DELIVERED, OPENED (email_opened, link_clicked), " +
  "VIEWED (page_viewed), ENGAGED (shared, linkedin_added, downloaded), CLAIMED, VERIFIED.";

export const EVENTS_DEFINITION =
  "events = events stored whose occurred_at is in the bucket or group (people's only unless includeMachine); credentials = " +
  "credentials whose FIRST event of that type (people's, or anyone's with includeMachine) falls in it, so summing buckets never " +
  "counts a credential twice. Events of recipients who withheld tracking consent or are restricted count as events, never as credentials.";

/** Breakdown dimensions and the rollup dimension letter each is read from (analytics_event_rollups.dimension). */
export const BREAKDOWN_DIMENSIONS = {
  TEMPLATE: "t",
  BULK_JOB: "j",
  CHANNEL: "c",
  NETWORK: "n",
  DEVICE_CLASS: "d",
  FORMAT: "f",
  LOCALE: "l",
} as const;
export type BreakdownDimension = keyof typeof BREAKDOWN_DIMENSIONS;

/** topTemplates' `by`: the one event type each ranks on (SHARES is `shared` only, not LinkedIn adds). */
export const TOP_TEMPLATE_MEASURES = {
  VIEWS: "page_viewed",
  SHARES: "shared",
  LINKEDIN_ADDS: "linkedin_added",
  VERIFICATIONS: "verified",
} as const satisfies Record<string, EngagementType>;
export type TopTemplatesMeasure = keyof typeof TOP_TEMPLATE_MEASURES;

/**
 * Latency stages (analytics_latency_rollups.stage), for credentials issued in the range: seconds from
 * issue to people's first event of these types. Histogram bin b = floor(10 * ln(1 + seconds)) covers
 * [exp(b/10) - 1, exp((b+1)/10) - 1) seconds.
 */
export const LATENCY_STAGES = {
  toFirstView: { code: "v", eventTypes: ["page_viewed"] },
  toFirstShare: { code: "s", eventTypes: ["shared", "linkedin_added"] },
} as const;

export const LATENCY_DEFINITION =
  "For credentials issued in the range: seconds from issue to people's first page view, and to people's first share (shared or " +
  "linkedin_added). Median and p90 are nearest-rank percentiles (percentile_disc) read from a histogram: the value reported is the " +
  "UPPER bound of the bin holding the exact percentile, so it is never below the exact value and at most 10.6% (+0.106 s) above.";

/** Upper bound, in seconds, of latency histogram bin `bin` (exact, not rounded: it is a bound). */
export function latencyBinUpperSeconds(bin: number): number {
  return Math.exp((bin + 1) / 10) - 1;
}

/** Current outcomes of a credential email (analytics_outcome() in sql/021). */
export const DELIVERY_OUTCOMES = ["pending", "stored", "sent", "delivered", "bounced", "complained", "failed"] as const;
export type DeliveryOutcome = (typeof DELIVERY_OUTCOMES)[number];

export const DELIVERY_DEFINITION =
  "Credential emails (messages with a credential) queued in the range, by current outcome. delivered = delivered + complained " +
  "(a complaint implies delivery); every rate is over all messages of the row, null when there are none.";

export const SUPPRESSION_DEFINITION =
  "With the tenant's minimumGroupSize k > 1, a cell whose distinct-credential count is from 1 to k - 1 has its numbers null and " +
  "suppressed true (k = 1, the default, turns this off); an empty cell stays 0, which singles nobody out, but an event cell " +
  "with events and no credential it can prove is hidden. The count is the cell's credentials for events and funnel stages, " +
  "messages for delivery, credentials measured for latency. A funnel stage's reachedDirectly below k is null on its own.";

/**
 * Whether a cell counting `count` distinct credentials (or messages) is hidden under minimumGroupSize
 * `k`: 1..k-1 are; 0 is not (an empty cell names nobody).
 */
export function isSuppressed(count: number, k: number): boolean {
  return k > 1 && count > 0 && count < k;
}

/** An event cell (events, and credentials first reached in it): hidden when its credentials are 1..k-1, or 0 with events. */
export function isEventCellSuppressed(events: number, credentials: number, k: number): boolean {
  return isSuppressed(credentials, k) || (k > 1 && credentials === 0 && events > 0);
}

/** Calendar units of analytics_buckets() per GraphQL interval. */
export const INTERVAL_UNITS = { HOUR: "hour", DAY: "day", WEEK: "week", MONTH: "month" } as const;
export type AnalyticsInterval = keyof typeof INTERVAL_UNITS;

/** Limits of the inputs (inputs.ts). */
export const ANALYTICS_LIMITS = {
  /** Range alignment: both ends on a 15-minute UTC boundary (the rollups' finest grain). */
  alignmentMs: 15 * 60_000,
  maxRangeDays: 1096,
  maxHourBuckets: 1000,
  maxIds: 100,
  /** As every `first` in the API (the page-size limit). */
  maxFirst: 100,
  /** Ranges stay within these years: the rollups hold nothing earlier, and PostgreSQL's dates end. */
  earliest: Date.UTC(1970, 0, 1),
  latest: Date.UTC(2200, 0, 1),
} as const;

/** Analytics fields whose `first` is checked by their own input validation (ValidationError, 1..100). */
export const ANALYTICS_FIELDS_CHECKING_FIRST: ReadonlySet<string> = new Set(["engagementBreakdown", "topTemplates"]);
