// A sender domain belongs to one tenant. The guard that says so must look at other tenants' domains
// (issue 8 A: it ran as a role that saw only the caller's rows, and never fired): a second tenant can
// neither add, nor verify, nor send from a domain another tenant verified, and is told why.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AddSenderDomainDocument, UpdateEmailSettingsDocument, VerifySenderDomainDocument } from "../../src/sdk/generated.js";
import type { LaurelClient } from "../../src/sdk/index.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { signUpTenant, type TestTenant } from "../helpers/factories.js";

let app: TestApp;
let first: TestTenant;
let second: TestTenant;
beforeAll(async () => {
  app = await startTestApp();
  first = await signUpTenant(app, "First Claimant");
  second = await signUpTenant(app, "Second Claimant");
});
afterAll(async () => app.close());

async function add(client: LaurelClient, domain: string) {
  return (await client.request(AddSenderDomainDocument, { domain })).addSenderDomain;
}

async function verify(client: LaurelClient, id: string) {
  return (await client.request(VerifySenderDomainDocument, { id })).verifySenderDomain;
}

const verifiedRows = async (domain: string) =>
  app.db.admin`select tenant_id from sender_domains where domain = ${domain} and status = 'verified'`;

describe("a domain another tenant verified", () => {
  it("cannot be added, and nothing is written", async () => {
    const added = await add(first.owner, "shared-one.example");
    if (added.__typename !== "SenderDomain") throw new Error(JSON.stringify(added));
    expect(await verify(first.owner, added.id)).toMatchObject({ __typename: "SenderDomain", status: "verified" });

    const refused = await add(second.owner, "Shared-One.example");
    expect(refused).toMatchObject({
      __typename: "ValidationError",
      fieldErrors: [{ path: ["domain"], message: "Another organisation already sends from this domain" }],
    });
    expect(await app.db.admin`select 1 from sender_domains where tenant_id = ${second.tenantId}`).toHaveLength(0);
  });

  it("cannot be verified by a tenant that added it while it was still pending elsewhere", async () => {
    const mine = await add(first.owner, "shared-two.example");
    const theirs = await add(second.owner, "shared-two.example");
    if (mine.__typename !== "SenderDomain" || theirs.__typename !== "SenderDomain") throw new Error("add");
    expect(await verify(first.owner, mine.id)).toMatchObject({ status: "verified" });
    expect(await verify(second.owner, theirs.id)).toMatchObject({
      __typename: "ValidationError",
      fieldErrors: [{ path: ["id"], message: "Another organisation already sends from this domain" }],
    });
    expect((await verifiedRows("shared-two.example")).map((r) => r.tenant_id)).toEqual([first.tenantId]);
  });

  it("cannot be sent from: the second tenant's from address on it is refused", async () => {
    const refused = await second.owner.request(UpdateEmailSettingsDocument, { input: { fromAddress: "awards@shared-one.example", fromName: "Not Them" } });
    expect(refused.updateEmailSettings).toMatchObject({ __typename: "ValidationError", fieldErrors: [{ path: ["input", "fromAddress"] }] });
    const own = await first.owner.request(UpdateEmailSettingsDocument, { input: { fromAddress: "awards@shared-one.example", fromName: "First" } });
    expect(own.updateEmailSettings.__typename).toBe("EmailSettings");
  });

  it("stays one tenant's even when two verify at the same moment", async () => {
    const mine = await add(first.owner, "shared-three.example");
    const theirs = await add(second.owner, "shared-three.example");
    if (mine.__typename !== "SenderDomain" || theirs.__typename !== "SenderDomain") throw new Error("add");
    const results = await Promise.all([verify(first.owner, mine.id), verify(second.owner, theirs.id)]);
    expect(results.map((r) => r.__typename).sort()).toEqual(["SenderDomain", "ValidationError"]);
    expect(await verifiedRows("shared-three.example")).toHaveLength(1);
  });
});
