// Who may export a whole tenant (tenant:export: the owner alone, no API key scope), and what an export
// covers: every table with a tenant_id column in the catalog is exported or named with a reason, so a
// table added later cannot be forgotten silently.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AcceptInvitationDocument,
  ExportTenantDocument,
  InviteMemberDocument,
  TenantExportsDocument,
  type ApiKeyScope,
  type MemberRole,
} from "../../src/sdk/generated.js";
import { LaurelRequestError, type LaurelClient } from "../../src/sdk/index.js";
import { ROLE_PERMISSIONS, SCOPE_PERMISSIONS } from "../../src/modules/auth/permissions.js";
import { exportTables, LEFT_OUT, SECRET_COLUMNS } from "../../src/modules/tenant-export/catalog.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { createKey, signUpTenant, uniqueEmail, type TestTenant } from "../helpers/factories.js";
import { tokenSentTo } from "../helpers/sealed.js";

let app: TestApp;
let t: TestTenant;
beforeAll(async () => {
  app = await startTestApp({}, { worker: false });
  t = await signUpTenant(app, "Guarded College");
});
afterAll(async () => app?.close());

async function member(role: MemberRole): Promise<LaurelClient> {
  const email = uniqueEmail(role);
  await t.owner.request(InviteMemberDocument, { input: { email, role } });
  const token = await tokenSentTo(app, email, t.tenantId);
  const { acceptInvitation } = await app.client().request(AcceptInvitationDocument, { input: { token, name: role, password: "a long enough password" } });
  if (acceptInvitation.__typename !== "AcceptInvitationPayload") throw new Error(JSON.stringify(acceptInvitation));
  return app.client(acceptInvitation.token!);
}

async function code(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(() => null, (e: unknown) => e);
  expect(error).toBeInstanceOf(LaurelRequestError);
  return (error as LaurelRequestError).code ?? "";
}

describe("who may export the whole tenant", () => {
  it("is the owner alone: no other role holds tenant:export, and no key scope carries it", () => {
    expect(Object.entries(ROLE_PERMISSIONS).filter(([, p]) => p.has("tenant:export")).map(([r]) => r)).toEqual(["owner"]);
    expect(Object.values(SCOPE_PERMISSIONS).flat()).not.toContain("tenant:export");
  });

  it("refuses admins, issuers, analysts and viewers", async () => {
    for (const role of ["admin", "issuer", "analyst", "viewer"] as const) {
      const client = await member(role);
      expect(await code(client.request(ExportTenantDocument, {})), role).toBe("FORBIDDEN");
      expect(await code(client.request(TenantExportsDocument, { first: 5 })), role).toBe("FORBIDDEN");
    }
    expect(await app.db.admin`select id from tenant_exports where tenant_id = ${t.tenantId}`).toEqual([]);
  });

  it("refuses API keys of every scope", async () => {
    const scopes: ApiKeyScope[] = ["read", "issue", "analytics", "export", "admin", "privacy"];
    const key = await createKey(app, t.owner, scopes);
    expect(await code(key.client.request(ExportTenantDocument, {}))).toBe("FORBIDDEN");
  });

  it("lets the owner queue one export at a time, and the queue holds the job", async () => {
    const first = await t.owner.request(ExportTenantDocument, {});
    expect(first.exportTenant).toMatchObject({ __typename: "TenantExport", state: "queued", tablesTotal: 0, download: null });
    const second = await t.owner.request(ExportTenantDocument, {});
    expect(second.exportTenant).toMatchObject({ __typename: "TenantExportInProgressError", exportId: (first.exportTenant as { id: string }).id });
    const jobs = await app.db.admin<{ payload: { exportId: string } }[]>`
      select j.payload::jsonb as payload from graphile_worker._private_jobs j join graphile_worker._private_tasks k on k.id = j.task_id
       where k.identifier = 'export_tenant' and j.payload::jsonb ->> 'tenantId' = ${t.tenantId}`;
    expect(jobs.map((j) => j.payload.exportId)).toEqual([Buffer.from((first.exportTenant as { id: string }).id, "base64").toString().split(":")[1]]);
  });
});

describe("what an export covers", () => {
  it("exports every tenant table of the catalog, or names why not", async () => {
    const catalog = (await app.db.admin<{ table_name: string }[]>`
      select c.relname as table_name from pg_class c join pg_namespace n on n.oid = c.relnamespace
       where n.nspname = 'public' and c.relkind in ('r', 'p') and not c.relispartition
         and exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped)
       order by 1`).map((r) => r.table_name);
    const exported = (await exportTables(app.db.admin)).map((t) => t.name);
    expect([...exported.filter((n) => n !== "tenants" && n !== "users"), ...Object.keys(LEFT_OUT)].sort()).toEqual(catalog);
    // Pinned: a new tenant table fails here until someone decides whether it travels (and which of its columns are secret).
    expect(exported.sort()).toEqual([
      "api_keys", "audit_log", "bulk_job_rows", "bulk_jobs", "certificate_designs", "credential_documents", "credentials", "data_subject_requests", "email_outbox",
      "email_settings", "email_templates", "engagement_events", "engagement_expired_counts", "guardian_consents", "images", "issuer_profiles", "memberships",
      "person_exports", "privacy_choices", "recipient_rectifications", "recipients", "sender_domains", "signing_keys", "status_lists",
      "template_versions", "templates", "tenant_data_keys", "tenant_holidays", "tenants", "users", "webhook_attempts", "webhook_deliveries", "webhook_endpoints",
    ]);
    expect(Object.keys(SECRET_COLUMNS).sort()).toEqual(["api_keys", "email_outbox", "webhook_endpoints"]);
  });

  it("orders tables parents first, so an import never meets a row before the row it names", async () => {
    const order = (await exportTables(app.db.admin)).map((t) => t.name);
    const before = (a: string, b: string) => expect(order.indexOf(a), `${a} before ${b}`).toBeLessThan(order.indexOf(b));
    before("tenants", "recipients");
    before("users", "memberships");
    before("recipients", "credentials");
    before("status_lists", "credentials");
    before("template_versions", "credentials");
    before("webhook_endpoints", "webhook_deliveries");
  });
});
