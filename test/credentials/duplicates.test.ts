// Awarding twice: a template's duplicate policy (REFUSE by default, ALLOW, REPLACE) applies to single
// and bulk issuance, within one file and against credentials already issued; same person = same
// normalised email, in any letter case. A refused row names the credential its person holds.
import { openedCredentials } from "../helpers/sealed.js";
import { mailSettings } from "../../src/modules/delivery/compose.js";
import { stringify } from "csv-stringify/sync";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ActivateTemplateDocument,
  BulkJobDocument,
  CreateBulkIssuanceDocument,
  CreateRecipientDocument,
  CreateTemplateDocument,
  IssueCredentialDocument,
  RevokeCredentialDocument,
  SetTemplateDuplicatePolicyDocument,
  type DuplicatePolicy,
} from "../../src/sdk/generated.js";
import { LaurelRequestError, type LaurelClient } from "../../src/sdk/index.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { createKey, signUpTenant, type TestTenant } from "../helpers/factories.js";
import { withTenantTransaction } from "../../src/db/tenant-transaction.js";
import { processChunk } from "../../src/modules/bulk/service.js";

let app: TestApp;
let a: TestTenant;
let b: TestTenant;

const rawId = (globalId: string) => Buffer.from(globalId, "base64").toString().split(":")[1]!;
const globalId = (type: string, id: string) => Buffer.from(`${type}:${id}`).toString("base64");

async function template(client: LaurelClient, policy?: DuplicatePolicy) {
  const created = await client.request(CreateTemplateDocument, { kind: "BADGE", content: { name: "First Aid", description: "Trained in first aid.", criteriaNarrative: "Pass." } });
  if (created.createTemplate.__typename !== "Template") throw new Error(JSON.stringify(created));
  expect(created.createTemplate.duplicatePolicy).toBe("REFUSE");
  await client.request(ActivateTemplateDocument, { id: created.createTemplate.id });
  if (policy) {
    const set = await client.request(SetTemplateDuplicatePolicyDocument, { id: created.createTemplate.id, policy });
    expect(set.setTemplateDuplicatePolicy).toMatchObject({ __typename: "Template", duplicatePolicy: policy });
  }
  return created.createTemplate.id;
}

const issue = async (templateId: string, email: string) =>
  (await a.owner.request(IssueCredentialDocument, { input: { templateId, recipient: { email, name: "Someone" } } })).issueCredential;

async function upload(templateId: string, emails: string[]) {
  const csv = new File([stringify([["email", "name"], ...emails.map((e) => [e, "Someone"])])], "people.csv", { type: "text/csv" });
  const { createBulkIssuance } = await a.owner.upload(CreateBulkIssuanceDocument, { input: { templateId, csv: null } }, { "input.csv": csv });
  if (createBulkIssuance.__typename !== "BulkJob") throw new Error(JSON.stringify(createBulkIssuance));
  return createBulkIssuance.id;
}

async function finished(jobId: string) {
  for (;;) {
    const { node } = await a.owner.request(BulkJobDocument, { id: jobId });
    const job = node as {
      status: string;
      issuedCount: number;
      failedCount: number;
      failures: { edges: { node: { rowNumber: number; problems: { column: string; message: string; existingCredentialId: string | null }[] } }[] };
    };
    if (job.status === "COMPLETED" || job.status === "FAILED") return job;
    await new Promise((r) => setTimeout(r, 100));
  }
}

const credentialsOf = async (templateId: string) =>
  (await openedCredentials(app)).filter((c) => c.template_id === rawId(templateId)).map((c) => ({ id: c.id, status: c.status, revocation_reason: c.revocation_reason, email: c.email }));
const emailsOf = async (templateId: string) =>
  (await app.db.admin`select count(*)::int as n from email_outbox o join credentials c on c.tenant_id = o.tenant_id and c.id = o.credential_id
                       where c.template_id = ${rawId(templateId)} and o.kind = 'credential_issued'`)[0]!.n as number;

beforeAll(async () => {
  app = await startTestApp({ bulkChunkSize: 7 }, { worker: {} });
  [a, b] = await Promise.all([signUpTenant(app, "Awards Academy"), signUpTenant(app, "Other Academy")]);
});
afterAll(async () => app.close());

describe("REFUSE, the default", () => {
  it("refuses a second award to the same person in any letter case, naming the credential held, and writes nothing", async () => {
    const templateId = await template(a.owner);
    const first = await issue(templateId, "ada@dup.test");
    if (first.__typename !== "Credential") throw new Error(JSON.stringify(first));
    const second = await issue(templateId, " ADA@Dup.TEST ");
    expect(second).toMatchObject({ __typename: "DuplicateCredentialError", existingCredential: { id: first.id, status: "ACTIVE" } });
    if (second.__typename !== "DuplicateCredentialError") return;
    expect(second.message).toContain(rawId(first.id));
    expect(await credentialsOf(templateId)).toHaveLength(1);
    expect(await emailsOf(templateId)).toBe(1);
  });

  it("issues nothing twice when the same CSV is uploaded again: each row names the credential its person holds", async () => {
    const templateId = await template(a.owner);
    const people = ["p1@dup.test", "p2@dup.test", "p3@dup.test"];
    const firstJob = await finished(await upload(templateId, people));
    expect(firstJob).toMatchObject({ status: "COMPLETED", issuedCount: 3 });
    const held = await credentialsOf(templateId);
    const again = await finished(await upload(templateId, people.map((p) => p.toUpperCase())));
    expect(again).toMatchObject({ status: "COMPLETED", issuedCount: 0, failedCount: 3 });
    const failures = again.failures.edges.map((e) => e.node);
    const heldBy = (row: number) => held.find((c) => c.email === people[row - 1])!.id as string;
    expect(failures.map((f) => f.problems[0]!.existingCredentialId)).toEqual(failures.map((f) => globalId("Credential", heldBy(f.rowNumber))));
    expect(failures[0]!.problems[0]!.message).toMatch(new RegExp(`^Already awarded to this person: credential ${heldBy(1)}, issued \\d{4}-\\d{2}-\\d{2}`));
    expect(await credentialsOf(templateId)).toHaveLength(3);
    expect(await emailsOf(templateId)).toBe(3);
  });

  it("issues the same person once when a file names them twice, in any letter case", async () => {
    const templateId = await template(a.owner);
    const job = await finished(await upload(templateId, ["bob@dup.test", "eve@dup.test", "Bob@DUP.test"]));
    expect(job).toMatchObject({ issuedCount: 2, failedCount: 1 });
    expect(job.failures.edges[0]!.node).toMatchObject({ rowNumber: 3, problems: [{ column: "email", message: expect.stringMatching(/^Same person as row 1/) }] });
    expect((await credentialsOf(templateId)).map((c) => c.email).sort()).toEqual(["bob@dup.test", "eve@dup.test"]);
  });

  it("counts no revoked credential: after a revocation the person can be awarded again", async () => {
    const templateId = await template(a.owner);
    const first = await issue(templateId, "carl@dup.test");
    if (first.__typename !== "Credential") throw new Error(JSON.stringify(first));
    await a.owner.request(RevokeCredentialDocument, { id: first.id, input: { reason: "Issued in error" } });
    expect((await issue(templateId, "carl@dup.test")).__typename).toBe("Credential");
  });

  it("holds when two uploads of one file are issued at the same moment: each person is awarded once", async () => {
    // Without a worker, two jobs' chunks are run by hand in two transactions that overlap: the first
    // holds its commit until the second has either reached its own commit or waits on the first.
    const quiet = await startTestApp();
    try {
      const t = await signUpTenant(quiet, "Race Academy");
      const templateId = await template(t.owner);
      const people = Array.from({ length: 5 }, (_, i) => `race${i}@dup.test`);
      // The people exist already, so neither transaction waits on the other's new recipients.
      for (const email of people) await t.owner.request(CreateRecipientDocument, { input: { email } });
      const jobIds: string[] = [];
      for (let i = 0; i < 2; i++) {
        const { createBulkIssuance } = await t.owner.request(CreateBulkIssuanceDocument, { input: { templateId, rows: people.map((email) => ({ email })) } });
        if (createBulkIssuance.__typename !== "BulkJob") throw new Error(JSON.stringify(createBulkIssuance));
        jobIds.push(rawId(createBulkIssuance.id));
      }
      const settings = mailSettings(quiet.config);
      let secondAtCommit = false;
      const secondWaitsOnALock = async () =>
        (await quiet.db.admin`select 1 from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`).length > 0;
      const run = (jobId: string, beforeCommit: () => Promise<void>) =>
        withTenantTransaction(quiet.database, { dbRole: quiet.config.roles.member, tenantId: t.tenantId, userId: null }, (db) =>
          processChunk(db, t.tenantId, jobId, settings, 100, { beforeCommit }),
        );
      const first = run(jobIds[0]!, async () => {
        while (!secondAtCommit && !(await secondWaitsOnALock())) await new Promise((r) => setTimeout(r, 20));
      });
      await new Promise((r) => setTimeout(r, 50));
      const second = run(jobIds[1]!, async () => {
        secondAtCommit = true;
      });
      const results = await Promise.all([first, second]);
      expect(results.map((r) => r.issued).reduce((x, y) => x + y)).toBe(5);
      const rows = await openedCredentials(quiet, t.tenantId);
      expect(rows.map((r) => r.email).sort()).toEqual(people);
      const failed = await quiet.db.admin`select errors from bulk_job_rows where tenant_id = ${t.tenantId} and status = 'FAILED'`;
      expect(failed).toHaveLength(5);
      for (const f of failed) expect(rows.map((r) => r.id)).toContain((f.errors as { credentialId: string }[])[0]!.credentialId);
    } finally {
      await quiet.close();
    }
  });
});

describe("ALLOW", () => {
  it("awards a repeatable badge again, singly and twice in one file", async () => {
    const templateId = await template(a.owner, "ALLOW");
    expect((await issue(templateId, "dora@dup.test")).__typename).toBe("Credential");
    expect((await issue(templateId, "DORA@dup.test")).__typename).toBe("Credential");
    const job = await finished(await upload(templateId, ["dora@dup.test", "Dora@Dup.Test"]));
    expect(job).toMatchObject({ issuedCount: 2, failedCount: 0 });
    expect(await credentialsOf(templateId)).toHaveLength(4);
  });
});

describe("REPLACE", () => {
  it("revokes the earlier credential with a reason naming its successor, in single and bulk issuance", async () => {
    const templateId = await template(a.owner, "REPLACE");
    const first = await issue(templateId, "finn@dup.test");
    const second = await issue(templateId, "Finn@dup.test");
    if (first.__typename !== "Credential" || second.__typename !== "Credential") throw new Error(JSON.stringify([first, second]));
    expect(second.status).toBe("ACTIVE");
    expect((await credentialsOf(templateId)).map((c) => [c.status, c.revocation_reason])).toEqual([
      ["REVOKED", `Replaced by credential ${rawId(second.id)}`],
      ["ACTIVE", null],
    ]);
    const job = await finished(await upload(templateId, ["finn@dup.test"]));
    expect(job).toMatchObject({ issuedCount: 1, failedCount: 0 });
    const all = await credentialsOf(templateId);
    expect(all.map((c) => c.status)).toEqual(["REVOKED", "REVOKED", "ACTIVE"]);
    expect(all[1]!.revocation_reason).toBe(`Replaced by credential ${all[2]!.id}`);
  });
});

describe("setTemplateDuplicatePolicy", () => {
  it("needs the issue permission and finds no other tenant's template", async () => {
    const templateId = await template(a.owner);
    expect((await b.owner.request(SetTemplateDuplicatePolicyDocument, { id: templateId, policy: "ALLOW" })).setTemplateDuplicatePolicy.__typename).toBe("NotFoundError");
    const reader = await createKey(app, a.owner, ["read"]);
    const refused = await reader.client.request(SetTemplateDuplicatePolicyDocument, { id: templateId, policy: "ALLOW" }).catch((e: unknown) => e);
    expect((refused as LaurelRequestError).code).toBe("FORBIDDEN");
    const [row] = await app.db.admin`select duplicate_policy from templates where id = ${rawId(templateId)}`;
    expect(row!.duplicate_policy).toBe("REFUSE");
  });
});
