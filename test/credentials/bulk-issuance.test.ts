// Bulk issuance: rows and CSV in, every row validated, valid rows issued in the background, per-row
// problems reported, progress observable, and a worker killed mid-way resumes with no duplicates.
import { openedRecipients } from "../helpers/sealed.js";
import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ActivateTemplateDocument,
  BulkJobDocument,
  CreateBulkIssuanceDocument,
  CreateTemplateDocument,
  IssueCredentialDocument,
  NodeDocument,
  type BulkRowInput,
} from "../../src/sdk/generated.js";
import type { LaurelClient } from "../../src/sdk/index.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { signUpTenant, type TestTenant } from "../helpers/factories.js";
import { TEST_ENV } from "../helpers/env.js";

let app: TestApp;
let a: TestTenant;
let b: TestTenant;
let templateId: string;

async function activeTemplate(client: LaurelClient) {
  const created = await client.request(CreateTemplateDocument, {
    kind: "CERTIFICATE",
    content: {
      name: "Course Certificate",
      description: "Completed a course.",
      credentialDescription: "{{recipientName}} completed {{course}}.",
      criteriaNarrative: "Attend and pass.",
      customFields: [
        { name: "course", type: "TEXT", required: true },
        { name: "hours", type: "NUMBER", required: false },
      ],
    },
  });
  if (created.createTemplate.__typename !== "Template") throw new Error("template");
  await client.request(ActivateTemplateDocument, { id: created.createTemplate.id });
  return created.createTemplate.id;
}

/** The UUID inside a Relay global id ("Type:uuid", base64). */
const rawId = (globalId: string) => Buffer.from(globalId, "base64").toString().split(":")[1]!;

async function waitFor<T>(check: () => Promise<T | undefined | null | false>, timeoutMs = 60_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > until) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function job(client: LaurelClient, id: string) {
  const { node } = await client.request(BulkJobDocument, { id });
  if (!node || !("status" in node)) throw new Error("no job");
  return node;
}

const finished = (client: LaurelClient, id: string) =>
  waitFor(async () => {
    const j = await job(client, id);
    return (j.status === "COMPLETED" || j.status === "FAILED") && j;
  });

beforeAll(async () => {
  app = await startTestApp({ bulkChunkSize: 40 }, { worker: {} });
  [a, b] = await Promise.all([signUpTenant(app, "Bulk Academy"), signUpTenant(app, "Other Bulk")]);
  templateId = await activeTemplate(a.owner);
});
afterAll(async () => app.close());

describe("a bulk job from rows", () => {
  it("issues the valid rows, reports the others by row and column, and never stops for them", async () => {
    const rows: BulkRowInput[] = Array.from({ length: 100 }, (_, i) => ({
      email: `student${i}@bulk.test`,
      name: `Student ${i}`,
      fieldValues: { course: "Chemistry", hours: String(10 + i) },
    }));
    rows[4] = { email: "not-an-email", fieldValues: { course: "Chemistry" } };
    rows[17] = { email: "nocourse@bulk.test", fieldValues: {} };
    rows[63] = { email: "late@bulk.test", fieldValues: { course: "Chemistry", hours: "many" }, issuedAt: "yesterday-ish" };
    const created = await a.owner.request(CreateBulkIssuanceDocument, { input: { templateId, rows } });
    if (created.createBulkIssuance.__typename !== "BulkJob") throw new Error(JSON.stringify(created));
    expect(created.createBulkIssuance).toMatchObject({ totalRows: 100, failedCount: 3 });
    const done = await finished(a.owner, created.createBulkIssuance.id);
    expect(done).toMatchObject({ status: "COMPLETED", issuedCount: 97, failedCount: 3, processedCount: 100 });
    const failures = done.failures!.edges.map((e) => e.node);
    expect(failures.map((f) => f.rowNumber)).toEqual([5, 18, 64]);
    expect(failures[0]!.problems).toEqual([
      { row: 5, column: "email", message: "Not a valid email address: it needs a name, an @ and a domain, like ada@example.org", existingCredentialId: null },
    ]);
    expect(failures[1]!.problems[0]).toMatchObject({ column: "course" });
    expect(failures[2]!.problems.map((p) => p.column).sort()).toEqual(["hours", "issued_at"]);

    const [{ n }] = (await app.db.admin`select count(*)::int as n from credentials where tenant_id = ${a.tenantId}`) as unknown as [{ n: number }];
    expect(n).toBe(97);
    const [{ e }] = (await app.db.admin`select count(*)::int as e from email_outbox where tenant_id = ${a.tenantId} and kind = 'credential_issued'`) as unknown as [{ e: number }];
    expect(e).toBe(97);

    const csv = await fetch(done.resultCsvUrl.replace(app.config.publicUrl, app.server.url), { headers: { authorization: `Bearer ${a.token}` } });
    expect(csv.status).toBe(200);
    const lines = (await csv.text()).trim().split("\n");
    expect(lines).toHaveLength(101);
    expect(lines[0]).toBe("row,email,status,credential_id,credential_url,problems");
    expect(lines[5]).toContain("FAILED");
    expect(lines[1]).toMatch(/ISSUED,[0-9a-f-]{36},http/);
  });

  it("honours idempotency keys across jobs and refuses a key repeated inside one", async () => {
    const single = await a.owner.request(IssueCredentialDocument, {
      input: { templateId, recipient: { email: "keyed@bulk.test" }, fieldValues: { course: "Physics" }, idempotencyKey: "enrol-7" },
    });
    if (single.issueCredential.__typename !== "Credential") throw new Error("issue");
    const rows = [
      { email: "keyed@bulk.test", fieldValues: { course: "Physics" }, idempotencyKey: "enrol-7" },
      { email: "dup1@bulk.test", fieldValues: { course: "Physics" }, idempotencyKey: "enrol-8" },
      { email: "dup2@bulk.test", fieldValues: { course: "Physics" }, idempotencyKey: "enrol-8" },
    ];
    const created = await a.owner.request(CreateBulkIssuanceDocument, { input: { templateId, rows } });
    if (created.createBulkIssuance.__typename !== "BulkJob") throw new Error("bulk");
    const done = await finished(a.owner, created.createBulkIssuance.id);
    expect(done).toMatchObject({ issuedCount: 2, failedCount: 1 });
    const [row1] = await app.db.admin`select credential_id from bulk_job_rows where job_id = ${rawId(created.createBulkIssuance.id)} and row_number = 1`;
    expect(row1!.credential_id).toBe(rawId(single.issueCredential.id));
  });
});

describe("a bulk job from a CSV upload", () => {
  async function upload(csv: string, token = a.token) {
    const form = new FormData();
    form.set("operations", JSON.stringify({
      query: "mutation($input: CreateBulkIssuanceInput!) { createBulkIssuance(input: $input) { __typename ... on BulkJob { id totalRows failedCount } ... on Error { message } ... on ValidationError { fieldErrors { path message } } } }",
      variables: { input: { templateId, csv: null } },
    }));
    form.set("map", JSON.stringify({ "0": ["variables.input.csv"] }));
    form.set("0", new Blob([csv], { type: "text/csv" }), "people.csv");
    const res = await fetch(app.graphqlUrl, { method: "POST", headers: { authorization: `Bearer ${token}`, "graphql-require-preflight": "1" }, body: form });
    return res.json();
  }

  it("a file with a header and no rows: a ValidationError on the csv field", async () => {
    const res = await upload("email,name\r\n");
    expect(res.data.createBulkIssuance.__typename).toBe("ValidationError");
    expect(res.data.createBulkIssuance.fieldErrors).toEqual([{ path: ["input", "csv"], message: "The file has a header but no rows: give at least one row" }]);
  });

  it("reads standard and custom columns (with a BOM) and issues every good line", async () => {
    const csv = "\ufeffemail,name,course,hours,locale\nada@csv.test,Ada,Maths,12,en\nbob@csv.test,Bob,Maths,,fr\nbroken-address,Eve,Maths,3,en\n";
    const res = await upload(csv);
    expect(res.data.createBulkIssuance).toMatchObject({ __typename: "BulkJob", totalRows: 3, failedCount: 1 });
    const done = await finished(a.owner, res.data.createBulkIssuance.id);
    expect(done).toMatchObject({ status: "COMPLETED", issuedCount: 2 });
    const bob = (await openedRecipients(app)).find((r) => r.email === "bob@csv.test");
    expect({ locale: bob?.locale, name: bob?.name }).toEqual({ locale: "fr", name: "Bob" });
  });

  it("refuses a CSV with unknown columns or no email column, creating nothing", async () => {
    const before = await app.db.admin`select count(*)::int as n from bulk_jobs`;
    expect((await upload("email,colour\nx@y.test,red\n")).data.createBulkIssuance).toMatchObject({ __typename: "ValidationError", message: expect.stringMatching(/Unknown column.*colour/) });
    expect((await upload("name,course\nAda,Maths\n")).data.createBulkIssuance).toMatchObject({ __typename: "ValidationError", message: expect.stringMatching(/email column/) });
    const after = await app.db.admin`select count(*)::int as n from bulk_jobs`;
    expect(after[0]!.n).toBe(before[0]!.n);
  });
});

describe("progress", () => {
  it("streams over Server-Sent Events until the job completes", async () => {
    const rows = Array.from({ length: 60 }, (_, i) => ({ email: `sse${i}@bulk.test`, fieldValues: { course: "Art" } }));
    const created = await a.owner.request(CreateBulkIssuanceDocument, { input: { templateId, rows } });
    if (created.createBulkIssuance.__typename !== "BulkJob") throw new Error("bulk");
    const query = `subscription { bulkJobProgress(id: "${created.createBulkIssuance.id}") { status issuedCount totalRows } }`;
    const res = await fetch(`${app.graphqlUrl}?query=${encodeURIComponent(query)}`, { headers: { accept: "text/event-stream", authorization: `Bearer ${a.token}` } });
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const text = await res.text();
    const events = text.split("\n").filter((l) => l.startsWith("data: ")).map((l) => JSON.parse(l.slice(6))).filter((e) => e.data);
    expect(events.length).toBeGreaterThan(0);
    expect(events.at(-1)!.data.bulkJobProgress).toEqual({ status: "COMPLETED", issuedCount: 60, totalRows: 60 });
  });
});

describe("resuming", () => {
  it("a chunk that fails before commit leaves nothing, and the job still ends with each row issued once", async () => {
    const flaky = await startTestApp({ bulkChunkSize: 10 }, { worker: { bulk: { hooks: { beforeCommit: (() => { let n = 0; return () => { if (++n === 2) throw new Error("simulated crash"); }; })() } } } });
    try {
      const owner = await signUpTenant(flaky, "Flaky Org");
      const tpl = await activeTemplate(owner.owner);
      const rows = Array.from({ length: 35 }, (_, i) => ({ email: `flaky${i}@bulk.test`, fieldValues: { course: "X" } }));
      const created = await owner.owner.request(CreateBulkIssuanceDocument, { input: { templateId: tpl, rows } });
      if (created.createBulkIssuance.__typename !== "BulkJob") throw new Error("bulk");
      const done = await finished(owner.owner, created.createBulkIssuance.id);
      expect(done).toMatchObject({ status: "COMPLETED", issuedCount: 35, failedCount: 0 });
      const [counts] = await flaky.db.admin`
        select count(*)::int as credentials, count(distinct recipient_id)::int as recipients from credentials where tenant_id = ${owner.tenantId}`;
      expect(counts).toEqual({ credentials: 35, recipients: 35 });
    } finally {
      await flaky.close();
    }
  });

  it("a worker process killed mid-job is replaced, and no row is issued twice", async () => {
    const quiet = await startTestApp({}, { worker: false });
    try {
      const owner = await signUpTenant(quiet, "Killed Worker Org");
      const tpl = await activeTemplate(owner.owner);
      const rows = Array.from({ length: 600 }, (_, i) => ({ email: `kill${i}@bulk.test`, fieldValues: { course: "Y" } }));
      const created = await owner.owner.request(CreateBulkIssuanceDocument, { input: { templateId: tpl, rows } });
      if (created.createBulkIssuance.__typename !== "BulkJob") throw new Error("bulk");
      const jobId = created.createBulkIssuance.id;
      const env = {
        ...process.env,
        DATABASE_URL: quiet.db.adminUrl,
        ...TEST_ENV,
        BULK_CHUNK_SIZE: "25",
        // The second worker releases the killed one's job once its heartbeat is this old.
        WORKER_HEARTBEAT_MS: "250",
        WORKER_STALE_AFTER_MS: "1500",
        WORKER_POLL_INTERVAL_MS: "100",
      };
      const startWorker = () => spawn(process.execPath, ["--import", "tsx", "src/worker.ts"], { cwd: new URL("../../", import.meta.url).pathname, env, stdio: "ignore" });
      const first = startWorker();
      await waitFor(async () => (await job(owner.owner, jobId)).issuedCount >= 50);
      first.kill("SIGKILL");
      await new Promise((r) => first.once("exit", r));
      const atKill = (await job(owner.owner, jobId)).issuedCount;
      expect(atKill).toBeLessThan(600);
      const second = startWorker();
      try {
        const done = await finished(owner.owner, jobId);
        expect(done).toMatchObject({ status: "COMPLETED", issuedCount: 600, failedCount: 0 });
      } finally {
        second.kill("SIGTERM");
      }
      const [counts] = await quiet.db.admin`
        select count(*)::int as credentials, count(distinct recipient_id)::int as recipients,
               (select count(*)::int from bulk_job_rows where tenant_id = ${owner.tenantId} and credential_id is not null) as rows
          from credentials where tenant_id = ${owner.tenantId}`;
      expect(counts).toEqual({ credentials: 600, recipients: 600, rows: 600 });
    } finally {
      await quiet.close();
    }
  }, 120_000);
});

describe("isolation", () => {
  it("tenant B cannot see tenant A's job or download its results", async () => {
    const created = await a.owner.request(CreateBulkIssuanceDocument, { input: { templateId, rows: [{ email: "iso@bulk.test", fieldValues: { course: "Z" } }] } });
    if (created.createBulkIssuance.__typename !== "BulkJob") throw new Error("bulk");
    expect((await b.owner.request(NodeDocument, { id: created.createBulkIssuance.id })).node).toBeNull();
    const url = created.createBulkIssuance.resultCsvUrl.replace(app.config.publicUrl, app.server.url);
    expect((await fetch(url, { headers: { authorization: `Bearer ${b.token}` } })).status).toBe(404);
    expect((await fetch(url)).status).toBe(401);
    const fromB = await b.owner.request(CreateBulkIssuanceDocument, { input: { templateId, rows: [{ email: "x@y.test" }] } });
    expect(fromB.createBulkIssuance.__typename).toBe("NotFoundError");
  });
});
