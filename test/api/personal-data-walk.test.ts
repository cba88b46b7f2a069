// Personal data stays behind the permission that guards it (issue 8 B): analysts and keys without
// personal:read read recipients' names through the signed document, and an issue key downloaded their
// emails. Here one tenant is seeded with distinctive values, then every field reachable from the
// schema's introspection is asked for, one leaf at a time, by callers who lack the permission. None of
// the values may appear anywhere in any answer; the owner, asking the same, finds each of them.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AcceptInvitationDocument,
  ActivateTemplateDocument,
  AuditLogDocument,
  CreateBulkIssuanceDocument,
  CreateTemplateDocument,
  CreateWebhookEndpointDocument,
  EmailMessagesDocument,
  InviteMemberDocument,
  IssueCredentialDocument,
  MembersDocument,
  RevokeCredentialDocument,
  SetTemplateDuplicatePolicyDocument,
} from "../../src/sdk/generated.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { createKey, signUpTenant, type TestTenant } from "../helpers/factories.js";
import { introspect, leafSelections, queryWalk, sendAll } from "./schema-walk.js";
import { keysOf, tokenSentTo } from "../helpers/sealed.js";
import { openInvitationEmail } from "../../src/modules/members/invitation-email.js";

let app: TestApp;
let t: TestTenant;
const ids: string[] = [];
let templateId = "";
let recipientId = "";
let resultCsvUrl = "";
const walkers: Record<string, string> = {};

// What a recipient is (personal:read), and who the members are (members:read).
const RECIPIENT = {
  name: "Zebulon Quixotebright",
  email: "zq-walk-7f3a@example.test",
  externalId: "EXT-PII-9931",
  studentNumber: "SN-PII-5528",
  course: "Course Kappa-Omicron-4471",
  narrative: "Narrative-PII-3317 by the holder",
  revocationReason: "Reason-PII-6612: the holder asked",
};
const BULK = { email: "bulkina-walk-2d9c@example.test", name: "Bulkina Rowsworth", badEmail: "not-an-email-PII-4410" };
const MEMBERS = { name: "Yolanda Membername", email: "yolanda-walk-51be@example.test", invitee: "invitee-walk-83fa@example.test" };
const recipientValues = [...Object.values(RECIPIENT), ...Object.values(BULK)];
const memberValues = () => [...Object.values(MEMBERS), t.email, "Olive Owner"];

const DAY = 86_400_000;
const QUARTER_HOUR = 15 * 60_000;
const aligned = (ms: number) => JSON.stringify(new Date(Math.floor(ms / QUARTER_HOUR) * QUARTER_HOUR).toISOString());
const REQUIRED: Record<string, string> = {
  from: JSON.stringify(new Date(Date.now() - 30 * DAY).toISOString()),
  to: JSON.stringify(new Date(Date.now() + DAY).toISOString()),
  // The analytics queries: aggregates over the same month.
  range: `{ from: ${aligned(Date.now() - 30 * DAY)}, to: ${aligned(Date.now() + DAY)} }`,
  interval: "DAY",
  measure: "EVENTS",
  "engagementBreakdown.by": "TEMPLATE",
  "topTemplates.by": "VIEWS",
};

async function joined(role: "viewer" | "analyst", email: string, name: string): Promise<string> {
  await t.owner.request(InviteMemberDocument, { input: { email, role } });
  const row = { token: await tokenSentTo(app, email) };
  const accepted = await app.client().request(AcceptInvitationDocument, { input: { token: row!.token, name, password: "a long enough password" } });
  if (accepted.acceptInvitation.__typename !== "AcceptInvitationPayload") throw new Error(JSON.stringify(accepted));
  return accepted.acceptInvitation.token!;
}

beforeAll(async () => {
  app = await startTestApp();
  t = await signUpTenant(app, "Walked University");
  const template = await t.owner.request(CreateTemplateDocument, {
    kind: "CERTIFICATE",
    content: { name: "Walked Course", description: "A course.", criteriaNarrative: "Attend.", customFields: [{ name: "course", type: "TEXT", required: true }] },
  });
  if (template.createTemplate.__typename !== "Template") throw new Error(JSON.stringify(template));
  templateId = template.createTemplate.id;
  // The certificate design queries ask for a template by id.
  REQUIRED["certificateDesign.templateId"] = REQUIRED["certificatePreview.templateId"] = JSON.stringify(templateId);
  await t.owner.request(ActivateTemplateDocument, { id: templateId });
  const issued = await t.owner.request(IssueCredentialDocument, {
    input: {
      templateId,
      recipient: { email: RECIPIENT.email, name: RECIPIENT.name, externalId: RECIPIENT.externalId, attributes: { studentNumber: RECIPIENT.studentNumber } },
      fieldValues: { course: RECIPIENT.course },
      evidence: [{ narrative: RECIPIENT.narrative }],
      idempotencyKey: "walk-1",
    },
  });
  if (issued.issueCredential.__typename !== "Credential") throw new Error(JSON.stringify(issued));
  recipientId = issued.issueCredential.recipient!.id;
  ids.push(issued.issueCredential.id, recipientId, templateId);
  // A revoked second credential: its reason reaches the credential, the audit log and a partner event.
  const endpoint = await t.owner.request(CreateWebhookEndpointDocument, { input: { url: "https://partner.example/laurel", eventTypes: ["credential.revoked"] } });
  if (endpoint.createWebhookEndpoint.__typename !== "WebhookSecretPayload") throw new Error(JSON.stringify(endpoint));
  ids.push(endpoint.createWebhookEndpoint.endpoint.id);
  await t.owner.request(SetTemplateDuplicatePolicyDocument, { id: templateId, policy: "ALLOW" });
  const second = await t.owner.request(IssueCredentialDocument, { input: { templateId, recipientId, fieldValues: { course: "Second" }, idempotencyKey: "walk-2" } });
  if (second.issueCredential.__typename !== "Credential") throw new Error(JSON.stringify(second));
  ids.push(second.issueCredential.id);
  await t.owner.request(RevokeCredentialDocument, { id: second.issueCredential.id, input: { reason: RECIPIENT.revocationReason } });
  const bulk = await t.owner.request(CreateBulkIssuanceDocument, {
    input: { templateId, rows: [{ email: BULK.email, name: BULK.name, fieldValues: { course: "Bulk" } }, { email: BULK.badEmail, fieldValues: { course: "Bulk" } }] },
  });
  if (bulk.createBulkIssuance.__typename !== "BulkJob") throw new Error(JSON.stringify(bulk));
  ids.push(bulk.createBulkIssuance.id);
  resultCsvUrl = bulk.createBulkIssuance.resultCsvUrl.replace(app.config.publicUrl, app.server.url);
  await joined("viewer", MEMBERS.email, MEMBERS.name);
  await t.owner.request(InviteMemberDocument, { input: { email: MEMBERS.invitee, role: "issuer" } });
  walkers.analyst = await joined("analyst", "analyst-walk@example.test", "Analyst Walker");
  walkers.analyticsKey = (await createKey(app, t.owner, ["analytics"])).secret;
  walkers.issueKey = (await createKey(app, t.owner, ["issue"])).secret;
  walkers.adminKey = (await createKey(app, t.owner, ["admin"])).secret;
  const messages = await t.owner.request(EmailMessagesDocument, { first: 20 });
  ids.push(...messages.tenant.emailMessages!.edges.map((e) => e.node.id));
  ids.push(...(await t.owner.request(MembersDocument, { first: 20 })).tenant.members!.edges.map((e) => e.node.id));
  ids.push(...(await t.owner.request(AuditLogDocument, { first: 30 })).tenant.auditLog!.edges.map((e) => e.node.id));
  const keys = await keysOf(app, t.tenantId);
  const invitations = await app.db.admin<{ id: string; key_version: number | null; email_sealed: Uint8Array | null; legacy_email: string | null }[]>`
    select id, key_version, email_sealed, legacy_email from invitations where tenant_id = ${t.tenantId}`;
  const invitation = invitations.find((i) => openInvitationEmail(keys, { id: i.id, keyVersion: i.key_version, emailSealed: i.email_sealed, legacyEmail: i.legacy_email }) === MEMBERS.invitee);
  ids.push(Buffer.from(`Invitation:${invitation!.id}`).toString("base64"));
}, 120_000);
afterAll(async () => app?.close());

/** Every answer to every reachable field, as one string to search. */
async function walk(token: string): Promise<string> {
  const schema = await introspect(app, token);
  const bodies = await sendAll(app, token, queryWalk(schema, ids, REQUIRED));
  return JSON.stringify(bodies).toLowerCase();
}

const found = (text: string, values: string[]) => values.filter((v) => text.includes(v.toLowerCase()));

describe("walking every reachable field", () => {
  it("finds each seeded value as the owner: the walk reaches where the data is", async () => {
    const text = await walk(t.token);
    const visibleInGraphQL = [...Object.values(RECIPIENT), ...memberValues()];
    expect(found(text, visibleInGraphQL)).toEqual(visibleInGraphQL);
  }, 120_000);

  for (const [walker, what] of [
    ["analyst", "an analyst (role)"],
    ["analyticsKey", "a key scoped analytics"],
    ["issueKey", "a key scoped issue"],
  ] as const) {
    it(`shows ${what} no recipient's and no other member's personal data`, async () => {
      expect(found(await walk(walkers[walker]!), [...recipientValues, ...memberValues()])).toEqual([]);
    }, 120_000);
  }

  it("shows a key scoped admin no recipient's personal data (members it may see)", async () => {
    const text = await walk(walkers.adminKey!);
    expect(found(text, recipientValues)).toEqual([]);
    expect(found(text, [MEMBERS.email])).toEqual([MEMBERS.email]); // members:read is its to have
  }, 120_000);

  it("returns an issue key nothing personal from issuing to an existing recipient", async () => {
    const schema = await introspect(app, walkers.issueKey!);
    const input = `{ templateId: ${JSON.stringify(templateId)}, recipientId: ${JSON.stringify(recipientId)}, fieldValues: { course: "Again" }, idempotencyKey: "walk-issue-key" }`;
    const selections = leafSelections(schema, schema.getType("Credential")!, REQUIRED, ["Mutation"]).map(
      (s) => `issueCredential(input: ${input}) { __typename ... on Credential { ${s} } }`,
    );
    const text = JSON.stringify(await sendAll(app, walkers.issueKey!, selections, "mutation")).toLowerCase();
    expect(text).toContain('"__typename":"credential"'); // issued, and asked about
    expect(found(text, recipientValues)).toEqual([]);
  }, 120_000);
});

describe("the bulk result CSV", () => {
  const download = async (token: string) => {
    const res = await fetch(resultCsvUrl, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    return res.text();
  };

  it("gives an issue key each row's outcome without the recipients' emails or credential links", async () => {
    const csv = await download(walkers.issueKey!);
    // A credential's id and URL open a public page naming its holder: personal:read, like the email.
    expect(csv.split("\n")[0]).toBe("row,status,problems");
    expect(csv).toMatch(/^2,FAILED,"email: Not a valid email address[^"\n]*"$/m);
    expect(found(csv.toLowerCase(), recipientValues)).toEqual([]);
  });

  it("gives the emails to a caller with personal:read", async () => {
    const csv = await download(t.token);
    expect(csv.split("\n")[0]).toBe("row,email,status,credential_id,credential_url,problems");
    expect(found(csv.toLowerCase(), [BULK.email, BULK.badEmail])).toEqual([BULK.email, BULK.badEmail]);
  });
});
