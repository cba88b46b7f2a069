// Dates as Laurel reads and returns them: ISO 8601 only (a calendar date, or a date-time with an offset
// or Z), impossible days and absurd years refused per row, a sane range on every path, instants that
// come back exactly as sent, and stored dates outside any sane range that never break a read.
import { openedCredentials } from "../helpers/sealed.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ActivateTemplateDocument,
  BulkJobDocument,
  CreateBulkIssuanceDocument,
  CreateTemplateDocument,
  CredentialsDocument,
  IssueCredentialDocument,
  type BulkRowInput,
  type IssueCredentialInput,
} from "../../src/sdk/generated.js";
import { openDatabase } from "../../src/db/database.js";
import { startServer } from "../../src/server.js";
import { createLaurelClient } from "../../src/sdk/index.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { signUpTenant, type TestTenant } from "../helpers/factories.js";
import { waitFor } from "../helpers/worker.js";

let app: TestApp;
let a: TestTenant;
let templateId: string;

const yearsAhead = (n: number) => new Date(Date.now() + n * 366 * 86_400_000).toISOString();

async function issue(input: Partial<IssueCredentialInput>) {
  const { issueCredential } = await a.owner.request(IssueCredentialDocument, {
    input: { templateId, recipient: { email: `d-${Math.random().toString(36).slice(2, 10)}@example.test` }, fieldValues: { course: "Dates" }, ...input },
  });
  return issueCredential;
}

async function bulk(rows: BulkRowInput[]) {
  const { createBulkIssuance } = await a.owner.request(CreateBulkIssuanceDocument, { input: { templateId, rows } });
  if (createBulkIssuance.__typename !== "BulkJob") throw new Error(JSON.stringify(createBulkIssuance));
  return waitFor(async () => {
    const { node } = await a.owner.request(BulkJobDocument, { id: createBulkIssuance.id });
    return node && "status" in node && node.status === "COMPLETED" && node;
  }, "the bulk job", 60_000);
}

async function uploadCsv(csv: string) {
  const form = new FormData();
  form.set("operations", JSON.stringify({
    query: "mutation($input: CreateBulkIssuanceInput!) { createBulkIssuance(input: $input) { __typename ... on BulkJob { id } ... on Error { message } } }",
    variables: { input: { templateId, csv: null } },
  }));
  form.set("map", JSON.stringify({ "0": ["variables.input.csv"] }));
  form.set("0", new Blob([csv], { type: "text/csv" }), "dates.csv");
  const res = await (await fetch(app.graphqlUrl, { method: "POST", headers: { authorization: `Bearer ${a.token}`, "graphql-require-preflight": "1" }, body: form })).json();
  expect(res.data.createBulkIssuance.__typename).toBe("BulkJob");
  return waitFor(async () => {
    const { node } = await a.owner.request(BulkJobDocument, { id: res.data.createBulkIssuance.id });
    return node && "status" in node && node.status === "COMPLETED" && node;
  }, "the CSV job", 60_000);
}

beforeAll(async () => {
  app = await startTestApp({}, { worker: {} });
  a = await signUpTenant(app, "Dates Academy");
  const { createTemplate } = await a.owner.request(CreateTemplateDocument, {
    kind: "CERTIFICATE",
    content: {
      name: "Dated",
      description: "Has dates.",
      criteriaNarrative: "Be on time.",
      customFields: [
        { name: "course", type: "TEXT", required: true },
        { name: "examDate", type: "DATE", required: false },
      ],
    },
  });
  if (createTemplate.__typename !== "Template") throw new Error(JSON.stringify(createTemplate));
  templateId = createTemplate.id;
  await a.owner.request(ActivateTemplateDocument, { id: templateId });
});
afterAll(async () => app.close());

describe("bulk rows and CSV cells", () => {
  const refused: [string, Partial<BulkRowInput>, string, RegExp][] = [
    ["a US-style date", { issuedAt: "03/04/2026" }, "issued_at", /Not an ISO 8601 date/],
    ["30 February", { issuedAt: "2026-02-30" }, "issued_at", /No such date: 2026-02-30/],
    ["a bare number", { issuedAt: "20260" }, "issued_at", /Not an ISO 8601 date/],
    ["a six-digit year", { validUntil: "+020260-01-01" }, "valid_until", /Not an ISO 8601 date/],
    ["a year before 1900", { issuedAt: "1899-12-31" }, "issued_at", /Out of range: give a date between 1900-01-01 and 2199-12-31/],
    ["an expiry in 2200", { validUntil: "2200-01-01" }, "valid_until", /Out of range/],
    ["a date-time without offset", { issuedAt: "2026-01-01T09:30:00" }, "issued_at", /offset or Z/],
    ["an issue date two years ahead", { issuedAt: yearsAhead(2) }, "issued_at", /at most one year ahead/],
    ["an expiry before the issue date", { issuedAt: "2026-03-01", validUntil: "2026-02-28" }, "valid_until", /Must be after issued_at/],
    ["a custom DATE field in US style", { fieldValues: { course: "Dates", examDate: "03/04/2026" } }, "examDate", /YYYY-MM-DD/],
    ["a custom DATE field on 30 February", { fieldValues: { course: "Dates", examDate: "2026-02-30" } }, "examDate", /No such date/],
  ];

  it("refuse anything but ISO 8601 dates in range, row by row, and issue the other rows", async () => {
    const rows: BulkRowInput[] = [
      { email: "good1@dates.test", fieldValues: { course: "Dates" }, issuedAt: "2026-03-04" },
      ...refused.map(([, row], i) => ({ email: `bad${i}@dates.test`, fieldValues: { course: "Dates" }, ...row })),
      { email: "good2@dates.test", fieldValues: { course: "Dates", examDate: "2026-02-28" }, issuedAt: "2026-01-01T09:30:00+10:00", validUntil: "2030-12-31" },
    ];
    const done = await bulk(rows);
    expect(done).toMatchObject({ issuedCount: 2, failedCount: refused.length });
    const failures = done.failures!.edges.map((e) => e.node);
    refused.forEach(([what, , column, message], i) => {
      const failure = failures.find((f) => f.rowNumber === i + 2);
      expect(failure?.problems, what).toEqual([{ existingCredentialId: null, row: i + 2, column, message: expect.stringMatching(message) }]);
    });
    const issued = (await openedCredentials(app)).filter((c) => /^good.*@dates\.test$/.test(c.email)).sort((a, b) => a.email.localeCompare(b.email));
    expect(issued.map((r) => [r.email, r.valid_from.toISOString()])).toEqual([
      ["good1@dates.test", "2026-03-04T00:00:00.000Z"], // 4 March, never 3 April
      ["good2@dates.test", "2025-12-31T23:30:00.000Z"],
    ]);
  });

  it("read the same way from a CSV", async () => {
    const done = await uploadCsv(
      "email,course,issued_at,valid_until\ncsv-good@dates.test,Dates,2026-03-04,2027-03-04\ncsv-us@dates.test,Dates,03/04/2026,\ncsv-feb@dates.test,Dates,2026-02-30,\ncsv-year@dates.test,Dates,,20260-01-01\n",
    );
    expect(done).toMatchObject({ issuedCount: 1, failedCount: 3 });
    expect(done.failures!.edges.map((e) => e.node.problems.map((p) => `${p.row} ${p.column}`)).flat()).toEqual(["2 issued_at", "3 issued_at", "4 valid_until"]);
  });
});

describe("issueCredential", () => {
  it("returns issuedAt, validFrom and validUntil exactly as sent, and signs the same instants", async () => {
    const credential = await issue({ issuedAt: "2026-01-01T09:30:00.123+10:00", validUntil: "2026-06-30T23:59:59.999-04:00" });
    if (credential.__typename !== "Credential") throw new Error(JSON.stringify(credential));
    expect(credential.issuedAt).toBe("2025-12-31T23:30:00.123Z");
    expect(credential.validFrom).toBe("2025-12-31T23:30:00.123Z");
    expect(credential.validUntil).toBe("2026-07-01T03:59:59.999Z");
    const vc = credential.verifiableCredential as Record<string, string>;
    expect([vc.validFrom, vc.validUntil]).toEqual(["2025-12-31T23:30:00.123Z", "2026-07-01T03:59:59.999Z"]);
    const { tenant } = await a.owner.request(CredentialsDocument, { first: 100 });
    const listed = tenant!.credentials!.edges.find((e) => e.node.id === credential.id)!.node;
    expect([listed.issuedAt, listed.validUntil]).toEqual(["2025-12-31T23:30:00.123Z", "2026-07-01T03:59:59.999Z"]);
  });

  it("refuses issue dates and expiries outside the sane range, naming the field", async () => {
    expect(await issue({ issuedAt: "1899-12-31T23:59:59Z" })).toMatchObject({ __typename: "ValidationError", fieldErrors: [{ path: ["input", "issuedAt"], message: expect.stringMatching(/Out of range/) }] });
    expect(await issue({ issuedAt: yearsAhead(2) })).toMatchObject({ __typename: "ValidationError", fieldErrors: [{ path: ["input", "issuedAt"], message: expect.stringMatching(/one year ahead/) }] });
    expect(await issue({ validUntil: "2200-01-01T00:00:00Z" })).toMatchObject({ __typename: "ValidationError", fieldErrors: [{ path: ["input", "validUntil"], message: expect.stringMatching(/Out of range/) }] });
    expect(await issue({ fieldValues: { course: "Dates", examDate: "2026-02-30" } })).toMatchObject({
      __typename: "ValidationError",
      fieldErrors: [{ path: ["input", "fieldValues", "examDate"], message: "No such date: 2026-02-30" }],
    });
  });

  it("issues a credential valid from a later day, which the page and the API call not yet valid", async () => {
    const later = new Date(Date.now() + 30 * 86_400_000);
    const credential = await issue({ issuedAt: later.toISOString() });
    if (credential.__typename !== "Credential") throw new Error(JSON.stringify(credential));
    expect(credential.issuedAt).toBe(later.toISOString());
    const html = await (await fetch(credential.publicUrl.replace(app.config.publicUrl, app.server.url), { headers: { accept: "text/html" } })).text();
    expect(html).toMatch(/data-testid="status">Not yet valid</);
    expect(html).toMatch(/Valid from <time/);
  });
});

describe("a date stored outside any sane range before dates were checked", () => {
  it("never breaks a read: the list answers, with null where no RFC 3339 date-time can say it", async () => {
    const credential = await issue({});
    if (credential.__typename !== "Credential") throw new Error(JSON.stringify(credential));
    const id = credential.publicUrl.split("/").pop()!;
    const tenantId = a.tenantId;
    await app.db.admin`update credentials set valid_from = '20260-03-04 00:00:00+00', valid_until = '20261-01-01 00:00:00+00' where tenant_id = ${tenantId} and id = ${id}`;
    const { tenant } = await a.owner.request(CredentialsDocument, { first: 100 });
    const listed = tenant!.credentials!.edges.map((e) => e.node);
    expect(listed.length).toBeGreaterThan(1);
    expect(listed.find((c) => c.id === credential.id)).toMatchObject({ issuedAt: null, validFrom: null, validUntil: null, expired: false });
    expect(listed.filter((c) => c.id !== credential.id).every((c) => typeof c.issuedAt === "string")).toBe(true);
    const page = await fetch(credential.publicUrl.replace(app.config.publicUrl, app.server.url), { headers: { accept: "text/html" } });
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/data-testid="status">Not yet valid</); // as the stored validFrom says
  });
});

describe("on a PostgreSQL whose TimeZone is not UTC", () => {
  it("still stores and returns every instant exactly as sent", async () => {
    const other = await startTestApp();
    await other.db.admin.unsafe(`alter database "${other.db.name}" set timezone to 'Asia/Kolkata'`);
    // A second server on fresh connections, which now start in Asia/Kolkata.
    const database = await openDatabase(other.config);
    const server = await startServer({ config: other.config, database }, 0, "127.0.0.1");
    try {
      const [{ timezone }] = (await database.sql`select current_setting('TimeZone') as timezone`) as unknown as [{ timezone: string }];
      expect(timezone).toBe("Asia/Kolkata");
      const url = `${server.url}/graphql`;
      const tenant = await signUpTenant({ client: (token?: string) => createLaurelClient({ url, token }) } as unknown as TestApp, "Kolkata Server College");
      const { createTemplate } = await tenant.owner.request(CreateTemplateDocument, { kind: "BADGE", content: { name: "T", description: "d", criteriaNarrative: "c" } });
      if (createTemplate.__typename !== "Template") throw new Error(JSON.stringify(createTemplate));
      await tenant.owner.request(ActivateTemplateDocument, { id: createTemplate.id });
      const { issueCredential } = await tenant.owner.request(IssueCredentialDocument, {
        input: { templateId: createTemplate.id, recipient: { email: "tz@example.test" }, issuedAt: "2026-01-01T09:30:00.123+10:00", validUntil: "2026-06-30T23:59:59.999-04:00" },
      });
      if (issueCredential.__typename !== "Credential") throw new Error(JSON.stringify(issueCredential));
      const { tenant: read } = await tenant.owner.request(CredentialsDocument, { first: 5 });
      expect(read!.credentials!.edges.map((e) => [e.node.issuedAt, e.node.validUntil])).toEqual([["2025-12-31T23:30:00.123Z", "2026-07-01T03:59:59.999Z"]]);
      // Stored as that instant too, so SQL (reminders, expiry) and the public pages read the same.
      const stored = await other.db.admin<{ valid_from: Date; valid_until: Date }[]>`select valid_from, valid_until from credentials`;
      expect(stored.map((r) => [r.valid_from.toISOString(), r.valid_until.toISOString()])).toEqual([["2025-12-31T23:30:00.123Z", "2026-07-01T03:59:59.999Z"]]);
    } finally {
      await server.close();
      await database.close();
      await other.close();
    }
  });
});
