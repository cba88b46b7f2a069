// The OB 2.0 hosted documents as 1EdTech's OB 2.0 validator reads them: the Issuer always has an
// email (the profile's, else the platform's sender address), and a revoked Assertion carries the
// reason the issuer gave.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ActivateTemplateDocument,
  CreateTemplateDocument,
  IssueCredentialDocument,
  RevokeCredentialDocument,
  SuspendCredentialDocument,
  UpdateEmailSettingsDocument,
  UpdateIssuerProfileDocument,
} from "../../src/sdk/generated.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { signUpTenant, type TestTenant } from "../helpers/factories.js";

let app: TestApp;

const get = async (path: string) => {
  const res = await fetch(`${app.server.url}${path}`);
  expect(res.status).toBe(200);
  return res.json();
};

async function issued(t: TestTenant) {
  const { createTemplate } = await t.owner.request(CreateTemplateDocument, { kind: "BADGE", content: { name: "Hosted", description: "OB 2.0 too.", criteriaNarrative: "Be hosted." } });
  if (createTemplate.__typename !== "Template") throw new Error(JSON.stringify(createTemplate));
  await t.owner.request(ActivateTemplateDocument, { id: createTemplate.id });
  const { issueCredential } = await t.owner.request(IssueCredentialDocument, { input: { templateId: createTemplate.id, recipient: { email: "holder@example.test" } } });
  if (issueCredential.__typename !== "Credential") throw new Error(JSON.stringify(issueCredential));
  return { ...issueCredential, path: new URL(issueCredential.publicUrl).pathname };
}

beforeAll(async () => {
  app = await startTestApp();
});
afterAll(async () => app.close());

describe("the OB 2.0 Issuer", () => {
  it("has an email before the tenant sets one (the platform's sender address), then the profile's", async () => {
    const t = await signUpTenant(app, "Hosted Academy");
    const other = await signUpTenant(app, "Quiet Neighbour");
    expect(await get(`/issuers/${t.tenantId}/ob2`)).toMatchObject({ type: "Issuer", name: "Hosted Academy", email: "credentials@laurel.example" });
    // A reply-to may be someone's own mailbox: it is not published.
    const settings = await t.owner.request(UpdateEmailSettingsDocument, { input: { replyTo: "registrar@hosted.example" } });
    expect(settings.updateEmailSettings.__typename).toBe("EmailSettings");
    expect((await get(`/issuers/${t.tenantId}/ob2`)).email).toBe("credentials@laurel.example");

    const profile = await t.owner.request(UpdateIssuerProfileDocument, { input: { name: "Hosted Academy", email: "badges@hosted.example" } });
    expect(profile.updateIssuerProfile.__typename).toBe("IssuerProfile");
    expect((await get(`/issuers/${t.tenantId}/ob2`)).email).toBe("badges@hosted.example");
    expect((await get(`/issuers/${other.tenantId}/ob2`)).email).toBe("credentials@laurel.example");
    // The OB 3.0 profile states only what the issuer published as its own.
    expect((await get(`/issuers/${other.tenantId}`)).email).toBeUndefined();
  });
});

describe("the hosted OB 2.0 Assertion", () => {
  it("says nothing of revocation while valid or suspended, and gives the reason given once revoked", async () => {
    const t = await signUpTenant(app, "Revoking College");
    const credential = await issued(t);
    expect(await get(`${credential.path}/ob2`)).not.toHaveProperty("revoked");
    await t.owner.request(SuspendCredentialDocument, { id: credential.id });
    const suspended = await get(`${credential.path}/ob2`);
    expect(suspended).not.toHaveProperty("revoked");
    expect(suspended).not.toHaveProperty("revocationReason");

    const reason = "Awarded by mistake: the assessment was not passed";
    const { revokeCredential } = await t.owner.request(RevokeCredentialDocument, { id: credential.id, input: { reason } });
    expect(revokeCredential).toMatchObject({ status: "REVOKED", revocationReason: reason });
    expect(await get(`${credential.path}/ob2`)).toMatchObject({ type: "Assertion", revoked: true, revocationReason: reason });
  });
});
