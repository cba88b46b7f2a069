// A CSV is decoded by what it is, never guessed into replacement characters: UTF-8 with or without a
// byte-order mark and UTF-16 with one are read; Excel's "CSV (Comma delimited)" (Windows-1252) is
// refused naming the first bad row and column, or read when the uploader states its encoding. The
// signed credential and the email then carry the name exactly.
import { openedCredentials, openedMessages } from "../helpers/sealed.js";
import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ActivateTemplateDocument, BulkJobDocument, CreateBulkIssuanceDocument, CreateTemplateDocument, SetTemplateDuplicatePolicyDocument } from "../../src/sdk/generated.js";
import { recipientNameOf } from "../../src/modules/credentials/document.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { signUpTenant, type TestTenant } from "../helpers/factories.js";

const NAME = "Zo\u00eb M\u00fcller";
let app: TestApp;
let t: TestTenant;
let templateId: string;

const fixture = (name: string) => readFile(new URL(`./fixtures/${name}`, import.meta.url));

beforeAll(async () => {
  app = await startTestApp({}, { worker: {} });
  t = await signUpTenant(app, "Encoding Institute");
  const created = await t.owner.request(CreateTemplateDocument, {
    kind: "CERTIFICATE",
    content: { name: "Chemistry", description: "For completing a chemistry course.", credentialDescription: "For completing {{course}}.", criteriaNarrative: "Pass.", customFields: [{ name: "course", type: "TEXT", required: true }] },
  });
  if (created.createTemplate.__typename !== "Template") throw new Error(JSON.stringify(created));
  templateId = created.createTemplate.id;
  await t.owner.request(ActivateTemplateDocument, { id: templateId });
  // Each upload below names the same person: this certificate may be held more than once.
  await t.owner.request(SetTemplateDuplicatePolicyDocument, { id: templateId, policy: "ALLOW" });
});
afterAll(async () => app.close());

async function upload(bytes: Uint8Array, encoding?: string) {
  const csv = new File([bytes as BlobPart], "people.csv", { type: "text/csv" });
  const { createBulkIssuance } = await t.owner.upload(CreateBulkIssuanceDocument, { input: { templateId, csv: null, ...(encoding ? { encoding } : {}) } }, { "input.csv": csv });
  return createBulkIssuance;
}

/** Waits for the job, then returns the credential it issued and that credential's email, once rendered. */
async function issuedFrom(jobId: string) {
  for (;;) {
    const { node } = await t.owner.request(BulkJobDocument, { id: jobId });
    const job = node as { status: string; issuedCount: number; failures: { edges: unknown[] } };
    if (job.status === "COMPLETED") {
      expect(job).toMatchObject({ issuedCount: 1, failures: { edges: [] } });
      break;
    }
    expect(job.status).not.toBe("FAILED");
    await new Promise((r) => setTimeout(r, 100));
  }
  const [link] = await app.db.admin`select b.credential_id from bulk_job_rows b where b.job_id = ${Buffer.from(jobId, "base64").toString().split(":")[1]!} and b.credential_id is not null`;
  const row = (await openedCredentials(app)).find((c) => c.id === link!.credential_id)!;
  for (;;) {
    const sent = (await openedMessages(app, { tenantId: row.tenant_id })).find((m) => m.credentialId === row.id && m.text !== null);
    const email = sent && { subject: sent.subject, text_body: sent.text };
    if (email) return { document: row.document as Record<string, unknown>, recipientName: row.name as string, email };
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("a CSV saved by Excel as CSV (Comma delimited), Windows-1252", () => {
  it("is refused without an encoding, naming the first bad row and column, and nothing is created", async () => {
    const bytes = await fixture("zoe-muller-windows-1252.csv");
    expect([...bytes.subarray(bytes.indexOf(0x5a), bytes.indexOf(0x5a) + 10)]).toEqual([0x5a, 0x6f, 0xeb, 0x20, 0x4d, 0xfc, 0x6c, 0x6c, 0x65, 0x72]);
    const result = await upload(bytes);
    expect(result.__typename).toBe("ValidationError");
    if (result.__typename !== "ValidationError") return;
    expect(result.fieldErrors).toEqual([{ path: ["input", "csv"], message: expect.stringMatching(/^The CSV is not valid UTF-8: row 1, column "name" \(byte \d+\)/) }]);
    expect(result.message).toMatch(/windows-1252/);
    expect(await app.db.admin`select 1 from bulk_jobs where tenant_id = ${t.tenantId}`).toHaveLength(0);
  });

  it("is read exactly when the uploader states windows-1252: the credential and the email carry the name", async () => {
    const result = await upload(await fixture("zoe-muller-windows-1252.csv"), "windows-1252");
    if (result.__typename !== "BulkJob") throw new Error(JSON.stringify(result));
    const { document, recipientName, email } = await issuedFrom(result.id);
    expect(recipientName).toBe(NAME);
    expect(recipientNameOf(document)).toBe(NAME);
    expect(email.text_body).toContain(`Hello ${NAME},`);
    expect(JSON.stringify(document) + email.text_body + email.subject).not.toContain("\uFFFD");
  });

  it("refuses an encoding it does not know, on the encoding argument", async () => {
    const result = await upload(await fixture("zoe-muller-windows-1252.csv"), "klingon-8");
    expect(result).toMatchObject({ __typename: "ValidationError", fieldErrors: [{ path: ["input", "encoding"] }] });
  });
});

describe("Unicode CSVs", () => {
  it("reads UTF-16LE with a byte-order mark", async () => {
    const bytes = await fixture("zoe-muller-utf-16le-bom.csv");
    expect([...bytes.subarray(0, 2)]).toEqual([0xff, 0xfe]);
    const result = await upload(bytes);
    if (result.__typename !== "BulkJob") throw new Error(JSON.stringify(result));
    const { document, email } = await issuedFrom(result.id);
    expect(recipientNameOf(document)).toBe(NAME);
    expect(email.text_body).toContain(`Hello ${NAME},`);
  });

  it("reads UTF-8 with and without a byte-order mark, whatever encoding is stated", async () => {
    const text = `email,name,course\r\nzoe@example.org,${NAME},Chemistry\r\n`;
    for (const [bytes, encoding] of [
      [new TextEncoder().encode(text), undefined],
      [new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode(text)]), "windows-1252"],
    ] as const) {
      const result = await upload(bytes, encoding);
      if (result.__typename !== "BulkJob") throw new Error(JSON.stringify(result));
      expect(recipientNameOf((await issuedFrom(result.id)).document)).toBe(NAME);
    }
  });

  it("refuses UTF-8 with a broken sequence in a later row, naming that row", async () => {
    const good = new TextEncoder().encode(`email,name,course\nada@example.org,Ada \uFFFD Lovelace,Maths\nbob@example.org,Bob,`);
    const bytes = new Uint8Array([...good, 0xc3, 0x28, ...new TextEncoder().encode("\n")]);
    const result = await upload(bytes);
    expect(result).toMatchObject({ __typename: "ValidationError", fieldErrors: [{ message: expect.stringMatching(/row 2, column "course"/) }] });
  });
});

describe("a CSV saved by Excel where the decimal mark is a comma (semicolon separated, UTF-8 with BOM)", () => {
  it("is read with its semicolons, a quoted semicolon kept inside its cell", async () => {
    const result = await upload(await fixture("leon-dupre-semicolon-utf8-bom.csv"));
    if (result.__typename !== "BulkJob") throw new Error(JSON.stringify(result));
    const { document, recipientName } = await issuedFrom(result.id);
    expect(recipientName).toBe("Léon Dupré");
    expect(JSON.stringify(document)).toContain("For completing Chimie; niveau 1.");
  });
});
