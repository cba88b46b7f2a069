// A tenant's IANA time zone: UTC until set, set by whoever may manage the tenant, checked against the
// runtime's and PostgreSQL's zone databases, audited, and never another tenant's business.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EngagementTimeSeriesDocument, TenantDocument, UpdateTenantDocument } from "../../src/sdk/generated.js";
import { LaurelRequestError } from "../../src/sdk/index.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { createKey, signUpTenant, type TestTenant } from "../helpers/factories.js";
import { tenantWithTemplate } from "../engagement/setup.js";

let app: TestApp;
let a: TestTenant;
let b: TestTenant;

beforeAll(async () => {
  app = await startTestApp();
  [a, b] = await Promise.all([signUpTenant(app, "Zone Academy"), signUpTenant(app, "Other Zone")]);
});
afterAll(async () => app.close());

describe("Tenant.timeZone", () => {
  it("is UTC until set", async () => {
    expect((await a.owner.request(TenantDocument, {})).tenant).toMatchObject({ name: "Zone Academy", timeZone: "UTC" });
  });

  it("takes IANA names the runtime knows, half-hour zones included, and leaves the name alone", async () => {
    for (const zone of ["Australia/Sydney", "Asia/Kolkata", "Australia/Adelaide", "America/St_Johns", "UTC"]) {
      const { updateTenant } = await a.owner.request(UpdateTenantDocument, { input: { timeZone: zone } });
      expect(updateTenant).toMatchObject({ __typename: "Tenant", name: "Zone Academy", timeZone: zone });
    }
    const [audit] = await app.db.admin`select details from audit_log where tenant_id = ${a.tenantId} and action = 'tenant.updated' order by id desc limit 1`;
    expect(audit!.details).toEqual({ timeZone: { from: "America/St_Johns", to: "UTC" } });
  });

  it("refuses offsets, abbreviations it does not know, and made-up zones, changing nothing", async () => {
    await a.owner.request(UpdateTenantDocument, { input: { timeZone: "Europe/Paris" } });
    for (const zone of ["+10:00", "Mars/Olympus_Mons", "Australia/Sydney; drop table tenants", "", "GMT+25"]) {
      const { updateTenant } = await a.owner.request(UpdateTenantDocument, { input: { timeZone: zone } });
      expect(updateTenant, zone).toMatchObject({ __typename: "ValidationError", fieldErrors: [{ path: ["input", "timeZone"], message: expect.stringMatching(/Unknown time zone/) }] });
    }
    expect((await a.owner.request(TenantDocument, {})).tenant.timeZone).toBe("Europe/Paris");
    const { updateTenant } = await a.owner.request(UpdateTenantDocument, { input: {} });
    expect(updateTenant).toMatchObject({ __typename: "ValidationError", message: expect.stringMatching(/name or a timeZone/) });
  });

  it("refuses zones Node knows but PostgreSQL does not, changing nothing, so issuing and analytics still work", async () => {
    const t = await tenantWithTemplate(app, "Zone Gap College");
    await t.issue(); // analytics rows exist: a zone change recomputes them in PostgreSQL
    await t.owner.request(UpdateTenantDocument, { input: { timeZone: "America/Vancouver" } });
    for (const zone of ["US/Pacific-New", "Canada/East-Saskatchewan", "CET", "WET"]) {
      const { updateTenant } = await t.owner.request(UpdateTenantDocument, { input: { timeZone: zone } });
      expect(updateTenant, zone).toMatchObject({ __typename: "ValidationError", fieldErrors: [{ path: ["input", "timeZone"], message: expect.stringMatching(/Unknown time zone/) }] });
    }
    expect((await t.owner.request(TenantDocument, {})).tenant.timeZone).toBe("America/Vancouver");
    await t.issue();
    // The analytics timeZone argument goes through the same check.
    const day = 86_400_000;
    const from = new Date(Math.floor(Date.now() / day) * day - day).toISOString();
    const to = new Date(Math.floor(Date.now() / day) * day + day).toISOString();
    const series = await t.owner.request(EngagementTimeSeriesDocument, { range: { from, to }, interval: "DAY", timeZone: "US/Pacific-New" });
    expect(series.engagementTimeSeries).toMatchObject({ __typename: "ValidationError", fieldErrors: [{ path: ["timeZone"] }] });
    const ok = await t.owner.request(EngagementTimeSeriesDocument, { range: { from, to }, interval: "DAY" });
    expect(ok.engagementTimeSeries.__typename).toBe("EngagementTimeSeries");
  });

  it("is set by a key that may manage the tenant, and by no other", async () => {
    const admin = await createKey(app, a.owner, ["admin"]);
    expect((await admin.client.request(UpdateTenantDocument, { input: { timeZone: "Asia/Tokyo" } })).updateTenant).toMatchObject({ timeZone: "Asia/Tokyo" });
    for (const scopes of [["issue"], ["read"], ["analytics"], ["export"]] as const) {
      const key = await createKey(app, a.owner, [...scopes]);
      const error = await key.client.request(UpdateTenantDocument, { input: { timeZone: "Pacific/Kiritimati" } }).then(() => null, (e: unknown) => e);
      expect(error, scopes.join()).toBeInstanceOf(LaurelRequestError);
      expect((error as LaurelRequestError).code).toBe("FORBIDDEN");
    }
    expect((await a.owner.request(TenantDocument, {})).tenant.timeZone).toBe("Asia/Tokyo");
  });

  it("is each tenant's own: setting one leaves the other as it was", async () => {
    await a.owner.request(UpdateTenantDocument, { input: { timeZone: "America/Los_Angeles" } });
    expect((await b.owner.request(TenantDocument, {})).tenant.timeZone).toBe("UTC");
    const [row] = await app.db.admin`select time_zone from tenants where id = ${b.tenantId}`;
    expect(row!.time_zone).toBe("UTC");
  });
});
