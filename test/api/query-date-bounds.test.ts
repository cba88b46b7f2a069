// DateTime inputs that reach SQL take bounded instants: year 0 is no date to PostgreSQL (it was a masked
// INTERNAL_SERVER_ERROR), so a query bound is 1970 to 2200 (as analytics ranges) and a stored expiry is
// within the years Laurel writes.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuditLogDocument, CreateApiKeyDocument, EngagementSummaryDocument } from "../../src/sdk/generated.js";
import { LaurelRequestError } from "../../src/sdk/index.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { createKey, signUpTenant, type TestTenant } from "../helpers/factories.js";

let app: TestApp;
let t: TestTenant;

async function failure(request: Promise<unknown>): Promise<LaurelRequestError> {
  const error = await request.then(() => null, (e: unknown) => e);
  expect(error).toBeInstanceOf(LaurelRequestError);
  return error as LaurelRequestError;
}

beforeAll(async () => {
  app = await startTestApp();
  t = await signUpTenant(app, "Date Bounds College");
  await createKey(app, t.owner, ["read"]); // something in the audit log
});
afterAll(async () => app.close());

describe("DateTime inputs that reach SQL", () => {
  it("engagementSummary refuses ranges outside 1970-2200 as BAD_USER_INPUT", async () => {
    for (const [from, to] of [
      ["0000-01-01T00:00:00Z", "0000-01-02T00:00:00Z"],
      ["1969-12-31T00:00:00Z", "1970-01-02T00:00:00Z"],
      ["2199-12-31T00:00:00Z", "2200-01-02T00:00:00Z"],
    ]) {
      const error = await failure(t.owner.request(EngagementSummaryDocument, { from: from!, to: to! }));
      expect([from, to, error.code]).toEqual([from, to, "BAD_USER_INPUT"]);
      expect(error.errors[0]!.message).toMatch(/between 1970-01-01T00:00:00Z and 2200-01-01T00:00:00Z/);
    }
    const { engagementSummary } = await t.owner.request(EngagementSummaryDocument, { from: "2199-12-01T00:00:00Z", to: "2200-01-01T00:00:00Z" });
    expect(engagementSummary.every((c) => c.people === 0 && c.machines === 0)).toBe(true);
  });

  it("the audit log's since and until outside 1970-2200 are BAD_USER_INPUT", async () => {
    for (const filter of [{ since: "0000-01-01T00:00:00Z" }, { until: "0000-01-01T00:00:00Z" }, { until: "9999-12-31T00:00:00Z" }]) {
      const error = await failure(t.owner.request(AuditLogDocument, { first: 5, filter }));
      expect([filter, error.code]).toEqual([filter, "BAD_USER_INPUT"]);
    }
    const { tenant } = await t.owner.request(AuditLogDocument, { first: 5, filter: { since: "1970-01-01T00:00:00Z", until: "2200-01-01T00:00:00Z" } });
    expect(tenant.auditLog!.edges.length).toBeGreaterThan(0);
  });

  it("an API key's expiresAt past 2199 is a ValidationError on it", async () => {
    const { createApiKey } = await t.owner.request(CreateApiKeyDocument, { input: { name: "far", scopes: ["read"], expiresAt: "9999-12-31T00:00:00Z" } });
    expect(createApiKey).toMatchObject({ __typename: "ValidationError", fieldErrors: [{ path: ["input", "expiresAt"], message: expect.stringMatching(/Out of range/) }] });
  });
});
