// The analytics operations through the SDK on a small scenario worked out by hand: three credentials
// over two templates, a handful of events at known times, each number checked. Then the validation
// errors, minimumGroupSize, and who may call them (analyst, analytics key; not a key without it).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeGlobalID } from "@pothos/plugin-relay";
import {
  AcceptInvitationDocument, ActivateTemplateDocument, AnalyticsSettingsDocument, CreateTemplateDocument, DeliveryHealthDocument,
  EngagementBreakdownDocument, EngagementFunnelDocument, EngagementLatencyDocument, EngagementTimeSeriesDocument, InviteMemberDocument,
  IssueCredentialDocument, SetMinimumGroupSizeDocument, TopTemplatesDocument,
} from "../../src/sdk/generated.js";
import type { LaurelClient } from "../../src/sdk/index.js";
import { FUNNEL_STAGES, stageBitOf, ANALYTICS_EVENT_TYPES } from "../../src/modules/analytics/stages.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { createKey, signUpTenant, uniqueEmail } from "../helpers/factories.js";
import { tenantWithTemplate, type EngagementTenant } from "../engagement/setup.js";
import { tokenSentTo } from "../helpers/sealed.js";

let app: TestApp;
let t: EngagementTenant;
let templateB: string;
const HOUR = 3_600_000;
// Hour-aligned, 20 hours ago: events after it are within the last day (record_engagement_events clamps).
const T0 = new Date(Math.floor(Date.now() / HOUR) * HOUR - 20 * HOUR);
const at = (ms: number) => new Date(T0.getTime() + ms);
const range = (fromMs: number, toMs: number) => ({ from: at(fromMs).toISOString(), to: at(toMs).toISOString() });
const ids: Record<"a1" | "a2" | "b1", string> = { a1: "", a2: "", b1: "" };

async function issue(client: LaurelClient, templateId: string, locale: string): Promise<string> {
  const res = await client.request(IssueCredentialDocument, {
    input: { templateId, issuedAt: T0.toISOString(), recipient: { email: uniqueEmail("r"), name: "Rae Recipient", locale } },
  });
  if (res.issueCredential.__typename !== "Credential") throw new Error(JSON.stringify(res.issueCredential));
  return res.issueCredential.publicUrl.split("/").pop()!;
}

type Ev = { credential: keyof typeof ids; type: string; atMs: number; channel?: string; network?: string; format?: string; machine?: boolean };
async function record(events: Ev[]): Promise<void> {
  const rows = events.map((e) => ({
    tenant_id: t.tenantId, credential_id: ids[e.credential], type: e.type, channel: e.channel ?? "web", network: e.network ?? null,
    format: e.format ?? null, ua_class: e.machine ? "mail_proxy" : "desktop", machine: e.machine ?? false, occurred_at: at(e.atMs).toISOString(),
  }));
  await app.db.admin`select record_engagement_events(${app.db.admin.json(rows as never)})`;
}

beforeAll(async () => {
  app = await startTestApp();
  t = await tenantWithTemplate(app, "Analytics Academy");
  const created = await t.owner.request(CreateTemplateDocument, {
    kind: "CERTIFICATE",
    content: { name: "Data Science", description: "Models.", criteriaNarrative: "Fit one.", tags: ["stem"] },
  });
  if (created.createTemplate.__typename !== "Template") throw new Error(JSON.stringify(created.createTemplate));
  templateB = created.createTemplate.id;
  await t.owner.request(ActivateTemplateDocument, { id: templateB });
  ids.a1 = await issue(t.owner, t.templateNodeId, "en");
  ids.a2 = await issue(t.owner, t.templateNodeId, "en");
  ids.b1 = await issue(t.owner, templateB, "fr");
  // Cohorts are by the time a credential was issued (not the validFrom it states): move the issue
  // back to T0, and recompute the tenant's aggregates from raw rows, so events come after the issue.
  await app.db.admin`update credentials set issued_at = ${T0} where tenant_id = ${t.tenantId}`;
  await app.db.admin`select rebuild_engagement_analytics(${t.tenantId})`;
  await record([
    { credential: "a1", type: "page_viewed", atMs: 100_000 },
    { credential: "a1", type: "email_opened", atMs: 10 * 60_000, channel: "email" },
    { credential: "a2", type: "email_opened", atMs: 5 * 60_000, channel: "email", machine: true },
    { credential: "a2", type: "page_viewed", atMs: 1_000_000 },
    { credential: "a1", type: "shared", atMs: HOUR, channel: "social", network: "mastodon" },
    { credential: "a1", type: "page_viewed", atMs: 2 * HOUR },
    { credential: "b1", type: "verified", atMs: 3 * HOUR, channel: "verifier" },
    { credential: "b1", type: "downloaded", atMs: 3 * HOUR, format: "pdf" },
  ]);
});
afterAll(() => app.close());

const whole = () => range(-HOUR, 4 * HOUR);

describe("the definitions", () => {
  it("give each event type the stage bit the database gives it", async () => {
    const rows = await app.db.admin<{ type: string; bit: number }[]>`
      select t::text as type, analytics_stage_bit(t)::int as bit from unnest(enum_range(null::engagement_type)) t`;
    expect(rows.map((r) => [r.type, stageBitOf(r.type as never)])).toEqual(rows.map((r) => [r.type, r.bit]));
    expect(FUNNEL_STAGES.map((s) => s.name)).toEqual(["ISSUED", "DELIVERED", "OPENED", "VIEWED", "ENGAGED", "CLAIMED", "VERIFIED"]);
  });
});

describe("engagementFunnel", () => {
  it("counts the cohort's credentials that reached each stage at least, by people", async () => {
    const { engagementFunnel: f } = await t.owner.request(EngagementFunnelDocument, { range: whole() });
    if (f.__typename !== "EngagementFunnel") throw new Error(JSON.stringify(f));
    // Masks by people: a1 opened|viewed|engaged, a2 viewed, b1 engaged|verified.
    expect(f.stages.map((s) => [s.stage, s.credentials, s.reachedDirectly])).toEqual([
      ["ISSUED", 3, 3], ["DELIVERED", 3, 0], ["OPENED", 3, 1], ["VIEWED", 3, 2], ["ENGAGED", 2, 2], ["CLAIMED", 1, 0], ["VERIFIED", 1, 1],
    ]);
    expect(f.stages.map((s) => s.rateFromPrevious)).toEqual([null, 1, 1, 1, 2 / 3, 1 / 2, 1]);
    expect(f.stages.map((s) => s.rateFromIssued)).toEqual([1, 1, 1, 1, 2 / 3, 1 / 3, 1 / 3]);
    expect(f.stages.every((s) => !s.suppressed)).toBe(true);
    expect(f.groups).toEqual([]);
  });

  it("counts machines' opens with includeMachine, and groups by template with names", async () => {
    const { engagementFunnel: f } = await t.owner.request(EngagementFunnelDocument, { range: whole(), filter: { includeMachine: true }, groupBy: "TEMPLATE" });
    if (f.__typename !== "EngagementFunnel") throw new Error(JSON.stringify(f));
    expect(f.stages.find((s) => s.stage === "OPENED")!.reachedDirectly).toBe(2);
    expect(f.groups.map((g) => [g.key, g.label, g.stages.map((s) => s.credentials)])).toEqual([
      [t.templateNodeId, "Event Tracking", [2, 2, 2, 2, 1, 0, 0]],
      [templateB, "Data Science", [1, 1, 1, 1, 1, 1, 1]],
    ]);
  });

  it("filters by tag, locale and status, and groups by locale", async () => {
    const byTag = await t.owner.request(EngagementFunnelDocument, { range: whole(), filter: { tag: "stem" } });
    expect(byTag.engagementFunnel.__typename === "EngagementFunnel" && byTag.engagementFunnel.stages[0]!.credentials).toBe(1);
    const byLocale = await t.owner.request(EngagementFunnelDocument, { range: whole(), groupBy: "LOCALE", filter: { locale: "en" } });
    if (byLocale.engagementFunnel.__typename !== "EngagementFunnel") throw new Error("funnel");
    expect(byLocale.engagementFunnel.groups.map((g) => [g.key, g.stages[0]!.credentials])).toEqual([["en", 2]]);
    const revoked = await t.owner.request(EngagementFunnelDocument, { range: whole(), statuses: ["REVOKED"] });
    expect(revoked.engagementFunnel.__typename === "EngagementFunnel" && revoked.engagementFunnel.stages[0]).toMatchObject({ credentials: 0, rateFromIssued: null });
  });

  it("does not count credentials issued outside the range", async () => {
    const { engagementFunnel: f } = await t.owner.request(EngagementFunnelDocument, { range: range(15 * 60_000, 4 * HOUR) });
    expect(f.__typename === "EngagementFunnel" && f.stages[0]!.credentials).toBe(0);
  });
});

describe("engagementTimeSeries", () => {
  it("counts events and first-touch credentials per hour, empty buckets as zeros", async () => {
    const { engagementTimeSeries: s } = await t.owner.request(EngagementTimeSeriesDocument, {
      range: range(0, 4 * HOUR), interval: "HOUR", types: ["EMAIL_OPENED", "PAGE_VIEWED", "SHARED", "VERIFIED"], compareWithPreviousPeriod: true,
    });
    if (s.__typename !== "EngagementTimeSeries") throw new Error(JSON.stringify(s));
    expect(s.timeZone).toBe("UTC");
    expect(s.buckets.map((b) => [b.start, b.end, b.partial])).toEqual(
      [0, 1, 2, 3].map((h) => [at(h * HOUR).toISOString(), at((h + 1) * HOUR).toISOString(), false]),
    );
    const cells = s.buckets.map((b) => b.counts.map((c) => [c.events, c.credentials]));
    expect(cells).toEqual([
      [[1, 1], [2, 2], [0, 0], [0, 0]],
      [[0, 0], [0, 0], [1, 1], [0, 0]],
      [[0, 0], [1, 0], [0, 0], [0, 0]], // a1 viewed again: an event, not a new credential
      [[0, 0], [0, 0], [0, 0], [1, 1]],
    ]);
    expect(s.totals.map((c) => [c.type, c.events, c.credentials])).toEqual([
      ["EMAIL_OPENED", 1, 1], ["PAGE_VIEWED", 3, 2], ["SHARED", 1, 1], ["VERIFIED", 1, 1],
    ]);
    expect(s.previous!.from).toBe(at(-4 * HOUR).toISOString());
    expect(s.previous!.buckets).toHaveLength(4);
    expect(s.previous!.totals.every((c) => c.events === 0 && c.credentials === 0)).toBe(true);
  });

  it("buckets by the hours of a half-hour zone, marking the cut-off ends partial, and counts machines when asked", async () => {
    const { engagementTimeSeries: s } = await t.owner.request(EngagementTimeSeriesDocument, {
      range: range(0, 4 * HOUR), interval: "HOUR", timeZone: "Asia/Kolkata", types: ["EMAIL_OPENED", "PAGE_VIEWED"], filter: { includeMachine: true },
    });
    if (s.__typename !== "EngagementTimeSeries") throw new Error(JSON.stringify(s));
    expect(s.timeZone).toBe("Asia/Kolkata");
    expect(s.buckets.map((b) => [b.start, b.partial])).toEqual([
      [at(0).toISOString(), true], [at(HOUR / 2).toISOString(), false], [at(1.5 * HOUR).toISOString(), false],
      [at(2.5 * HOUR).toISOString(), false], [at(3.5 * HOUR).toISOString(), true],
    ]);
    expect(s.buckets[0]!.counts.map((c) => [c.events, c.credentials])).toEqual([[2, 2], [2, 2]]);
    expect(s.buckets[2]!.counts.map((c) => [c.events, c.credentials])).toEqual([[0, 0], [1, 0]]);
  });

  it("reads one bulk job's or one locale's events", async () => {
    const { engagementTimeSeries: s } = await t.owner.request(EngagementTimeSeriesDocument, {
      range: whole(), interval: "DAY", types: ["VERIFIED", "PAGE_VIEWED"], filter: { locale: "fr" },
    });
    if (s.__typename !== "EngagementTimeSeries") throw new Error(JSON.stringify(s));
    expect(s.totals.map((c) => [c.type, c.events])).toEqual([["PAGE_VIEWED", 0], ["VERIFIED", 1]]);
  });
});

describe("engagementBreakdown and topTemplates", () => {
  it("break events down by channel, format and template", async () => {
    const byChannel = await t.owner.request(EngagementBreakdownDocument, { range: whole(), by: "CHANNEL", types: ["PAGE_VIEWED", "SHARED", "VERIFIED"] });
    if (byChannel.engagementBreakdown.__typename !== "EngagementBreakdown") throw new Error("breakdown");
    expect(byChannel.engagementBreakdown.rows.map((r) => [r.key, r.counts.map((c) => c.events)])).toEqual([
      ["social", [0, 1, 0]], ["verifier", [0, 0, 1]], ["web", [3, 0, 0]],
    ]);
    const byFormat = await t.owner.request(EngagementBreakdownDocument, { range: whole(), by: "FORMAT", types: ["DOWNLOADED"] });
    expect(byFormat.engagementBreakdown.__typename === "EngagementBreakdown" && byFormat.engagementBreakdown.rows.map((r) => r.key)).toEqual(["pdf"]);
    const byTemplate = await t.owner.request(EngagementBreakdownDocument, {
      range: whole(), by: "TEMPLATE", orderBy: { type: "PAGE_VIEWED", measure: "EVENTS" }, first: 1,
    });
    if (byTemplate.engagementBreakdown.__typename !== "EngagementBreakdown") throw new Error("breakdown");
    const [row] = byTemplate.engagementBreakdown.rows;
    expect(byTemplate.engagementBreakdown.rows).toHaveLength(1);
    expect([row!.key, row!.label]).toEqual([t.templateNodeId, "Event Tracking"]);
    expect(row!.counts.map((c) => c.type)).toEqual(ANALYTICS_EVENT_TYPES.map((x) => x.toUpperCase()));
    expect(row!.counts.find((c) => c.type === "PAGE_VIEWED")).toMatchObject({ events: 3, credentials: 2 });
  });

  it("rank templates by views and by verifications", async () => {
    const views = await t.owner.request(TopTemplatesDocument, { range: whole(), by: "VIEWS", measure: "CREDENTIALS" });
    if (views.topTemplates.__typename !== "TopTemplates") throw new Error("top");
    expect(views.topTemplates.rankings).toEqual([{ template: { id: t.templateNodeId }, label: "Event Tracking", events: 3, credentials: 2, suppressed: false }]);
    const verifications = await t.owner.request(TopTemplatesDocument, { range: whole(), by: "VERIFICATIONS", measure: "EVENTS", first: 5 });
    expect(verifications.topTemplates.__typename === "TopTemplates" && verifications.topTemplates.rankings.map((r) => [r.label, r.events])).toEqual([["Data Science", 1]]);
  });
});

describe("engagementLatency and deliveryHealth", () => {
  it("reports the upper bound of the histogram bin holding the nearest-rank median and p90", async () => {
    const { engagementLatency: l } = await t.owner.request(EngagementLatencyDocument, { range: whole() });
    if (l.__typename !== "EngagementLatency") throw new Error(JSON.stringify(l));
    const upper = (seconds: number) => Math.exp((Math.floor(10 * Math.log(1 + seconds)) + 1) / 10) - 1;
    // First views after 100 s (a1) and 1,000 s (a2); first share after 3,600 s (a1).
    expect(l.overall.template).toBeNull();
    expect(l.overall.toFirstView).toEqual({ credentials: 2, medianSeconds: upper(100), p90Seconds: upper(1000), suppressed: false });
    expect(l.overall.toFirstShare).toEqual({ credentials: 1, medianSeconds: upper(3600), p90Seconds: upper(3600), suppressed: false });
    expect(upper(100)).toBeGreaterThanOrEqual(100);
    expect(upper(100)).toBeLessThanOrEqual(100 * 1.106 + 0.106);
    expect(l.templates.map((r) => [r.template?.id, r.label, r.toFirstView.credentials])).toEqual([[t.templateNodeId, "Event Tracking", 2]]);
  });

  it("counts credential emails by outcome, overall, per template and per day", async () => {
    const { deliveryHealth: d } = await t.owner.request(DeliveryHealthDocument, { range: range(-HOUR, 21 * HOUR), groupBy: "TEMPLATE", interval: "DAY" });
    if (d.__typename !== "DeliveryHealth") throw new Error(JSON.stringify(d));
    const [queued] = await app.db.admin<{ n: number }[]>`
      select count(*)::int as n from email_outbox where tenant_id = ${t.tenantId} and credential_id is not null`;
    expect(queued!.n).toBe(3);
    expect(d.rows.map((r) => [r.key, r.label, r.messages, r.pending, r.delivered, r.deliveredRate])).toEqual([
      [t.templateNodeId, "Event Tracking", 2, 2, 0, 0], [templateB, "Data Science", 1, 1, 0, 0],
    ]);
    expect(d.buckets!.reduce((n, b) => n + b.rows.reduce((m, r) => m + r.messages!, 0), 0)).toBe(3);
    const none = await t.owner.request(DeliveryHealthDocument, { range: range(-HOUR, 21 * HOUR) });
    expect(none.deliveryHealth.__typename === "DeliveryHealth" && none.deliveryHealth.rows.map((r) => [r.key, r.messages])).toEqual([["all", 3]]);
  });
});

const problems = (r: { __typename: string; fieldErrors?: { path: string[] }[] }) =>
  r.__typename === "ValidationError" ? r.fieldErrors!.map((e) => e.path.join(".")) : r.__typename;

describe("validation", () => {
  it("refuses unaligned, empty, reversed and over-long ranges", async () => {
    const odd = await t.owner.request(EngagementFunnelDocument, { range: { from: at(60_000).toISOString(), to: at(HOUR).toISOString() } });
    expect(problems(odd.engagementFunnel)).toEqual(["range.from"]);
    const reversed = await t.owner.request(EngagementFunnelDocument, { range: range(HOUR, 0) });
    expect(problems(reversed.engagementFunnel)).toEqual(["range.to"]);
    const long = await t.owner.request(EngagementLatencyDocument, { range: range(-1097 * 24 * HOUR, 0) });
    expect(problems(long.engagementLatency)).toEqual(["range.to"]);
    // Year 0 reached PostgreSQL as "date out of range" (INTERNAL_SERVER_ERROR) in every operation.
    const ancient = { from: "0000-01-01T00:00:00Z", to: "0000-01-02T00:00:00Z" };
    const series = await t.owner.request(EngagementTimeSeriesDocument, { range: ancient, interval: "DAY" });
    expect(problems(series.engagementTimeSeries)).toEqual(["range.from", "range.to"]);
    const health = await t.owner.request(DeliveryHealthDocument, { range: { from: ancient.from, to: "2026-01-01T00:00:00Z" } });
    expect(problems(health.deliveryHealth)).toContain("range.from");
  });

  it("checks first (1 to 100) with one typed error, however far out of bounds", async () => {
    for (const first of [0, -1, 101, 100_000]) {
      const b = await t.owner.request(EngagementBreakdownDocument, { range: whole(), by: "TEMPLATE", first });
      expect(problems(b.engagementBreakdown)).toEqual(["first"]);
      const top = await t.owner.request(TopTemplatesDocument, { range: whole(), by: "VIEWS", measure: "EVENTS", first });
      expect(problems(top.topTemplates)).toEqual(["first"]);
    }
  });

  it("refuses unknown zones, too many hours and filter combinations the contract forbids", async () => {
    for (const timeZone of ["Mars/Olympus_Mons", "+05:30", "EST5EDT6"]) {
      const r = await t.owner.request(EngagementTimeSeriesDocument, { range: whole(), interval: "DAY", timeZone });
      expect(problems(r.engagementTimeSeries)).toEqual(["timeZone"]);
    }
    const hours = await t.owner.request(EngagementTimeSeriesDocument, { range: range(-1001 * HOUR, 0), interval: "HOUR" });
    expect(problems(hours.engagementTimeSeries)).toEqual(["interval"]);
    // 1,000 hours from 2026-04-05T15:30Z in Lord Howe are 1,000 buckets; the 1,000 hours before them
    // cross its half-hour DST end and are 1,001: the previous period is held to the same limit (QA).
    const lordHowe = { from: "2026-04-05T15:30:00.000Z", to: new Date(Date.parse("2026-04-05T15:30:00.000Z") + 1000 * HOUR).toISOString() };
    const alone = await t.owner.request(EngagementTimeSeriesDocument, { range: lordHowe, interval: "HOUR", timeZone: "Australia/Lord_Howe" });
    expect(alone.engagementTimeSeries.__typename).toBe("EngagementTimeSeries");
    const compared = await t.owner.request(EngagementTimeSeriesDocument, {
      range: lordHowe, interval: "HOUR", timeZone: "Australia/Lord_Howe", compareWithPreviousPeriod: true,
    });
    expect(problems(compared.engagementTimeSeries)).toEqual(["interval"]);
    // Legacy zone names PostgreSQL and Node read differently (CET: fixed +01:00 vs summer time) are refused; names are trimmed.
    for (const timeZone of ["CET", "EET", "WET", "MET", "EST5EDT"]) {
      const r = await t.owner.request(EngagementTimeSeriesDocument, { range: whole(), interval: "DAY", timeZone });
      expect(problems(r.engagementTimeSeries)).toEqual(["timeZone"]);
    }
    const padded = await t.owner.request(EngagementTimeSeriesDocument, { range: whole(), interval: "DAY", timeZone: " Asia/Kolkata " });
    expect(padded.engagementTimeSeries.__typename === "EngagementTimeSeries" && padded.engagementTimeSeries.timeZone).toBe("Asia/Kolkata");
    const both = await t.owner.request(EngagementTimeSeriesDocument, {
      range: whole(), interval: "DAY", filter: { locale: "en", bulkJobId: encodeGlobalID("BulkJob", crypto.randomUUID()) },
    });
    expect(problems(both.engagementTimeSeries)).toContain("filter.locale");
    const breakdown = await t.owner.request(EngagementBreakdownDocument, { range: whole(), by: "CHANNEL", filter: { locale: "en" } });
    expect(problems(breakdown.engagementBreakdown)).toEqual(["filter.locale"]);
    const latency = await t.owner.request(EngagementLatencyDocument, { range: whole(), filter: { includeMachine: true } });
    expect(problems(latency.engagementLatency)).toEqual(["filter.includeMachine"]);
  });

  it("refuses ids of the wrong type, unknown ones and another tenant's", async () => {
    const other = await tenantWithTemplate(app, "Other College");
    for (const templateIds of [[encodeGlobalID("Credential", ids.a1)], ["not-a-global-id"], [encodeGlobalID("Template", crypto.randomUUID())], [other.templateNodeId]]) {
      const r = await t.owner.request(TopTemplatesDocument, { range: whole(), by: "VIEWS", measure: "EVENTS", filter: { templateIds } });
      expect(problems(r.topTemplates)).toEqual(["filter.templateIds"]);
    }
    const job = await t.owner.request(EngagementFunnelDocument, { range: whole(), filter: { bulkJobId: encodeGlobalID("BulkJob", crypto.randomUUID()) } });
    expect(problems(job.engagementFunnel)).toEqual(["filter.bulkJobId"]);
  });
});

describe("minimumGroupSize and who may ask", () => {
  it("is set by the owner within 1..1000, and hides cells counting fewer credentials", async () => {
    const bad = await t.owner.request(SetMinimumGroupSizeDocument, { minimumGroupSize: 0 });
    expect(problems(bad.updateTenant as never)).toEqual(["input.minimumGroupSize"]);
    const set = await t.owner.request(SetMinimumGroupSizeDocument, { minimumGroupSize: 2 });
    expect(set.updateTenant).toMatchObject({ __typename: "Tenant", minimumGroupSize: 2 });
    try {
      const { engagementFunnel: f } = await t.owner.request(EngagementFunnelDocument, { range: whole() });
      if (f.__typename !== "EngagementFunnel") throw new Error("funnel");
      expect(f.stages.map((s) => [s.stage, s.credentials, s.suppressed])).toEqual([
        ["ISSUED", 3, false], ["DELIVERED", 3, false], ["OPENED", 3, false], ["VIEWED", 3, false], ["ENGAGED", 2, false],
        ["CLAIMED", null, true], ["VERIFIED", null, true],
      ]);
      expect(f.stages[5]).toMatchObject({ reachedDirectly: null, rateFromPrevious: null, rateFromIssued: null });
      // Shown stages hide a reachedDirectly of 1 (below 2) on its own: OPENED; DELIVERED's 0 names nobody and shows.
      expect(f.stages.map((s) => s.reachedDirectly)).toEqual([3, 0, null, 2, 2, null, null]);
      const { engagementTimeSeries: s } = await t.owner.request(EngagementTimeSeriesDocument, { range: whole(), interval: "DAY", types: ["PAGE_VIEWED", "SHARED"] });
      if (s.__typename !== "EngagementTimeSeries") throw new Error("series");
      expect(s.totals).toEqual([
        { type: "PAGE_VIEWED", events: 3, credentials: 2, suppressed: false },
        { type: "SHARED", events: null, credentials: null, suppressed: true },
      ]);
      const { deliveryHealth: d } = await t.owner.request(DeliveryHealthDocument, { range: range(-HOUR, 21 * HOUR), groupBy: "TEMPLATE" });
      expect(d.__typename === "DeliveryHealth" && d.rows.map((r) => [r.label, r.messages, r.suppressed])).toEqual([
        ["Event Tracking", 2, false], ["Data Science", null, true],
      ]);
    } finally {
      await t.owner.request(SetMinimumGroupSizeDocument, { minimumGroupSize: 1 });
    }
  });

  it("lets an analyst and an analytics key read analytics, and refuses a key without analytics", async () => {
    const email = uniqueEmail("analyst");
    await t.owner.request(InviteMemberDocument, { input: { email, role: "analyst" } });
    const row = { token: await tokenSentTo(app, email) };
    const accepted = await app.client().request(AcceptInvitationDocument, { input: { token: row!.token, name: "Ana Lyst", password: "a long enough password" } });
    if (accepted.acceptInvitation.__typename !== "AcceptInvitationPayload") throw new Error(JSON.stringify(accepted));
    const analyst = app.client(accepted.acceptInvitation.token!);
    const key = await createKey(app, t.owner, ["analytics"]);
    for (const client of [analyst, key.client]) {
      const { engagementFunnel: f } = await client.request(EngagementFunnelDocument, { range: whole() });
      expect(f.__typename === "EngagementFunnel" && f.stages[0]!.credentials).toBe(3);
      const top = await client.request(TopTemplatesDocument, { range: whole(), by: "VIEWS", measure: "EVENTS" });
      expect(top.topTemplates.__typename === "TopTemplates" && top.topTemplates.rankings[0]!.template).toEqual({ id: t.templateNodeId });
      expect((await client.request(AnalyticsSettingsDocument)).tenant.minimumGroupSize).toBe(1);
    }
    const issuer = await createKey(app, t.owner, ["issue", "read"]);
    await expect(issuer.client.request(EngagementFunnelDocument, { range: whole() })).rejects.toMatchObject({ code: "FORBIDDEN" });
    await expect(issuer.client.request(DeliveryHealthDocument, { range: whole() })).rejects.toMatchObject({ code: "FORBIDDEN" });
    const stranger = await signUpTenant(app, "Stranger Org");
    const theirs = await stranger.owner.request(EngagementFunnelDocument, { range: whole() });
    expect(theirs.engagementFunnel.__typename === "EngagementFunnel" && theirs.engagementFunnel.stages[0]!.credentials).toBe(0);
  });
});
