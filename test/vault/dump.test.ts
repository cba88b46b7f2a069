// A database dump, a disk snapshot or a leaked backup must not say who received what (issue 13): after
// issuing to a person with a distinctive name and address (singly and in a bulk file, with the email
// sent), asking a guardian's consent and inviting a member, a pg_dump of the whole database holds none
// of their names or addresses, in any spelling a JSON or text column could have kept them in.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ActivateTemplateDocument,
  BulkJobDocument,
  CreateBulkIssuanceDocument,
  CreateRecipientDocument,
  CreateTemplateDocument,
  InviteMemberDocument,
  IssueCredentialDocument,
  RecipientsDocument,
  RequestGuardianConsentDocument,
  UpdateRecipientPrivacyDocument,
} from "../../src/sdk/generated.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { signUpTenant, type TestTenant } from "../helpers/factories.js";
import { startFakeResend, type FakeResend } from "../helpers/fake-resend.js";
import { deliveryConfig, waitFor } from "../helpers/worker.js";

const run = promisify(execFile);
let fake: FakeResend;
let app: TestApp;
let a: TestTenant;

const HOLDER = { name: "Zephyrine Quolbaxter-Ñandú", email: "zephyrine.quolbaxter@dumptest.example" };
const BULK = { name: "Oyelaran Vantongerloo", email: "oyelaran.vantongerloo@dumptest.example" };
const GUARDIAN = { name: "Bartholomew Quillfeather", email: "bartholomew.quillfeather@dumptest.example" };
const CHILD = { name: "Pip Thistlewaite", email: "pip.thistlewaite@dumptest.example" };
const INVITEE = "wilhelmina.grzybowska@dumptest.example";

beforeAll(async () => {
  fake = await startFakeResend();
  app = await startTestApp(deliveryConfig({ resendUrl: fake.url }), { worker: {} });
  a = await signUpTenant(app, "Dump Test University");
}, 120_000);

afterAll(async () => {
  await app?.close();
  await fake?.close();
});

/** Every way a value could sit in a dump: as given, lower-cased, and JSON-escaped (\u00d1 for Ñ). */
function spellings(value: string): string[] {
  const escaped = JSON.stringify(value).slice(1, -1).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  // Words of a name, and of an address's local part (its domain is shared with anything else at that domain).
  const parts = value.split("@")[0]!.split(/[\s.-]+/).filter((p) => p.length >= 6);
  return [...new Set([value, value.toLowerCase(), escaped, escaped.toLowerCase(), ...parts, ...parts.map((p) => p.toLowerCase())])];
}

async function dump(args: string[]): Promise<string> {
  const { stdout } = await run("pg_dump", [...args, app.db.adminUrl], { maxBuffer: 512 * 1024 * 1024 });
  return stdout;
}

describe("a dump of the database", () => {
  it("holds no recipient's, guardian's or invitee's name or address after issuance, delivery, consent and invitation", async () => {
    const { createTemplate } = await a.owner.request(CreateTemplateDocument, {
      kind: "BADGE",
      content: { name: "Dump Safety", description: "Names its holder.", credentialDescription: "Awarded to {{recipientName}}.", criteriaNarrative: "Be named." },
    });
    if (createTemplate.__typename !== "Template") throw new Error(JSON.stringify(createTemplate));
    await a.owner.request(ActivateTemplateDocument, { id: createTemplate.id });

    const { issueCredential } = await a.owner.request(IssueCredentialDocument, { input: { templateId: createTemplate.id, recipient: HOLDER } });
    expect(issueCredential.__typename).toBe("Credential");
    const { createBulkIssuance } = await a.owner.request(CreateBulkIssuanceDocument, { input: { templateId: createTemplate.id, rows: [BULK] } });
    if (createBulkIssuance.__typename !== "BulkJob") throw new Error(JSON.stringify(createBulkIssuance));
    await waitFor(async () => {
      const { node } = await a.owner.request(BulkJobDocument, { id: createBulkIssuance.id });
      return node && "status" in node && node.status === "COMPLETED";
    }, "the bulk job", 60_000);

    const { createRecipient } = await a.owner.request(CreateRecipientDocument, { input: CHILD });
    if (createRecipient.__typename !== "Recipient") throw new Error(JSON.stringify(createRecipient));
    await a.owner.request(UpdateRecipientPrivacyDocument, { id: createRecipient.id, input: { isChild: true } });
    const { requestGuardianConsent } = await a.owner.request(RequestGuardianConsentDocument, {
      input: { recipientId: createRecipient.id, guardianEmail: GUARDIAN.email, guardianName: GUARDIAN.name },
    });
    expect(requestGuardianConsent.__typename).toBe("GuardianConsent");
    expect((await a.owner.request(InviteMemberDocument, { input: { email: INVITEE, role: "viewer" } })).inviteMember.__typename).toBe("Invitation");

    // Everything was sent (so the outbox held bodies naming them), and the API still reads it all.
    for (const to of [HOLDER.email, BULK.email, GUARDIAN.email, INVITEE]) await waitFor(async () => fake.sent.find((m) => m.to.includes(to)), `the email to ${to}`, 30_000);
    const listed = await a.owner.request(RecipientsDocument, { first: 10, search: HOLDER.email });
    expect(listed.tenant.recipients!.edges.map((e) => e.node.name)).toEqual([HOLDER.name]);

    const [data, whole] = await Promise.all([dump(["--data-only"]), dump([])]);
    expect(data.length).toBeGreaterThan(10_000); // a real dump, with the rows in it
    for (const text of [data, whole]) {
      for (const value of [HOLDER.name, HOLDER.email, BULK.name, BULK.email, GUARDIAN.name, GUARDIAN.email, CHILD.name, CHILD.email, INVITEE]) {
        for (const spelling of spellings(value)) expect(text.includes(spelling), `${spelling} (of ${value}) is in the dump`).toBe(false);
      }
    }
  }, 120_000);

  it("would show them if they were stored in the clear (the check can fail)", async () => {
    // The same search over a dump of a table written in plain text finds the name: the test is not blind.
    await app.db.admin`create table dump_probe (note text)`;
    await app.db.admin`insert into dump_probe values (${`${HOLDER.name} <${HOLDER.email}>`})`;
    const text = await dump(["--data-only", "--table=dump_probe"]);
    await app.db.admin`drop table dump_probe`;
    expect(spellings(HOLDER.name).some((s) => text.includes(s))).toBe(true);
    expect(text.includes(HOLDER.email)).toBe(true);
  });
});
