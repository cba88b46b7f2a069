// Expected failures are answered, never masked: each example found in issue 8 gets its typed result
// or its code, and nothing else in the job or the request is lost for it.
import { mailSettings } from "../../src/modules/delivery/compose.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AcceptInvitationDocument,
  ActivateTemplateDocument,
  BulkJobDocument,
  CreateBulkIssuanceDocument,
  CreateRecipientDocument,
  CreateTemplateDocument,
  EmailMessagesDocument,
  InviteMemberDocument,
  IssueCredentialDocument,
  LogInDocument,
  SignUpDocument,
} from "../../src/sdk/generated.js";
import { LaurelRequestError } from "../../src/sdk/index.js";
import { withTenantTransaction } from "../../src/db/tenant-transaction.js";
import { processChunk } from "../../src/modules/bulk/service.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { createKey, signUpTenant, uniqueEmail, type TestTenant } from "../helpers/factories.js";
import { openedRecipientByEmail, openedRecipients, tokenSentTo } from "../helpers/sealed.js";
import { createRecipient } from "../../src/modules/recipients/service.js";
import { ROLE_PERMISSIONS } from "../../src/modules/auth/permissions.js";

let app: TestApp;
let t: TestTenant;
let templateId: string;

const rawId = (globalId: string) => Buffer.from(globalId, "base64").toString().split(":")[1]!;
const globalId = (type: string, id: string) => Buffer.from(`${type}:${id}`).toString("base64");

beforeAll(async () => {
  // No worker: bulk chunks are run by hand where the test needs the database to move in between.
  app = await startTestApp();
  t = await signUpTenant(app, "Expected College");
  const created = await t.owner.request(CreateTemplateDocument, { kind: "BADGE", content: { name: "Safety", description: "Safe.", criteriaNarrative: "Pass." } });
  if (created.createTemplate.__typename !== "Template") throw new Error(JSON.stringify(created));
  templateId = created.createTemplate.id;
  await t.owner.request(ActivateTemplateDocument, { id: templateId });
  await t.owner.request(CreateRecipientDocument, { input: { email: "holder@example.test", externalId: "S-1" } });
});
afterAll(async () => app.close());

const runChunks = (jobId: string) =>
  withTenantTransaction(app.database, { dbRole: app.config.roles.member, tenantId: t.tenantId, userId: null }, (db) =>
    processChunk(db, t.tenantId, jobId, mailSettings(app.config), 100),
  );

describe("an external id that another recipient has", () => {
  it("fails only its bulk row, with a clear problem, when the file is checked", async () => {
    const { createBulkIssuance } = await t.owner.request(CreateBulkIssuanceDocument, {
      input: { templateId, rows: [{ email: "taker@example.test", externalId: "S-1" }, { email: "fine@example.test", externalId: "S-9" }] },
    });
    if (createBulkIssuance.__typename !== "BulkJob") throw new Error(JSON.stringify(createBulkIssuance));
    expect(createBulkIssuance).toMatchObject({ totalRows: 2, failedCount: 1 });
    await runChunks(rawId(createBulkIssuance.id));
    await runChunks(rawId(createBulkIssuance.id));
    const { node } = await t.owner.request(BulkJobDocument, { id: createBulkIssuance.id });
    expect(node).toMatchObject({ status: "COMPLETED", issuedCount: 1, failedCount: 1 });
    expect((node as { failures: { edges: { node: unknown }[] } }).failures.edges.map((e) => e.node)).toEqual([
      { rowNumber: 1, problems: [{ row: 1, column: "external_id", message: "Another recipient already has this external id", existingCredentialId: null }] },
    ]);
  });

  it("fails only its bulk row when another recipient takes it between the check and the issuing", async () => {
    const { createBulkIssuance } = await t.owner.request(CreateBulkIssuanceDocument, {
      input: { templateId, rows: [{ email: "late@example.test", externalId: "S-2" }, { email: "fine2@example.test" }] },
    });
    if (createBulkIssuance.__typename !== "BulkJob") throw new Error(JSON.stringify(createBulkIssuance));
    expect(createBulkIssuance.failedCount).toBe(0);
    await t.owner.request(CreateRecipientDocument, { input: { email: "early@example.test", externalId: "S-2" } });
    expect(await runChunks(rawId(createBulkIssuance.id))).toEqual({ done: false, issued: 1, failed: 1 });
    const [row] = await app.db.admin`select status, errors from bulk_job_rows where job_id = ${rawId(createBulkIssuance.id)} and row_number = 1`;
    expect(row).toEqual({ status: "FAILED", errors: [{ row: 1, column: "external_id", message: "Another recipient already has this external id" }] });
  });

  it("is a typed RecipientExistsError from issueCredential, naming the field, and nothing is written", async () => {
    const before = await app.db.admin`select count(*)::int as n from credentials where tenant_id = ${t.tenantId}`;
    const { issueCredential } = await t.owner.request(IssueCredentialDocument, { input: { templateId, recipient: { email: "other@example.test", externalId: "S-1" } } });
    expect(issueCredential).toMatchObject({ __typename: "RecipientExistsError", path: ["input", "recipient", "externalId"], message: "Another recipient already has this external id" });
    expect(await app.db.admin`select count(*)::int as n from credentials where tenant_id = ${t.tenantId}`).toEqual(before);
    expect(await openedRecipientByEmail(app, "other@example.test")).toBeNull();
  });
});
describe("a recipient created by another transaction while a bulk chunk issues to the same email", () => {
  it("is the one the chunk issues to: no second recipient, no failed row, the committed name", async () => {
    const email = uniqueEmail("racer");
    const { createBulkIssuance } = await t.owner.request(CreateBulkIssuanceDocument, { input: { templateId, rows: [{ email, name: "Row Name" }] } });
    if (createBulkIssuance.__typename !== "BulkJob") throw new Error(JSON.stringify(createBulkIssuance));
    // Another transaction inserts the same person and holds its commit until the chunk waits on it.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let inserted!: () => void;
    const didInsert = new Promise<void>((r) => (inserted = r));
    const caller = { tenantId: t.tenantId, actor: { kind: "user" as const, id: t.userId }, permissions: ROLE_PERMISSIONS.owner, requestId: "race" };
    const other = withTenantTransaction(app.database, { dbRole: app.config.roles.member, tenantId: t.tenantId, userId: t.userId }, async (db) => {
      const created = await createRecipient(db, caller, { email, name: "Early Name" });
      inserted();
      await held;
      return created;
    });
    await didInsert;
    const chunk = runChunks(rawId(createBulkIssuance.id));
    // The chunk read no such person, then its insert waits on the other's unique email index.
    for (let n = 0; ; n++) {
      const [waiting] = await app.db.admin`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`;
      if (waiting!.n > 0) break;
      if (n > 200) throw new Error("the chunk never waited on the other transaction");
      await new Promise((r) => setTimeout(r, 25));
    }
    release();
    const early = await other;
    expect(await chunk).toEqual({ done: false, issued: 1, failed: 0 });
    const [credential] = await app.db.admin`select recipient_id from credentials where tenant_id = ${t.tenantId} and bulk_job_id = ${rawId(createBulkIssuance.id)}`;
    expect(credential!.recipient_id).toBe(early.id);
    const people = (await openedRecipients(app)).filter((r) => r.email === email);
    expect(people.map((p) => p.name)).toEqual(["Early Name"]);
  });
});


describe("callers the operation does not expect", () => {
  it("anonymous node and nodes are UNAUTHENTICATED", async () => {
    for (const query of ["query($id: ID!) { node(id: $id) { id } }", "query($id: ID!) { nodes(ids: [$id]) { id } }"]) {
      const res = await app.post({ query, variables: { id: templateId } });
      expect(res.json.errors.map((e: { extensions: { code: string } }) => e.extensions.code)).toEqual(["UNAUTHENTICATED"]);
    }
  });

  it("sign-up, log-in and accepting an invitation work whatever bearer token is sent with them", async () => {
    const key = await createKey(app, t.owner, ["issue"]);
    for (const client of [t.owner, key.client]) {
      const email = uniqueEmail("second");
      const { signUp } = await client.request(SignUpDocument, { input: { email, password: "correct horse battery", name: "Second", organizationName: `Org of ${email}` } });
      expect(signUp.__typename).toBe("SessionPayload");
      const { logIn } = await client.request(LogInDocument, { input: { email, password: "correct horse battery" } });
      expect(logIn.__typename).toBe("SessionPayload");
    }
    const invited = uniqueEmail("invited");
    await t.owner.request(InviteMemberDocument, { input: { email: invited, role: "viewer" } });
    const row = { token: await tokenSentTo(app, invited) };
    const { acceptInvitation } = await key.client.request(AcceptInvitationDocument, { input: { token: row!.token, name: "Invited", password: "a long enough password" } });
    expect(acceptInvitation).toMatchObject({ __typename: "AcceptInvitationPayload", role: "viewer" });
  });

  it("a way in beside other fields is a ValidationError, not a masked failure", async () => {
    const res = await app.post(
      { query: `mutation { logIn(input: { email: "${t.email}", password: "${t.password}" }) { __typename ... on Error { message } } logOut }` },
      { authorization: `Bearer ${t.token}` },
    );
    expect(res.json.data.logIn).toEqual({ __typename: "ValidationError", message: "Send logIn as the only field of its mutation (a bearer token sent with it is ignored)" });
    expect(JSON.stringify(res.json)).not.toContain("INTERNAL_SERVER_ERROR");
  });
});

describe("emailMessages(credentialId:)", () => {
  it("takes the credential's global id, like every other argument, and gives it back", async () => {
    const { issueCredential } = await t.owner.request(IssueCredentialDocument, { input: { templateId, recipient: { email: "mail@example.test" } } });
    if (issueCredential.__typename !== "Credential") throw new Error(JSON.stringify(issueCredential));
    const mine = await t.owner.request(EmailMessagesDocument, { first: 10, credentialId: issueCredential.id });
    expect(mine.tenant.emailMessages!.edges.map((e) => [e.node.toEmail, e.node.credentialId])).toEqual([["mail@example.test", issueCredential.id]]);
    const wrongType = await t.owner.request(EmailMessagesDocument, { first: 10, credentialId: globalId("Template", rawId(issueCredential.id)) });
    expect(wrongType.tenant.emailMessages!.totalCount).toBe(0);
    const raw = await t.owner.request(EmailMessagesDocument, { first: 10, credentialId: rawId(issueCredential.id) }).catch((e: unknown) => e);
    expect((raw as LaurelRequestError).code).toBe("BAD_USER_INPUT");
  });
});
