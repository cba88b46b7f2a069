// engagementSummary counts raw events, so it is refused while the tenant hides small cells
// (minimumGroupSize > 1), as the raw event export is, and it is deprecated for the analytics operations.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EngagementSummaryDocument, SetMinimumGroupSizeDocument } from "../../src/sdk/generated.js";
import { LaurelRequestError } from "../../src/sdk/index.js";
import { schema } from "../../src/schema.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { createKey } from "../helpers/factories.js";
import { hit, tenantWithTemplate, type EngagementTenant } from "./setup.js";

let app: TestApp;
let t: EngagementTenant;
const DAY = 86_400_000;
const around = () => ({ from: new Date(Date.now() - DAY).toISOString(), to: new Date(Date.now() + DAY).toISOString() });

async function failure(request: Promise<unknown>): Promise<LaurelRequestError> {
  const error = await request.then(() => null, (e: unknown) => e);
  expect(error).toBeInstanceOf(LaurelRequestError);
  return error as LaurelRequestError;
}

beforeAll(async () => {
  app = await startTestApp();
  t = await tenantWithTemplate(app, "Summary College");
  for (const credential of [await t.issue(), await t.issue()]) expect((await hit(app, credential.pagePath)).status).toBe(200);
});
afterAll(async () => app.close());

describe("engagementSummary", () => {
  it("is refused with SUPPRESSION_IN_FORCE while minimumGroupSize is above 1, for owners and analytics keys alike", async () => {
    const analyst = await createKey(app, t.owner, ["analytics"]);
    expect((await t.owner.request(SetMinimumGroupSizeDocument, { minimumGroupSize: 3 })).updateTenant).toMatchObject({ minimumGroupSize: 3 });
    for (const client of [t.owner, analyst.client]) {
      for (const variables of [around(), { ...around(), templateId: t.templateNodeId }]) {
        const error = await failure(client.request(EngagementSummaryDocument, variables));
        expect(error.code).toBe("SUPPRESSION_IN_FORCE");
        expect(error.errors[0]!.message).toMatch(/minimumGroupSize is 3.*engagementTimeSeries.*engagementBreakdown/);
      }
    }
    await t.owner.request(SetMinimumGroupSizeDocument, { minimumGroupSize: 1 });
    const { engagementSummary } = await analyst.client.request(EngagementSummaryDocument, around());
    expect(engagementSummary.length).toBeGreaterThan(0);
  });

  it("is deprecated in favour of engagementTimeSeries", () => {
    expect(schema.getQueryType()!.getFields().engagementSummary!.deprecationReason).toMatch(/engagementTimeSeries/);
  });
});

