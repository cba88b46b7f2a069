// Text that cannot be stored or is not text (NUL, an unpaired surrogate) is refused in every text
// argument with a typed ValidationError naming the field, and nothing is written; in a bulk job only
// its row fails, reported with the row. Text is stored and signed in Unicode NFC.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ActivateTemplateDocument,
  BulkJobDocument,
  CreateApiKeyDocument,
  CreateBulkIssuanceDocument,
  CreateRecipientDocument,
  CreateTemplateDocument,
  CreateWebhookEndpointDocument,
  IssueCredentialDocument,
  RecipientsDocument,
  RevokeCredentialDocument,
  SetEmailTemplateDocument,
  SignUpDocument,
  UpdateIssuerProfileDocument,
  UpdateTenantDocument,
} from "../../src/sdk/generated.js";
import { LaurelRequestError } from "../../src/sdk/index.js";
import { recipientNameOf } from "../../src/modules/credentials/document.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { signUpTenant, type TestTenant } from "../helpers/factories.js";
import { DECEPTIVE_NAMES, GOOD_NAMES } from "../helpers/names.js";
import { openedRecipients } from "../helpers/sealed.js";

const NUL = "Ada\u0000Lovelace";
const LONE_SURROGATE = "Ada\ud800Lovelace";

let app: TestApp;
let t: TestTenant;
let templateId: string;
let credentialId: string;

const templateContent = (name = "Data Stewardship") => ({
  name,
  description: "For completing a course.",
  credentialDescription: "For completing {{course}}.",
  criteriaNarrative: "Pass the final assessment.",
  customFields: [{ name: "course", type: "TEXT" as const, required: true }],
});

beforeAll(async () => {
  app = await startTestApp({}, { worker: {} });
  t = await signUpTenant(app, "Text College");
  const created = await t.owner.request(CreateTemplateDocument, { kind: "BADGE", content: templateContent() });
  if (created.createTemplate.__typename !== "Template") throw new Error(JSON.stringify(created));
  templateId = created.createTemplate.id;
  await t.owner.request(ActivateTemplateDocument, { id: templateId });
  const issued = await t.owner.request(IssueCredentialDocument, {
    input: { templateId, recipient: { email: "grace@example.test", name: "Grace" }, fieldValues: { course: "Data 101" } },
  });
  if (issued.issueCredential.__typename !== "Credential") throw new Error(JSON.stringify(issued));
  credentialId = issued.issueCredential.id;
});
afterAll(async () => app.close());

/** Every row the tenant owns that these mutations could write, counted per table. */
async function written() {
  const [row] = await app.db.admin`
    select (select count(*) from recipients where tenant_id = ${t.tenantId})::int as recipients,
           (select count(*) from credentials where tenant_id = ${t.tenantId})::int as credentials,
           (select count(*) from credentials where tenant_id = ${t.tenantId} and status = 'REVOKED')::int as revoked,
           (select count(*) from template_versions where tenant_id = ${t.tenantId})::int as versions,
           (select count(*) from email_templates where tenant_id = ${t.tenantId})::int as email_templates,
           (select count(*) from api_keys where tenant_id = ${t.tenantId})::int as api_keys,
           (select count(*) from webhook_endpoints where tenant_id = ${t.tenantId})::int as endpoints,
           (select count(*) from audit_log where tenant_id = ${t.tenantId})::int as audit,
           (select name from tenants where id = ${t.tenantId}) as tenant_name,
           (select description from issuer_profiles where tenant_id = ${t.tenantId}) as profile_description`;
  return row;
}

type Result = { __typename: string; fieldErrors?: { path: string[]; message: string }[] };

/** Each mutation with the bad text placed in one of its text arguments, and the path it must name. */
const cases: { name: string; path: string[]; send: (bad: string) => Promise<Result> }[] = [
  { name: "createRecipient", path: ["input", "name"], send: async (bad) => (await t.owner.request(CreateRecipientDocument, { input: { email: "new@example.test", name: bad } })).createRecipient },
  { name: "createRecipient", path: ["input", "externalId"], send: async (bad) => (await t.owner.request(CreateRecipientDocument, { input: { email: "new@example.test", externalId: bad } })).createRecipient },
  { name: "createRecipient", path: ["input", "attributes", "team"], send: async (bad) => (await t.owner.request(CreateRecipientDocument, { input: { email: "new@example.test", attributes: { team: bad } } })).createRecipient },
  { name: "updateTenant", path: ["input", "name"], send: async (bad) => (await t.owner.request(UpdateTenantDocument, { input: { name: bad } })).updateTenant },
  { name: "createTemplate", path: ["content", "name"], send: async (bad) => (await t.owner.request(CreateTemplateDocument, { kind: "BADGE", content: templateContent(bad) })).createTemplate },
  {
    name: "createTemplate",
    path: ["content", "customFields", "0", "label"],
    send: async (bad) =>
      (await t.owner.request(CreateTemplateDocument, { kind: "BADGE", content: { ...templateContent(), customFields: [{ name: "course", label: bad, type: "TEXT", required: true }] } })).createTemplate,
  },
  { name: "createTemplate", path: ["content", "tags", "1"], send: async (bad) => (await t.owner.request(CreateTemplateDocument, { kind: "BADGE", content: { ...templateContent(), tags: ["fine", bad] } })).createTemplate },
  {
    name: "issueCredential",
    path: ["input", "recipient", "name"],
    send: async (bad) => (await t.owner.request(IssueCredentialDocument, { input: { templateId, recipient: { email: "new@example.test", name: bad }, fieldValues: { course: "Data 101" } } })).issueCredential,
  },
  {
    name: "issueCredential",
    path: ["input", "fieldValues", "course"],
    send: async (bad) => (await t.owner.request(IssueCredentialDocument, { input: { templateId, recipient: { email: "new@example.test" }, fieldValues: { course: bad } } })).issueCredential,
  },
  {
    name: "issueCredential",
    path: ["input", "evidence", "0", "narrative"],
    send: async (bad) =>
      (await t.owner.request(IssueCredentialDocument, { input: { templateId, recipient: { email: "new@example.test" }, fieldValues: { course: "Data 101" }, evidence: [{ narrative: bad }] } })).issueCredential,
  },
  { name: "revokeCredential", path: ["input", "reason"], send: async (bad) => (await t.owner.request(RevokeCredentialDocument, { id: credentialId, input: { reason: bad } })).revokeCredential },
  {
    name: "setEmailTemplate",
    path: ["input", "subject"],
    send: async (bad) => (await t.owner.request(SetEmailTemplateDocument, { input: { kind: "credential_issued", locale: "en", subject: bad, html: "<p>Hi</p>", text: "Hi" } })).setEmailTemplate,
  },
  {
    name: "setEmailTemplate",
    path: ["input", "html"],
    send: async (bad) => (await t.owner.request(SetEmailTemplateDocument, { input: { kind: "credential_issued", locale: "en", subject: "Hi", html: bad, text: "Hi" } })).setEmailTemplate,
  },
  { name: "createApiKey", path: ["input", "name"], send: async (bad) => (await t.owner.request(CreateApiKeyDocument, { input: { name: bad, scopes: ["read"] } })).createApiKey },
  {
    name: "createWebhookEndpoint",
    path: ["input", "description"],
    send: async (bad) => (await t.owner.request(CreateWebhookEndpointDocument, { input: { url: "https://partner.example/hook", description: bad, eventTypes: ["credential.issued"] } })).createWebhookEndpoint,
  },
  { name: "updateIssuerProfile", path: ["input", "description"], send: async (bad) => (await t.owner.request(UpdateIssuerProfileDocument, { input: { name: "Text College", description: bad } })).updateIssuerProfile },
];

describe("text that is not text", () => {
  for (const [label, bad] of [["NUL", NUL], ["a lone surrogate", LONE_SURROGATE]] as const) {
    it(`${label} in any text argument of a mutation is a ValidationError naming the field, and nothing is written`, async () => {
      const before = await written();
      for (const c of cases) {
        const result = await c.send(bad);
        expect(result.__typename, `${c.name} ${c.path.join(".")}`).toBe("ValidationError");
        expect(result.fieldErrors?.[0]?.path, c.name).toEqual(c.path);
        expect(result.fieldErrors?.[0]?.message).toMatch(label === "NUL" ? /U\+0000 \(NUL\) at character 4/ : /unpaired surrogate \(U\+D800\) at character 4/);
      }
      expect(await written()).toEqual(before);
    });
  }

  it("is refused in sign-up too, which creates no account", async () => {
    const { signUp } = await app.client().request(SignUpDocument, {
      input: { email: "nul@example.test", password: "correct horse battery", name: "Nul", organizationName: NUL },
    });
    expect(signUp).toMatchObject({ __typename: "ValidationError", fieldErrors: [{ path: ["input", "organizationName"] }] });
    expect(await app.db.admin`select 1 from users where email = 'nul@example.test'`).toHaveLength(0);
  });

  it("in a query's argument is BAD_USER_INPUT before the database sees it", async () => {
    const error = await t.owner.request(RecipientsDocument, { first: 5, search: LONE_SURROGATE }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LaurelRequestError);
    expect((error as LaurelRequestError).code).toBe("BAD_USER_INPUT");
    expect((error as LaurelRequestError).message).toMatch(/recipients\(search\).*unpaired surrogate/);
  });
});

describe("text in NFC", () => {
  it("stores and signs a decomposed name in its composed form", async () => {
    const decomposed = "Zoe\u0308";
    const res = await t.owner.request(IssueCredentialDocument, {
      input: { templateId, recipient: { email: "zoe@example.test", name: decomposed }, fieldValues: { course: "Chimie ge\u0301ne\u0301rale" } },
    });
    if (res.issueCredential.__typename !== "Credential") throw new Error(JSON.stringify(res));
    const document = res.issueCredential.verifiableCredential as Record<string, unknown>;
    expect(recipientNameOf(document)).toBe("Zo\u00eb");
    expect(document.description).toBe("For completing Chimie g\u00e9n\u00e9rale.");
    const row = (await openedRecipients(app, t.tenantId)).find((r) => r.email === "zoe@example.test");
    expect(row!.name).toBe("Zo\u00eb");
    const found = await t.owner.request(RecipientsDocument, { first: 5, search: decomposed });
    expect(found.tenant.recipients!.edges.map((e) => e.node.name)).toEqual(["Zo\u00eb"]);
  });
});

describe("a bulk job with rows that are not text", () => {
  it("fails only those rows, reports each problem with its row and column, and issues the rest", async () => {
    const rows = [
      { email: "one@bulk.test", name: "One", fieldValues: { course: "Maths" } },
      { email: "two@bulk.test", name: NUL, fieldValues: { course: "Maths" } },
      { email: "three@bulk.test", name: "Three", fieldValues: { course: LONE_SURROGATE } },
      { email: "four@bulk.test", name: "Zoe\u0308", fieldValues: { course: "Maths" } },
    ];
    const created = await t.owner.request(CreateBulkIssuanceDocument, { input: { templateId, rows } });
    if (created.createBulkIssuance.__typename !== "BulkJob") throw new Error(JSON.stringify(created));
    expect(created.createBulkIssuance).toMatchObject({ totalRows: 4, failedCount: 2 });
    let job;
    for (;;) {
      const { node } = await t.owner.request(BulkJobDocument, { id: created.createBulkIssuance.id });
      job = node as { status: string; issuedCount: number; failures: { edges: { node: { rowNumber: number; problems: { column: string; message: string }[] } }[] } };
      if (job.status === "COMPLETED" || job.status === "FAILED") break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(job).toMatchObject({ status: "COMPLETED", issuedCount: 2 });
    const failures = job.failures.edges.map((e) => e.node);
    expect(failures.map((f) => [f.rowNumber, f.problems.map((p) => p.column)])).toEqual([[2, ["name"]], [3, ["course"]]]);
    expect(failures[0]!.problems[0]!.message).toMatch(/U\+0000 \(NUL\)/);
    expect(failures[1]!.problems[0]!.message).toMatch(/unpaired surrogate/);
    const csv = await fetch(`${app.server.url}/bulk-jobs/${Buffer.from(created.createBulkIssuance.id, "base64").toString().split(":")[1]}/result.csv`, {
      headers: { authorization: `Bearer ${t.token}` },
    });
    const lines = (await csv.text()).trim().split("\n");
    expect(lines[2]).toMatch(/^2,two@bulk\.test,FAILED,,,"name: Contains U\+0000 \(NUL\) at character 4/);
    expect(lines[3]).toMatch(/^3,three@bulk\.test,FAILED,,,"course: Contains an unpaired surrogate/);
    const names = (await openedRecipients(app, t.tenantId)).filter((r) => r.email.endsWith("@bulk.test")).sort((a, b) => (a.email < b.email ? -1 : 1));
    expect(names.map((r) => [r.email, r.name])).toEqual([["four@bulk.test", "Zo\u00eb"], ["one@bulk.test", "One"]]);
  });
});

describe("text that would be lost or shown differently from what is signed (attack QA)", () => {
  it("refuses a name of spaces only (ASCII, no-break, ideographic) instead of dropping it", async () => {
    const before = await written();
    for (const name of ["     ", "\u00A0\u00A0\u00A0", "\u3000"]) {
      const { createRecipient } = await t.owner.request(CreateRecipientDocument, { input: { email: "blank@example.test", name } });
      expect(createRecipient, JSON.stringify(name)).toMatchObject({ __typename: "ValidationError", fieldErrors: [{ path: ["input", "name"], message: expect.stringMatching(/at least one visible/) }] });
      const { issueCredential } = await t.owner.request(IssueCredentialDocument, { input: { templateId, recipient: { email: "blank@example.test", name }, fieldValues: { course: "Data 101" } } });
      expect(issueCredential.__typename, JSON.stringify(name)).toBe("ValidationError");
    }
    expect(await written()).toEqual(before);
  });

  it("refuses bidi controls in a custom field's value, which is signed into the description", async () => {
    const before = await written();
    const { issueCredential } = await t.owner.request(IssueCredentialDocument, {
      input: { templateId, recipient: { email: "field.tester@example.test", name: "Field Tester" }, fieldValues: { course: "Data \u202E101 ecnacifingis" } },
    });
    expect(issueCredential).toMatchObject({ __typename: "ValidationError", fieldErrors: [{ path: ["input", "fieldValues", "course"], message: expect.stringMatching(/bidirectional.*U\+202E at character 6/) }] });
    expect(await written()).toEqual(before);
  });
});

describe("names that would display differently from what is signed", () => {
  it("are a ValidationError naming the problem in createRecipient and issueCredential, and nothing is written", async () => {
    const before = await written();
    for (const [what, name, message] of DECEPTIVE_NAMES) {
      const { createRecipient } = await t.owner.request(CreateRecipientDocument, { input: { email: "deceptive@example.test", name } });
      expect(createRecipient, what).toMatchObject({ __typename: "ValidationError", fieldErrors: [{ path: ["input", "name"], message: expect.stringMatching(message) }] });
      const { issueCredential } = await t.owner.request(IssueCredentialDocument, {
        input: { templateId, recipient: { email: "deceptive@example.test", name }, fieldValues: { course: "Data 101" } },
      });
      expect(issueCredential.__typename, what).toBe("ValidationError");
      expect((issueCredential as Result).fieldErrors?.[0]?.message, what).toMatch(message);
    }
    expect(await written()).toEqual(before);
  });

  it("fail only their rows in a bulk job, reported in the name column", async () => {
    const rows = [
      { email: "fine@names.test", name: "Fine Name", fieldValues: { course: "Maths" } },
      ...DECEPTIVE_NAMES.map(([, name], i) => ({ email: `bad${i}@names.test`, name, fieldValues: { course: "Maths" } })),
    ];
    const created = await t.owner.request(CreateBulkIssuanceDocument, { input: { templateId, rows } });
    if (created.createBulkIssuance.__typename !== "BulkJob") throw new Error(JSON.stringify(created));
    expect(created.createBulkIssuance).toMatchObject({ totalRows: rows.length, failedCount: DECEPTIVE_NAMES.length });
    let job;
    for (;;) {
      const { node } = await t.owner.request(BulkJobDocument, { id: created.createBulkIssuance.id });
      job = node as { status: string; issuedCount: number; failures: { edges: { node: { rowNumber: number; problems: { column: string; message: string }[] } }[] } };
      if (job.status === "COMPLETED" || job.status === "FAILED") break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(job).toMatchObject({ status: "COMPLETED", issuedCount: 1 });
    const failures = job.failures.edges.map((e) => e.node);
    expect(failures.map((f) => [f.rowNumber, f.problems.map((p) => p.column)])).toEqual(DECEPTIVE_NAMES.map((_, i) => [i + 2, ["name"]]));
    failures.forEach((f, i) => expect(f.problems[0]!.message, DECEPTIVE_NAMES[i]![0]).toMatch(DECEPTIVE_NAMES[i]![2]));
    const stored = (await openedRecipients(app, t.tenantId)).filter((r) => r.email.endsWith("@names.test"));
    expect(stored.map((r) => r.email)).toEqual(["fine@names.test"]);
  });

  it("are refused as the organisation's, issuer's or achievement's name too, which are signed or shown with a credential", async () => {
    const before = await written();
    const sends: [string, string[], (bad: string) => Promise<Result>][] = [
      ["updateTenant", ["input", "name"], async (bad) => (await t.owner.request(UpdateTenantDocument, { input: { name: bad } })).updateTenant],
      ["updateIssuerProfile", ["input", "name"], async (bad) => (await t.owner.request(UpdateIssuerProfileDocument, { input: { name: bad } })).updateIssuerProfile],
      // The template service names its problems under "input" although the argument is "content" (as before).
      ["createTemplate", ["input", "name"], async (bad) => (await t.owner.request(CreateTemplateDocument, { kind: "BADGE", content: templateContent(bad) })).createTemplate],
    ];
    for (const [mutation, path, send] of sends) {
      for (const [what, name, message] of DECEPTIVE_NAMES) {
        expect(await send(name), `${mutation}: ${what}`).toMatchObject({ __typename: "ValidationError", fieldErrors: [{ path, message: expect.stringMatching(message) }] });
      }
    }
    const { signUp } = await app.client().request(SignUpDocument, {
      input: { email: "rlo@example.test", password: "correct horse battery", name: "Rlo", organizationName: DECEPTIVE_NAMES[0]![1] },
    });
    expect(signUp).toMatchObject({ __typename: "ValidationError", fieldErrors: [{ path: ["input", "organizationName"] }] });
    expect(await app.db.admin`select 1 from users where email = 'rlo@example.test'`).toHaveLength(0);
    expect(await written()).toEqual(before);
    for (const [what, name] of GOOD_NAMES) {
      expect(await (async () => (await t.owner.request(CreateTemplateDocument, { kind: "BADGE", content: templateContent(name) })).createTemplate)(), what).toMatchObject({ __typename: "Template" });
    }
  });

  it("in every script, with emoji ZWJ sequences and bidi marks, are issued and signed as given, in NFC", async () => {
    for (const [i, [what, name]] of GOOD_NAMES.entries()) {
      const res = await t.owner.request(IssueCredentialDocument, {
        input: { templateId, recipient: { email: `script${i}@names.test`, name }, fieldValues: { course: "Data 101" } },
      });
      if (res.issueCredential.__typename !== "Credential") throw new Error(`${what}: ${JSON.stringify(res)}`);
      expect(recipientNameOf(res.issueCredential.verifiableCredential as Record<string, unknown>), what).toBe(name.normalize("NFC"));
    }
  });
});
