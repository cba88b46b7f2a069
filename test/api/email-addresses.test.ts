// One rule for email addresses on every path (src/lib/email-address.ts): the API, bulk rows and a CSV
// accept and refuse the same addresses and store the same normalised form, so one mailbox is one
// recipient with one identity hash.
import { createHash } from "node:crypto";
import { stringify } from "csv-stringify/sync";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ActivateTemplateDocument,
  AddSenderDomainDocument,
  BulkJobDocument,
  CreateBulkIssuanceDocument,
  CreateRecipientDocument,
  CreateTemplateDocument,
  InviteMemberDocument,
  IssueCredentialDocument,
  LogInDocument,
  SetTemplateDuplicatePolicyDocument,
  SignUpDocument,
} from "../../src/sdk/generated.js";
import { LaurelRequestError } from "../../src/sdk/index.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { signUpTenant, type TestTenant } from "../helpers/factories.js";
import { openedRecipients } from "../helpers/sealed.js";

let app: TestApp;
let t: TestTenant;
let templateId: string;

const domain189 = `${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(57)}.org`;
/** [address as typed, its normalised form or null when refused] */
const ADDRESSES: [string, string | null][] = [
  [" Ada.Lovelace@Example.ORG ", "ada.lovelace@example.org"],
  ["grace@B\u00fccher.example", "grace@xn--bcher-kva.example"],
  ["grace2@xn--bcher-kva.example", "grace2@xn--bcher-kva.example"],
  ["o'brien+badges@example.org", "o'brien+badges@example.org"],
  ["jos\u00e9@example.org", null], // internationalised local part (SMTPUTF8): refused on every path
  [`${"a".repeat(64)}@example.org`, `${"a".repeat(64)}@example.org`],
  [`${"a".repeat(65)}@example.org`, null],
  [`${"e".repeat(64)}@${domain189}`, `${"e".repeat(64)}@${domain189}`], // 254 characters
  [`${"f".repeat(64)}@x${domain189}`, null], // 255
  [`${"g".repeat(60)}@${`${"h".repeat(60)}.`.repeat(4)}example`, null], // 312 characters
  ["ada@[192.0.2.1]", null],
  ["ada@localhost", null],
  ["ada..lovelace@example.org", null],
  ['"ada"@example.org', null],
  ["ada@exa_mple.org", null],
];

beforeAll(async () => {
  app = await startTestApp({}, { worker: {} });
  t = await signUpTenant(app, "Mailbox University");
  const created = await t.owner.request(CreateTemplateDocument, { kind: "BADGE", content: { name: "Attendance", description: "Attended.", criteriaNarrative: "Attend." } });
  if (created.createTemplate.__typename !== "Template") throw new Error(JSON.stringify(created));
  templateId = created.createTemplate.id;
  await t.owner.request(ActivateTemplateDocument, { id: templateId });
  await t.owner.request(SetTemplateDuplicatePolicyDocument, { id: templateId, policy: "ALLOW" });
});
afterAll(async () => app.close());

async function finished(jobId: string) {
  for (;;) {
    const { node } = await t.owner.request(BulkJobDocument, { id: jobId });
    const job = node as { status: string; failures: { edges: { node: { rowNumber: number; problems: { column: string; message: string }[] } }[] } };
    if (job.status === "COMPLETED" || job.status === "FAILED") return job;
    await new Promise((r) => setTimeout(r, 100));
  }
}

const recipientEmails = async () => (await openedRecipients(app, t.tenantId)).map((r) => r.email).sort();

describe("email addresses", () => {
  it("are accepted, refused and normalised alike by the API, bulk rows and a CSV", async () => {
    const viaApi: (string | null)[] = [];
    for (const [typed] of ADDRESSES) {
      const result = await t.owner.request(CreateRecipientDocument, { input: { email: typed } }).catch((e: unknown) => e);
      if (result instanceof LaurelRequestError) {
        expect(result.code).toBe("BAD_USER_INPUT");
        expect(result.message).toMatch(/Not a valid email address: /);
        viaApi.push(null);
      } else viaApi.push((result as { createRecipient: { email: string } }).createRecipient.email);
    }
    expect(viaApi).toEqual(ADDRESSES.map(([, normalised]) => normalised));
    const stored = await recipientEmails();
    expect(stored).toEqual(ADDRESSES.map(([, n]) => n).filter((n): n is string => n !== null).sort());

    const refusedRows = ADDRESSES.flatMap(([, n], i) => (n === null ? [i + 1] : []));
    const rows = await t.owner.request(CreateBulkIssuanceDocument, { input: { templateId, rows: ADDRESSES.map(([email]) => ({ email })) } });
    const csv = new File([stringify([["email"], ...ADDRESSES.map(([email]) => [email])])], "people.csv", { type: "text/csv" });
    const upload = await t.owner.upload(CreateBulkIssuanceDocument, { input: { templateId, csv: null } }, { "input.csv": csv });
    for (const created of [rows.createBulkIssuance, upload.createBulkIssuance]) {
      if (created.__typename !== "BulkJob") throw new Error(JSON.stringify(created));
      const job = await finished(created.id);
      expect(job.status).toBe("COMPLETED");
      expect(job.failures.edges.map((e) => e.node.rowNumber)).toEqual(refusedRows);
      for (const { node } of job.failures.edges) expect(node.problems).toMatchObject([{ column: "email", message: expect.stringMatching(/^Not a valid email address: /) }]);
    }
    // Every accepted row found its recipient by the same normalised address: no new recipient.
    expect(await recipientEmails()).toEqual(stored);
  });

  it("make one mailbox one recipient, with one identity hash, through its Unicode and its ASCII domain", async () => {
    const issued = [];
    for (const email of ["Zoe@M\u00fcller.example", "zoe@xn--mller-kva.example"]) {
      const res = await t.owner.request(IssueCredentialDocument, { input: { templateId, recipient: { email } } });
      if (res.issueCredential.__typename !== "Credential") throw new Error(JSON.stringify(res));
      issued.push(res.issueCredential);
    }
    expect(issued[0]!.recipient!.id).toBe(issued[1]!.recipient!.id);
    for (const credential of issued) {
      const [identity] = (credential.verifiableCredential as { credentialSubject: { identifier: { identityHash: string; salt: string }[] } }).credentialSubject.identifier;
      expect(identity!.identityHash).toBe("sha256$" + createHash("sha256").update("zoe@xn--mller-kva.example" + identity!.salt).digest("hex"));
    }
  });

  it("follow the same rule for accounts, invitations and sender domains", async () => {
    const { addSenderDomain } = await t.owner.request(AddSenderDomainDocument, { domain: " Mail.B\u00fccher.Example " });
    expect(addSenderDomain).toMatchObject({ __typename: "SenderDomain", domain: "mail.xn--bcher-kva.example" });
    const { signUp } = await app.client().request(SignUpDocument, {
      input: { email: " Owner@B\u00fccher-Owners.Example ", password: "correct horse battery", name: "Owner", organizationName: "Bücher Owners" },
    });
    expect(signUp.__typename).toBe("SessionPayload");
    const { logIn } = await app.client().request(LogInDocument, { input: { email: "owner@xn--bcher-owners-dlb.example", password: "correct horse battery" } });
    expect(logIn.__typename).toBe("SessionPayload");
    const invite = await t.owner.request(InviteMemberDocument, { input: { email: "jos\u00e9@example.org", role: "viewer" } }).catch((e: unknown) => e);
    expect((invite as LaurelRequestError).code).toBe("BAD_USER_INPUT");
    expect(await app.db.admin`select 1 from invitations where tenant_id = ${t.tenantId}`).toHaveLength(0);
  });
});
