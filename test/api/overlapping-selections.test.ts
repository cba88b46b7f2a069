// One row reached through two fields in one operation: Prisma batches such lookups and, when their
// shapes differ, opens a transaction of its own inside the request's. Every combination must answer.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { signUpTenant, type TestTenant } from "../helpers/factories.js";

let app: TestApp;
let t: TestTenant;
let auth: Record<string, string>;
beforeAll(async () => {
  app = await startTestApp();
  t = await signUpTenant(app, "Overlap College");
  auth = { authorization: `Bearer ${t.token}` };
});
afterAll(async () => app.close());

describe("overlapping selections", () => {
  it("answer a query that reaches the tenant through viewer and directly", async () => {
    const res = await app.post({ query: `{ viewer { tenant { id name } } tenant { id slug } }` }, auth);
    expect(res.json.errors).toBeUndefined();
    expect(res.json.data.viewer.tenant.id).toBe(res.json.data.tenant.id);
  });

  it("answer a mutation whose result selects a relation, and keep its write", async () => {
    const res = await app.post(
      { query: `mutation { updateTenant(input: { name: "Overlap University" }) { ... on Tenant { name members(first: 2) { totalCount } } } }` },
      auth,
    );
    expect(res.json.errors).toBeUndefined();
    expect(res.json.data.updateTenant).toEqual({ name: "Overlap University", members: { totalCount: 1 } });
    const [row] = await app.db.admin`select name from tenants where id = ${t.tenantId}`;
    expect(row!.name).toBe("Overlap University");
  });
});

describe("a delete whose result selects a relation", () => {
  it("deletes the endpoint and answers", async () => {
    const created = await app.post(
      { query: `mutation { createWebhookEndpoint(input: { url: "https://partner.example/hook", eventTypes: ["credential.issued"] }) { ... on WebhookSecretPayload { endpoint { id } } } }` },
      auth,
    );
    const id = created.json.data.createWebhookEndpoint.endpoint.id as string;
    const res = await app.post(
      { query: `mutation($id: ID!) { deleteWebhookEndpoint(id: $id) { __typename ... on WebhookEndpoint { url deliveries(first: 5) { edges { node { id } } } } } }`, variables: { id } },
      auth,
    );
    expect(res.json.errors).toBeUndefined();
    expect(res.json.data.deleteWebhookEndpoint.__typename).toBe("WebhookEndpoint");
    const rows = await app.db.admin`select 1 from webhook_endpoints where tenant_id = ${t.tenantId}`;
    expect(rows.length).toBe(0);
  });
});
