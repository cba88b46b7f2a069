// One operation, one transaction: a failed mutation leaves nothing behind, every change is in the
// audit log with its request id, and lists do not issue a query per row.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuditLogDocument, MembersDocument, UpdateTenantDocument, ApiKeysDocument } from "../../src/sdk/generated.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { createKey, signUpTenant, type TestTenant } from "../helpers/factories.js";
import { TEST_ROLES } from "../helpers/env.js";

let app: TestApp;
let t: TestTenant;
let auth: Record<string, string>;
beforeAll(async () => {
  app = await startTestApp();
  t = await signUpTenant(app, "Ledger College");
  auth = { authorization: `Bearer ${t.token}` };
});
afterAll(async () => app.close());

const count = async (sql: string) => (await app.db.admin.unsafe(sql))[0]!.n as number;

describe("a failed mutation", () => {
  it("rolls back every write of the operation, including earlier mutations in it", async () => {
    const me = (await t.owner.request(MembersDocument, { first: 1 })).tenant.members!.edges[0]!.node.id;
    const keysBefore = await count(`select count(*)::int as n from api_keys where tenant_id = '${t.tenantId}'`);
    const auditBefore = await count(`select count(*)::int as n from audit_log where tenant_id = '${t.tenantId}'`);
    const res = await app.post(
      {
        query: `mutation($me: ID!) {
          first: createApiKey(input: { name: "doomed", scopes: [read] }) { __typename }
          second: updateTenant(input: { name: "Renamed" }) { __typename }
          third: removeMember(membershipId: $me) { __typename }
        }`,
        variables: { me },
      },
      auth,
    );
    expect(res.json.data.first.__typename).toBe("CreateApiKeyPayload");
    expect(res.json.data.third.__typename).toBe("LastOwnerError");
    expect(await count(`select count(*)::int as n from api_keys where tenant_id = '${t.tenantId}'`)).toBe(keysBefore);
    expect(await count(`select count(*)::int as n from audit_log where tenant_id = '${t.tenantId}'`)).toBe(auditBefore);
    const [tenant] = await app.db.admin`select name from tenants where id = ${t.tenantId}`;
    expect(tenant!.name).toBe("Ledger College");
  });

  it("with a typed validation error writes nothing", async () => {
    const before = await count(`select count(*)::int as n from audit_log where tenant_id = '${t.tenantId}'`);
    const res = await t.owner.request(UpdateTenantDocument, { input: { name: "   " } });
    expect(res.updateTenant.__typename).toBe("ValidationError");
    expect(await count(`select count(*)::int as n from audit_log where tenant_id = '${t.tenantId}'`)).toBe(before);
  });

  it("commits when every mutation of the operation succeeds", async () => {
    const res = await t.owner.request(UpdateTenantDocument, { input: { name: "Ledger University" } });
    expect(res.updateTenant).toMatchObject({ __typename: "Tenant", name: "Ledger University" });
    const [tenant] = await app.db.admin`select name from tenants where id = ${t.tenantId}`;
    expect(tenant!.name).toBe("Ledger University");
  });
});

describe("the audit log", () => {
  it("records each change with actor, target, details and the request id", async () => {
    const res = await app.post(
      { query: 'mutation { updateTenant(input: { name: "Audited Name" }) { __typename } }' },
      { ...auth, "x-request-id": "audit-req-1" },
    );
    expect(res.json.data.updateTenant.__typename).toBe("Tenant");
    const log = await t.owner.request(AuditLogDocument, { first: 5, filter: { action: "tenant.updated" } });
    const entry = log.tenant.auditLog!.edges[0]!.node;
    expect(entry).toMatchObject({
      action: "tenant.updated",
      actorKind: "user",
      actorId: t.userId,
      actor: { name: "Olive Owner", kind: "user" },
      targetType: "Tenant",
      targetId: t.tenantId,
      requestId: "audit-req-1",
    });
    expect(entry.details).toMatchObject({ name: { to: "Audited Name" } });
  });

  it("attributes API-key changes to the key, and filters by actor, action prefix and time", async () => {
    const admin = await createKey(app, t.owner, ["admin"], "automation");
    await admin.client.request(UpdateTenantDocument, { input: { name: "Renamed By Key" } });
    const adminId = (await app.db.admin`select id from api_keys where prefix = ${admin.secret.slice(0, 12)}`)[0]!.id as string;
    const byKey = await t.owner.request(AuditLogDocument, { first: 10, filter: { actorId: adminId } });
    expect(byKey.tenant.auditLog!.edges.map((e) => e.node.action)).toEqual(["tenant.updated"]);
    expect(byKey.tenant.auditLog!.edges[0]!.node.actor).toEqual({ name: "automation", kind: "api_key" });

    const keys = await t.owner.request(AuditLogDocument, { first: 50, filter: { action: "api_key." } });
    expect(keys.tenant.auditLog!.edges.length).toBeGreaterThan(0);
    expect(keys.tenant.auditLog!.edges.every((e) => e.node.action.startsWith("api_key."))).toBe(true);

    const future = await t.owner.request(AuditLogDocument, { first: 50, filter: { since: new Date(Date.now() + 60_000).toISOString() } });
    expect(future.tenant.auditLog!.edges).toHaveLength(0);
    const past = await t.owner.request(AuditLogDocument, { first: 50, filter: { until: new Date(Date.now() + 60_000).toISOString() } });
    expect(past.tenant.auditLog!.edges.length).toBeGreaterThan(3);
  });

  it("pages newest first without gaps or repeats", async () => {
    const seen: string[] = [];
    let after: string | null | undefined;
    for (;;) {
      const page = await t.owner.request(AuditLogDocument, { first: 2, after });
      const conn = page.tenant.auditLog!;
      seen.push(...conn.edges.map((e) => e.node.id));
      if (!conn.pageInfo.hasNextPage) break;
      after = conn.pageInfo.endCursor;
    }
    const all = await t.owner.request(AuditLogDocument, { first: 100 });
    expect(seen).toEqual(all.tenant.auditLog!.edges.map((e) => e.node.id));
    const times = all.tenant.auditLog!.edges.map((e) => new Date(e.node.at).getTime());
    expect([...times].sort((x, y) => y - x)).toEqual(times);
  });

  it("cannot be edited or deleted, even by the tenant's own transaction", async () => {
    for (const statement of ["delete from audit_log", "update audit_log set action = 'x.y'"]) {
      await expect(
        app.db.admin.begin(async (tx) => {
          await tx`select set_config('role', ${TEST_ROLES.member}, true), set_config('app.tenant_id', ${t.tenantId}, true)`;
          await tx.unsafe(statement);
        }),
      ).rejects.toThrow(/permission denied/);
    }
  });
});

describe("list queries", () => {
  it("do not issue a query per row (members with their users: constant statement count)", async () => {
    // 30 members via SQL; a page of 5 and a page of 30 must cost the same number of statements.
    await app.db.admin.unsafe(`
      with u as (insert into users (email, name) select 'bulk' || g || '@example.test', 'Bulk ' || g from generate_series(1, 30) g returning id)
      insert into memberships (tenant_id, user_id, role) select '${t.tenantId}', id, 'viewer' from u`);
    const measure = async (first: number) => {
      app.queries.length = 0;
      const res = await t.owner.request(MembersDocument, { first });
      expect(res.tenant.members!.edges).toHaveLength(first);
      return app.queries.length;
    };
    const small = await measure(5);
    const large = await measure(30);
    expect(large).toBe(small);
    expect(large).toBeLessThanOrEqual(6);
  });

  it("API keys with their creators: constant statement count", async () => {
    for (let i = 0; i < 6; i++) await createKey(app, t.owner, ["read"], `k${i}`);
    app.queries.length = 0;
    await t.owner.request(ApiKeysDocument, { first: 2 });
    const few = app.queries.length;
    app.queries.length = 0;
    await t.owner.request(ApiKeysDocument, { first: 8 });
    expect(app.queries.length).toBe(few);
  });
});
