// Achievement texts are shared by every credential of a template version (inside each signed
// credential, as the OB 2.0 BadgeClass and at the public Achievement URL): they never carry a
// recipient's data. Per-recipient text lives in credentialDescription and becomes each credential's own
// description; an optional field left empty renders as empty, never as a literal {{field}}.
import { openedCredentials } from "../helpers/sealed.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ActivateTemplateDocument,
  BulkJobDocument,
  CreateBulkIssuanceDocument,
  CreateTemplateDocument,
  IssueCredentialDocument,
  UpdateTemplateDocument,
  type TemplateContentInput,
} from "../../src/sdk/generated.js";
import type { LaurelClient } from "../../src/sdk/index.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { signUpTenant, type TestTenant } from "../helpers/factories.js";
import { waitFor } from "../helpers/worker.js";

let app: TestApp;
let a: TestTenant;

const content: TemplateContentInput = {
  name: "Data Stewardship",
  description: "Looks after data well.",
  credentialDescription: "Awarded to {{recipientName}} for {{course}}.{{#grade}} Grade: {{grade}}.{{/grade}}",
  criteriaNarrative: "Pass the final assessment.",
  customFields: [
    { name: "course", type: "TEXT", required: true },
    { name: "grade", type: "TEXT", required: false },
    { name: "cohort", type: "TEXT", required: false },
  ],
};

async function create(client: LaurelClient, c: TemplateContentInput) {
  return (await client.request(CreateTemplateDocument, { kind: "BADGE", content: c })).createTemplate;
}

async function activeTemplate(client: LaurelClient, c: TemplateContentInput = content) {
  const created = await create(client, c);
  if (created.__typename !== "Template") throw new Error(JSON.stringify(created));
  await client.request(ActivateTemplateDocument, { id: created.id });
  return created.id;
}

async function issue(templateId: string, name: string | null, fieldValues: Record<string, string>) {
  const { issueCredential } = await a.owner.request(IssueCredentialDocument, {
    input: { templateId, recipient: { email: `${(name ?? "anon").replace(/\W/g, "")}-${Math.random().toString(36).slice(2, 8)}@example.test`, name }, fieldValues },
  });
  return issueCredential;
}

const vcOf = (c: { verifiableCredential?: unknown }) => c.verifiableCredential as Record<string, any>;

beforeAll(async () => {
  app = await startTestApp({}, { worker: {} });
  a = await signUpTenant(app, "Shared Texts Academy");
});
afterAll(async () => app.close());

describe("saving a template", () => {
  it("refuses merge fields in the achievement's texts and says where per-recipient text belongs", async () => {
    const result = await create(a.owner, {
      ...content,
      name: "Data for {{recipientName}}",
      description: "Awarded to {{recipientName}} for {{course}}.",
      criteriaNarrative: "Pass {{course}}.",
      alignments: [{ targetName: "Skill", targetUrl: "https://esco.example/1", targetDescription: "{{cohort}}" }],
    });
    expect(result.__typename).toBe("ValidationError");
    if (result.__typename !== "ValidationError") return;
    expect(result.fieldErrors.map((e) => e.path.join("."))).toEqual(
      expect.arrayContaining(["input.name", "input.description", "input.criteriaNarrative", "input.alignments.0.targetDescription"]),
    );
    expect(result.fieldErrors.find((e) => e.path.join(".") === "input.description")!.message).toMatch(/no merge fields.*credentialDescription/);
  });

  it("refuses the same on update, keeping the version before", async () => {
    const id = await activeTemplate(a.owner);
    const { updateTemplate } = await a.owner.request(UpdateTemplateDocument, { id, content: { ...content, description: "Awarded to {{recipientName}}." } });
    expect(updateTemplate).toMatchObject({ __typename: "ValidationError", message: expect.stringMatching(/credentialDescription/) });
    const [row] = await app.db.admin`select count(*)::int as n from template_versions where template_id = ${Buffer.from(id, "base64").toString().split(":")[1]!}`;
    expect(row!.n).toBe(1);
  });

  it("refuses unknown merge fields, partials and broken tags in credentialDescription", async () => {
    for (const [text, message] of [
      ["Awarded to {{recipientName}} for {{colour}}.", /Unknown merge field \{\{colour\}\}/],
      ["Awarded {{> header}}", /Partials/],
      ["Awarded to {{recipientName}", /Cannot read the merge fields/],
      ["{{#grade}}Grade {{grade}}", /Cannot read the merge fields/],
    ] as const) {
      const result = await create(a.owner, { ...content, credentialDescription: text });
      expect(result, text).toMatchObject({ __typename: "ValidationError", fieldErrors: [{ path: ["input", "credentialDescription"], message: expect.stringMatching(message) }] });
    }
  });

  it("keeps recipientName for the recipient: no custom field may take the name", async () => {
    const result = await create(a.owner, { ...content, credentialDescription: null, customFields: [{ name: "recipientName", type: "TEXT", required: false }] });
    expect(result).toMatchObject({
      __typename: "ValidationError",
      fieldErrors: [{ path: ["input", "customFields.0.name"], message: expect.stringMatching(/recipient's name/) }],
    });
  });
});

describe("issuing", () => {
  it("renders credentialDescription per recipient while the achievement is the same for everyone, everywhere it is published", async () => {
    const templateId = await activeTemplate(a.owner);
    const ada = await issue(templateId, "Ada Lovelace", { course: "Data 101", grade: "A" });
    const alan = await issue(templateId, "Alan Turing", { course: "Data 202" });
    if (ada.__typename !== "Credential" || alan.__typename !== "Credential") throw new Error("issue failed");
    expect(vcOf(ada).description).toBe("Awarded to Ada Lovelace for Data 101. Grade: A.");
    expect(vcOf(alan).description).toBe("Awarded to Alan Turing for Data 202.");
    expect(vcOf(ada).name).toBe("Data Stewardship");

    const achievement = vcOf(ada).credentialSubject.achievement;
    expect(vcOf(alan).credentialSubject.achievement).toEqual(achievement);
    expect(achievement).toMatchObject({ name: "Data Stewardship", description: "Looks after data well.", criteria: { narrative: "Pass the final assessment." } });
    const published = await (await fetch(achievement.id.replace(app.config.publicUrl, app.server.url))).json();
    const badgeClass = await (await fetch(`${achievement.id.replace(app.config.publicUrl, app.server.url)}/ob2`)).json();
    for (const doc of [achievement, published, badgeClass]) {
      expect(doc.description).toBe("Looks after data well.");
      expect(JSON.stringify(doc)).not.toMatch(/\{\{|Ada|Alan|Data 101/);
    }
  });

  it("renders an optional field left empty, or a recipient without a name, as empty: never a literal {{field}}", async () => {
    const templateId = await activeTemplate(a.owner, { ...content, credentialDescription: "Awarded to {{recipientName}} for {{course}} ({{cohort}})." });
    const nameless = await issue(templateId, null, { course: "Data 101" });
    if (nameless.__typename !== "Credential") throw new Error(JSON.stringify(nameless));
    expect(vcOf(nameless).description).toBe("Awarded to  for Data 101 ().");
    expect(JSON.stringify(vcOf(nameless))).not.toContain("{{");
  });

  it("does the same for every bulk row, a CSV cell left empty included", async () => {
    const templateId = await activeTemplate(a.owner);
    const { createBulkIssuance } = await a.owner.request(CreateBulkIssuanceDocument, {
      input: { templateId, rows: [{ email: "row1@bulk.test", name: "Row One", fieldValues: { course: "Bulk 1", grade: "" } }, { email: "row2@bulk.test", name: "Row Two", fieldValues: { course: "Bulk 2", grade: "B" } }] },
    });
    if (createBulkIssuance.__typename !== "BulkJob") throw new Error(JSON.stringify(createBulkIssuance));
    const form = new FormData();
    form.set("operations", JSON.stringify({
      query: "mutation($input: CreateBulkIssuanceInput!) { createBulkIssuance(input: $input) { __typename ... on BulkJob { id } ... on Error { message } } }",
      variables: { input: { templateId, csv: null } },
    }));
    form.set("map", JSON.stringify({ "0": ["variables.input.csv"] }));
    form.set("0", new Blob(["email,name,course,grade,cohort\ncsv1@bulk.test,Csv One,Bulk 3,,\n"], { type: "text/csv" }), "people.csv");
    const upload = await (await fetch(app.graphqlUrl, { method: "POST", headers: { authorization: `Bearer ${a.token}`, "graphql-require-preflight": "1" }, body: form })).json();
    expect(upload.data.createBulkIssuance.__typename).toBe("BulkJob");
    for (const id of [createBulkIssuance.id, upload.data.createBulkIssuance.id]) {
      await waitFor(async () => {
        const { node } = await a.owner.request(BulkJobDocument, { id });
        return node && "status" in node && node.status === "COMPLETED";
      }, "the bulk job", 60_000);
    }
    const rows = (await openedCredentials(app))
      .filter((c) => ["row1@bulk.test", "row2@bulk.test", "csv1@bulk.test"].includes(c.email))
      .map((c) => ({ email: c.email as string, description: (c.document as { description: string }).description }))
      .sort((x, y) => x.email.localeCompare(y.email));
    expect(rows).toEqual([
      { email: "csv1@bulk.test", description: "Awarded to Csv One for Bulk 3." },
      { email: "row1@bulk.test", description: "Awarded to Row One for Bulk 1." },
      { email: "row2@bulk.test", description: "Awarded to Row Two for Bulk 2. Grade: B." },
    ]);
  });

  it("refuses to issue from a version saved with merge fields in its achievement texts before they were refused, in single and bulk issuance", async () => {
    const templateId = await activeTemplate(a.owner);
    const uuid = Buffer.from(templateId, "base64").toString().split(":")[1]!;
    await app.db.admin`update template_versions set description = 'Awarded to {{recipientName}} for {{course}}.' where template_id = ${uuid}`;
    const single = await issue(templateId, "Ada Lovelace", { course: "Data 101" });
    expect(single).toMatchObject({ __typename: "ValidationError", fieldErrors: [{ path: ["input", "templateId"], message: expect.stringMatching(/description hold merge fields.*credentialDescription/) }] });
    const { createBulkIssuance } = await a.owner.request(CreateBulkIssuanceDocument, { input: { templateId, rows: [{ email: "legacy@bulk.test", fieldValues: { course: "X" } }] } });
    expect(createBulkIssuance).toMatchObject({ __typename: "ValidationError", message: expect.stringMatching(/merge fields/) });
    const [n] = await app.db.admin`select count(*)::int as n from credentials where template_id = ${uuid}`;
    expect(n!.n).toBe(0);
  });
});
