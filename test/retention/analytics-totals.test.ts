// Expiring raw engagement events changes no number the API reports: analytics (rollups), the deprecated
// engagementSummary (rollups before the horizon) and Credential.engagement (expired counts kept).
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ownerPool } from "../../src/db/migrate.js";
import { runRetention } from "../../src/modules/retention/sweep.js";
import {
  CredentialEngagementDocument,
  EngagementFunnelDocument,
  EngagementSummaryDocument,
  EngagementTimeSeriesDocument,
  UpdateRetentionSettingsDocument,
} from "../../src/sdk/generated.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { globalId } from "../helpers/schema-walk.js";
import { eventsOf, hit, tenantWithTemplate, type EngagementTenant, type Issued } from "../engagement/setup.js";

let app: TestApp;
let owner: pg.Pool;
let t: EngagementTenant;
let other: EngagementTenant;
let issued: Issued[];
let otherIssued: Issued;

const MONTH = 30 * 86_400_000;
// Analytics answer at most 400 days a question: one window holds the old events, one today's.
// Analytics ranges start and end on 15-minute boundaries: these on UTC days.
const day = (msAgo: number) => new Date(Math.floor((Date.now() - msAgo) / 86_400_000) * 86_400_000).toISOString();
const windows = [
  { from: day(21 * MONTH), to: day(10 * MONTH) },
  { from: day(10 * MONTH), to: day(-2 * 86_400_000) },
];

/** Events as record_engagement_events() would store them, but long ago (inserted as the superuser: the rollup triggers still fire). */
async function oldEvents(credential: Issued, monthsAgo: number, types: string[], machine = false) {
  await app.db.admin`
    insert into engagement_events (tenant_id, occurred_at, type, template_id, credential_id, recipient_id, channel, ua_class, machine)
    select c.tenant_id, now() - make_interval(months => ${monthsAgo}::integer) + make_interval(mins => n::integer), x.type::engagement_type, c.template_id, c.id,
           c.recipient_id, 'web', ${machine ? "bot" : "desktop"}, ${machine}
      from credentials c cross join unnest(${types}::text[]) with ordinality x(type, n)
     where c.id = ${credential.credentialId}`;
}

async function readEverything(tenant: EngagementTenant, credentials: Issued[]) {
  const series = [];
  const funnel = [];
  const summary = [];
  for (const range of windows) {
    series.push(await tenant.owner.request(EngagementTimeSeriesDocument, { range, interval: "MONTH" }));
    funnel.push(await tenant.owner.request(EngagementFunnelDocument, { range }));
    summary.push(await tenant.owner.request(EngagementSummaryDocument, range));
  }
  const perCredential = [];
  for (const c of credentials) perCredential.push(await tenant.owner.request(CredentialEngagementDocument, { id: globalId("Credential", c.credentialId) }));
  return { series, funnel, summary, perCredential };
}

beforeAll(async () => {
  app = await startTestApp();
  owner = await ownerPool(app.db.adminUrl, app.config.roles.owner, 1);
  t = await tenantWithTemplate(app, "Retention College");
  other = await tenantWithTemplate(app, "Keeps Everything College");
  issued = [await t.issue(), await t.issue()];
  otherIssued = await other.issue();
  // Today's views, through the real path.
  expect((await hit(app, issued[0]!.pagePath)).status).toBe(200);
  expect((await hit(app, otherIssued.pagePath)).status).toBe(200);
  await eventsOf(app, t.tenantId, 1);
  await eventsOf(app, other.tenantId, 1);
  await oldEvents(issued[0]!, 20, ["page_viewed", "shared", "downloaded", "page_viewed"]);
  await oldEvents(issued[1]!, 18, ["page_viewed", "linkedin_added"]);
  await oldEvents(issued[1]!, 18, ["page_viewed", "verified"], true);
  await oldEvents(otherIssued, 20, ["page_viewed", "shared"]);
  const kept = await other.owner.request(UpdateRetentionSettingsDocument, { input: { engagementEventMonths: 25 } });
  expect(kept.updateRetentionSettings.__typename).toBe("RetentionSettings");
});
afterAll(async () => {
  await owner.end();
  await app.close();
});

describe("expiring raw engagement events", () => {
  it("leaves every total the API reports unchanged, and the raw rows are gone", async () => {
    const before = await readEverything(t, issued);
    const otherBefore = await readEverything(other, [otherIssued]);
    // The old events are in the numbers to begin with (so "unchanged" below means something).
    expect(before.summary[0]!.engagementSummary.find((c) => c.type === "PAGE_VIEWED")).toMatchObject({ people: 3, machines: 1 });
    const old = before.series[0]!.engagementTimeSeries;
    expect(old.__typename === "EngagementTimeSeries" && old.totals.find((c) => c.type === "SHARED")?.events).toBe(1);
    const views = before.perCredential[0]!.node?.__typename === "Credential" ? before.perCredential[0]!.node.engagement : [];
    expect(views.find((c) => c.type === "PAGE_VIEWED")?.people).toBeGreaterThanOrEqual(2);

    const client = await owner.connect();
    let report;
    try {
      report = await runRetention({ config: app.config, database: app.database }, client);
    } finally {
      client.release();
    }
    expect(report?.rows.engagement_events).toBe(8); // 4 + 2 + 2 of this tenant; the other keeps its 2

    const [{ n: oldLeft }] = await app.db.admin<[{ n: number }]>`
      select count(*)::int as n from engagement_events where tenant_id = ${t.tenantId} and occurred_at < now() - interval '13 months'`;
    expect(oldLeft).toBe(0);
    const [{ n: recent }] = await app.db.admin<[{ n: number }]>`
      select count(*)::int as n from engagement_events where tenant_id = ${t.tenantId} and occurred_at > now() - interval '1 day'`;
    expect(recent).toBe(1);
    // The other tenant keeps 25 months: its 20-month-old events stay.
    const [{ n: othersOld }] = await app.db.admin<[{ n: number }]>`
      select count(*)::int as n from engagement_events where tenant_id = ${other.tenantId} and occurred_at < now() - interval '13 months'`;
    expect(othersOld).toBe(2);

    expect(await readEverything(t, issued)).toEqual(before);
    expect(await readEverything(other, [otherIssued])).toEqual(otherBefore);
  });

  it("keeps counting the same after a second run, which removes nothing", async () => {
    const before = await readEverything(t, issued);
    const client = await owner.connect();
    try {
      const report = await runRetention({ config: app.config, database: app.database }, client);
      expect(report?.rows.engagement_events).toBe(0);
    } finally {
      client.release();
    }
    expect(await readEverything(t, issued)).toEqual(before);
  });
});
