// Tenant isolation of engagement: tenant B reads none of tenant A's events, through GraphQL or as the
// member role in SQL with B's tenant set; and tenant B's analysts see counts but no people.
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EngagementSummaryDocument } from "../../src/sdk/generated.js";
import { emailTracking } from "../../src/modules/engagement/tracking.js";
import { withTenantSql } from "../../src/db/tenant-transaction.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { createKey } from "../helpers/factories.js";
import { eventsOf, hit, humanClick, tenantWithTemplate, type EngagementTenant } from "./setup.js";

let app: TestApp;
let a: EngagementTenant;
let b: EngagementTenant;
const range = () => ({ from: new Date(Date.now() - 86_400_000).toISOString(), to: new Date(Date.now() + 86_400_000).toISOString() });

beforeAll(async () => {
  app = await startTestApp();
  a = await tenantWithTemplate(app, "Alpha Academy");
  b = await tenantWithTemplate(app, "Beta Institute");
  const c = await a.issue();
  const tracking = emailTracking({ publicUrl: app.config.publicUrl, keks: app.config.keks }, { tenantId: a.tenantId, credentialId: c.credentialId });
  await hit(app, tracking.pixelUrl);
  await hit(app, tracking.pixelUrl, { ua: "Mozilla/5.0 (via ggpht.com GoogleImageProxy)" });
  await hit(app, humanClick(app, { tenantId: a.tenantId, credentialId: c.credentialId }, "https://example.test/"));
  await eventsOf(app, a.tenantId, 3);
});
afterAll(() => app.close());

describe("engagement across tenants", () => {
  it("counts the tenant's own events, people apart from machines", async () => {
    const { engagementSummary } = await a.owner.request(EngagementSummaryDocument, range());
    const byType = Object.fromEntries(engagementSummary.map((c) => [c.type, c]));
    expect(byType.EMAIL_OPENED).toMatchObject({ people: 1, machines: 1 });
    expect(byType.LINK_CLICKED).toMatchObject({ people: 1, machines: 0 });
    const forTemplate = await a.owner.request(EngagementSummaryDocument, { ...range(), templateId: a.templateNodeId });
    expect(forTemplate.engagementSummary.find((c) => c.type === "EMAIL_OPENED")).toMatchObject({ people: 1, machines: 1 });
  });

  it("cannot read another tenant's events through GraphQL", async () => {
    const { engagementSummary } = await b.owner.request(EngagementSummaryDocument, range());
    expect(engagementSummary.every((c) => c.people === 0 && c.machines === 0)).toBe(true);
    // A's template id under B's session: nothing either.
    const { engagementSummary: other } = await b.owner.request(EngagementSummaryDocument, { ...range(), templateId: a.templateNodeId });
    expect(other.every((c) => c.people === 0 && c.machines === 0)).toBe(true);
  });

  it("is readable with the analytics scope, and not without it", async () => {
    const analytics = await createKey(app, a.owner, ["analytics"]);
    const { engagementSummary } = await analytics.client.request(EngagementSummaryDocument, range());
    expect(engagementSummary.find((c) => c.type === "EMAIL_OPENED")!.people).toBe(1);
    const issuer = await createKey(app, a.owner, ["issue"]);
    await expect(issuer.client.request(EngagementSummaryDocument, range())).rejects.toThrow(/FORBIDDEN|Not allowed/);
    await expect(app.client().request(EngagementSummaryDocument, range())).rejects.toThrow();
  });

  it("cannot read another tenant's events in SQL as the member role", async () => {
    const sql = postgres(app.database.appUrl, { max: 1, onnotice: () => {} });
    try {
      const member = (tenantId: string | null) => ({ dbRole: app.config.roles.member, tenantId, userId: null });
      const asB = await withTenantSql(sql, member(b.tenantId), (tx) => tx`select count(*)::int as n from engagement_events`);
      expect(asB[0]!.n).toBe(0);
      const asBAskingForA = await withTenantSql(sql, member(b.tenantId), (tx) => tx`select count(*)::int as n from engagement_events where tenant_id = ${a.tenantId}`);
      expect(asBAskingForA[0]!.n).toBe(0);
      const asA = await withTenantSql(sql, member(a.tenantId), (tx) => tx`select count(*)::int as n from engagement_events`);
      expect(asA[0]!.n).toBe(3);
      // No partition can be read directly, and nobody at run time may change an event.
      await expect(withTenantSql(sql, member(a.tenantId), (tx) => tx`select count(*) from engagement_partitions.engagement_events_default`)).rejects.toThrow(/permission denied/);
      await expect(withTenantSql(sql, member(a.tenantId), (tx) => tx`delete from engagement_events`)).rejects.toThrow(/permission denied/);
      await expect(withTenantSql(sql, member(a.tenantId), (tx) => tx`update engagement_events set machine = true`)).rejects.toThrow(/permission denied/);
      // The anonymous role writes only through record_engagement_events(), never the table.
      const anonymous = { dbRole: app.config.roles.anonymous, tenantId: null, userId: null };
      await expect(withTenantSql(sql, anonymous, (tx) => tx`select count(*) from engagement_events`)).rejects.toThrow(/permission denied/);
      // A forged event naming A's tenant with a credential A does not own is dropped by the function.
      const [{ n }] = (await withTenantSql(sql, anonymous, (tx) =>
        tx`select record_engagement_events(${JSON.stringify([{ tenant_id: a.tenantId, credential_id: b.tenantId, type: "page_viewed", channel: "web", ua_class: "desktop", machine: false }])}::text::jsonb) as n`,
      )) as unknown as [{ n: number }];
      expect(n).toBe(0);
    } finally {
      await sql.end();
    }
  });
});
