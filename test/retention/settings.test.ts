// Retention settings over the API: defaults, bounds as typed validation errors, who may change them, the
// audit trail, and the database's own bounds behind the API's.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AcceptInvitationDocument, AuditLogDocument, InviteMemberDocument, RetentionSettingsDocument, UpdateRetentionSettingsDocument, type MemberRole } from "../../src/sdk/generated.js";
import { LaurelRequestError, type LaurelClient } from "../../src/sdk/index.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { createKey, signUpTenant, uniqueEmail, type TestTenant } from "../helpers/factories.js";
import { tokenSentTo } from "../helpers/sealed.js";

let app: TestApp;
let t: TestTenant;

async function memberClient(role: MemberRole): Promise<LaurelClient> {
  const email = uniqueEmail(role);
  await t.owner.request(InviteMemberDocument, { input: { email, role } });
  const row = { token: await tokenSentTo(app, email) };
  const accepted = await app.client().request(AcceptInvitationDocument, { input: { token: row!.token, name: `A ${role}`, password: "a long enough password" } });
  if (accepted.acceptInvitation.__typename !== "AcceptInvitationPayload") throw new Error(JSON.stringify(accepted));
  return app.client(accepted.acceptInvitation.token!);
}

const current = async (client: LaurelClient) => (await client.request(RetentionSettingsDocument, {})).tenant.retention;

beforeAll(async () => {
  app = await startTestApp();
  t = await signUpTenant(app, "Retention Settings College");
});
afterAll(async () => app.close());

describe("retention settings", () => {
  it("start at the issue's defaults, readable by any member", async () => {
    const viewer = await memberClient("viewer");
    const defaults = { engagementEventMonths: 13, deliveryLogDays: 90, emailBodyDays: 30, exportFileDays: 7, auditLogDays: 730 };
    expect(await current(t.owner)).toEqual(defaults);
    expect(await current(viewer)).toEqual(defaults);
  });

  it("are changed by the owner, an admin and an admin key, each change audited with from and to", async () => {
    const set = await t.owner.request(UpdateRetentionSettingsDocument, { input: { auditLogDays: 400, emailBodyDays: 3 } });
    expect(set.updateRetentionSettings).toMatchObject({ __typename: "RetentionSettings", auditLogDays: 400, emailBodyDays: 3, deliveryLogDays: 90 });
    const admin = await memberClient("admin");
    expect((await admin.request(UpdateRetentionSettingsDocument, { input: { deliveryLogDays: 30 } })).updateRetentionSettings).toMatchObject({ deliveryLogDays: 30 });
    const key = await createKey(app, t.owner, ["admin"]);
    expect((await key.client.request(UpdateRetentionSettingsDocument, { input: { engagementEventMonths: 6 } })).updateRetentionSettings).toMatchObject({ engagementEventMonths: 6 });
    expect(await current(t.owner)).toEqual({ engagementEventMonths: 6, deliveryLogDays: 30, emailBodyDays: 3, exportFileDays: 7, auditLogDays: 400 });
    const log = await t.owner.request(AuditLogDocument, { first: 10, filter: { action: "retention.updated" } });
    const details = log.tenant.auditLog!.edges.map((e) => e.node.details);
    expect(details).toContainEqual({ auditLogDays: { from: 730, to: 400 }, emailBodyDays: { from: 30, to: 3 } });
    expect(details).toContainEqual({ engagementEventMonths: { from: 13, to: 6 } });
  });

  it("refuses values out of bounds with a ValidationError naming each field, and changes nothing", async () => {
    const before = await current(t.owner);
    const res = await t.owner.request(UpdateRetentionSettingsDocument, {
      input: { auditLogDays: 364, engagementEventMonths: 26, exportFileDays: 30, emailBodyDays: 10 },
    });
    expect(res.updateRetentionSettings.__typename).toBe("ValidationError");
    if (res.updateRetentionSettings.__typename !== "ValidationError") return;
    expect(res.updateRetentionSettings.fieldErrors.map((e) => e.path.join("."))).toEqual(["input.engagementEventMonths", "input.exportFileDays", "input.auditLogDays"]);
    expect(res.updateRetentionSettings.message).toMatch(/auditLogDays must be a whole number of days from 365 to 3650/);
    const empty = await t.owner.request(UpdateRetentionSettingsDocument, { input: {} });
    expect(empty.updateRetentionSettings.__typename).toBe("ValidationError");
    expect(await current(t.owner)).toEqual(before);
  });

  it("cannot be changed by issuers, analysts, viewers or keys without the admin scope", async () => {
    const clients = [await memberClient("issuer"), await memberClient("analyst"), await memberClient("viewer")];
    for (const scopes of [["read"], ["issue"], ["analytics"], ["privacy"]] as const) clients.push((await createKey(app, t.owner, [...scopes])).client);
    const before = await current(t.owner);
    for (const client of clients) {
      const error = await client.request(UpdateRetentionSettingsDocument, { input: { auditLogDays: 365 } }).then(() => null, (e: unknown) => e);
      expect(error).toBeInstanceOf(LaurelRequestError);
      expect((error as LaurelRequestError).code).toBe("FORBIDDEN");
    }
    expect(await current(t.owner)).toEqual(before);
  });

  it("are bounded by the database too, whoever writes them", async () => {
    const write = app.db.admin`update tenants set retention_audit_log_days = 30 where id = ${t.tenantId}`;
    await expect(write).rejects.toThrow(/retention_audit_log_days/);
  });
});
