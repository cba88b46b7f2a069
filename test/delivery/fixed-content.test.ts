// An email's content is fixed when it is queued, and a failure of ours is never the recipient's: a retry
// after a lost answer repeats the first request byte for byte (whatever was edited meanwhile), a 409 for
// a replay never turns a sent message into a failed one, and a message we cannot render or a sender
// Resend refuses stays queued and shows as the tenant's failing job.
import { tenantKeys } from "../../src/modules/vault/vault.js";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  ActivateTemplateDocument,
  CreateTemplateDocument,
  EmailMessagesDocument,
  FailingJobsDocument,
  IssueCredentialDocument,
  RetryJobDocument,
  SetEmailTemplateDocument,
} from "../../src/sdk/generated.js";
import type { LaurelClient } from "../../src/sdk/index.js";
import { withTenantTransaction } from "../../src/db/tenant-transaction.js";
import { queueEmails } from "../../src/modules/outbox/service.js";
import { insertWithContent, mailSettings } from "../../src/modules/delivery/compose.js";
import { enqueueJob } from "../../src/modules/jobs/enqueue.js";
import type { QueueWorker } from "../../src/modules/jobs/worker.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { signUpTenant, type TestTenant } from "../helpers/factories.js";
import { startFakeResend, type FakeResend } from "../helpers/fake-resend.js";
import { deliveryConfig, startTestWorker, waitFor } from "../helpers/worker.js";
import { openedMessages } from "../helpers/sealed.js";

let fake: FakeResend;
let app: TestApp;
let worker: QueueWorker | null = null;
let a: TestTenant;
let templateId: string;

const sentTo = (address: string) => fake.sent.filter((m) => m.to.includes(address));

async function messages(client: LaurelClient) {
  const { tenant } = await client.request(EmailMessagesDocument, { first: 100 });
  return tenant!.emailMessages!.edges.map((e) => e.node);
}

const messageTo = async (address: string) => (await messages(a.owner)).find((m) => m.toEmail === address);

async function issue(email: string) {
  const { issueCredential } = await a.owner.request(IssueCredentialDocument, { input: { templateId, recipient: { email, name: "Ada" } } });
  if (issueCredential.__typename !== "Credential") throw new Error(JSON.stringify(issueCredential));
}

async function setSubject(subject: string) {
  const { setEmailTemplate } = await a.owner.request(SetEmailTemplateDocument, {
    input: { templateId, kind: "credential_issued", locale: "en", subject, html: `<p>${subject}</p><a href="{{links.view}}">view</a>`, text: `${subject} {{links.view}}` },
  });
  expect(setEmailTemplate.__typename).toBe("EmailTemplate");
}

/** Messages queued in one send job, as a bulk chunk queues them (content fixed now, where it can be rendered). */
async function queueRaw(emails: { to: string; kind: string }[]) {
  const claims = { dbRole: app.config.roles.member, tenantId: a.tenantId, userId: null };
  return withTenantTransaction(app.database, claims, (db) =>
    queueEmails(db, mailSettings(app.config), a.tenantId, emails.map(({ to, kind }) => ({ kind, toEmail: to, locale: "en", payload: { name: "Raw" }, idempotencyKey: `raw:${to}` }))),
  );
}

beforeAll(async () => {
  fake = await startFakeResend();
  app = await startTestApp(deliveryConfig({ resendUrl: fake.url }));
  a = await signUpTenant(app, "Alpha Academy");
  const { createTemplate } = await a.owner.request(CreateTemplateDocument, { kind: "BADGE", content: { name: "Fixed Badge", description: "d", criteriaNarrative: "c" } });
  if (createTemplate.__typename !== "Template") throw new Error("template");
  templateId = createTemplate.id;
  await a.owner.request(ActivateTemplateDocument, { id: templateId });
});

beforeEach(async () => {
  worker ??= await startTestWorker(app);
  fake.failWith = null;
  fake.loseAnswer = null;
  fake.conflictOnReplay = false;
});

afterAll(async () => {
  await worker?.stop();
  await app?.close();
  await fake?.close();
});

describe("an email's content", () => {
  it("is the one it was queued with, even when the template changes before the worker sends it", async () => {
    await worker?.stop();
    worker = null;
    await setSubject("Queued wording");
    await issue("queued@example.test"); // no worker: the message waits in the outbox
    await setSubject("Later wording");
    worker = await startTestWorker(app);
    const email = await waitFor(async () => sentTo("queued@example.test")[0], "the email");
    expect(email.subject).toBe("Queued wording");
    expect(email.html).toContain("<p>Queued wording</p>");
  });

  it("is written with the message, sealed: the app's role reads it only as ciphertext and Prisma never selects it (an invitation's holds its accept link)", async () => {
    const claims = { dbRole: app.config.roles.member, tenantId: a.tenantId, userId: null };
    // The app's role may read the sealed payload and content as ciphertext (data-key rotation re-seals them),
    // never an accept link in clear; Prisma never selects them (src/db/secrets.ts).
    const raw = await withTenantTransaction(app.database, claims, (db) =>
      db.$queryRawUnsafe<{ content_sealed: Uint8Array | null; payload_sealed: Uint8Array | null }[]>(`select content_sealed, payload_sealed from email_outbox`));
    for (const r of raw) for (const bytes of [r.content_sealed, r.payload_sealed]) if (bytes) expect(Buffer.from(bytes).includes("Queued wording")).toBe(false);
    const unread = await withTenantTransaction(app.database, claims, (db) => db.emailOutbox.findFirst({ where: { tenantId: a.tenantId } }));
    expect(unread && "payloadSealed" in unread).toBe(false);
    // The subject stays readable to the app (sealed, opened with the tenant's keys), and the stored content is the queued one.
    const [stored] = await openedMessages(app, { tenantId: a.tenantId, toEmail: "queued@example.test" });
    const [row] = await withTenantTransaction(app.database, claims, (db) =>
      db.$queryRaw<{ subject_sealed: Uint8Array | null }[]>`select subject_sealed from email_outbox where id = ${stored!.id}::uuid`);
    expect(row!.subject_sealed).toBeTruthy();
    expect((await messageTo("queued@example.test"))!.subject).toBe("Queued wording");
    expect(stored!.subject).toBe("Queued wording");
  });

  it("goes out once, as first written, when the template is edited between a lost answer and the retry", async () => {
    await setSubject("Original wording");
    fake.loseAnswer = async (emails) => {
      if (!emails.some((e) => e.to.includes("lost@example.test"))) return false;
      fake.loseAnswer = null;
      await setSubject("Edited wording"); // while the worker waits for an answer that never comes
      return true;
    };
    await issue("lost@example.test");
    const message = await waitFor(async () => {
      const m = await messageTo("lost@example.test");
      return m && m.status !== "queued" && m.status !== "sending" ? m : null;
    }, "the message recorded after the retry", 25_000);
    expect(message).toMatchObject({ status: "sent", lastError: null, subject: "Original wording" });
    const received = sentTo("lost@example.test");
    expect(received).toHaveLength(1);
    expect(received[0]!.subject).toBe("Original wording");
    expect(message.providerMessageId).toBe(received[0]!.id);
    // The retry was the same request: answered from the first one, never refused as a different payload.
    const calls = fake.calls.filter((c) => c.idempotencyKey === received[0]!.idempotencyKey);
    expect(calls.map((c) => c.status)).toEqual([0, 200]);
  });

  it("is never marked failed when Resend answers a replay with 409 'different payload'", async () => {
    await setSubject("Conflict wording");
    fake.loseAnswer = (emails) => {
      if (!emails.some((e) => e.to.includes("conflict@example.test"))) return false;
      fake.loseAnswer = null;
      fake.conflictOnReplay = true;
      return true;
    };
    await issue("conflict@example.test");
    const message = await waitFor(async () => {
      const m = await messageTo("conflict@example.test");
      return m && m.status !== "queued" && m.status !== "sending" ? m : null;
    }, "the message recorded after the retry", 25_000);
    expect(fake.calls.some((c) => c.status === 409)).toBe(true);
    expect(message).toMatchObject({ status: "sent", lastError: null });
    expect(message.statusDetail).toMatch(/409.*accepted/);
    expect(sentTo("conflict@example.test")).toHaveLength(1);
  });
});

describe("failures of ours", () => {
  it("keep a message we cannot render queued, as a failing job, while the rest of its job is sent", async () => {
    const [, broken] = await queueRaw([
      { to: "renders@example.test", kind: "credential_issued" },
      { to: "unrenderable@example.test", kind: "credential_unknown_kind" },
    ]);
    await waitFor(async () => sentTo("renders@example.test")[0], "the renderable message");
    const job = await waitFor(async () => (await a.owner.request(FailingJobsDocument, { failedOnly: false })).tenant!.failingJobs.find(
      (j) => (j.payload as { messageIds: string[] }).messageIds.includes(broken!)), "the failing job");
    expect(job).toMatchObject({ task: "send_emails", failed: false });
    expect(job.lastError).toMatch(/could not be rendered \(on Laurel's side/);
    const stuck = await messageTo("unrenderable@example.test");
    expect(stuck).toMatchObject({ status: "queued" });
    expect(stuck!.lastError).toMatch(/Cannot render/);
    expect((await messageTo("renders@example.test"))!.status).toBe("sent");
    expect(sentTo("unrenderable@example.test")).toHaveLength(0);
  });

  it("keep a message queued, as a failing job, when Resend refuses our sender rather than the recipient", async () => {
    fake.failWith = (email) => (email.to.includes("sender-refused@example.test") ? { status: 422, name: "invalid_from_address" } : null);
    await issue("sender-refused@example.test");
    const job = await waitFor(async () => (await a.owner.request(FailingJobsDocument, { failedOnly: false })).tenant!.failingJobs.find(
      (j) => /invalid_from_address/.test(j.lastError ?? "")), "the failing job");
    expect(job).toMatchObject({ task: "send_emails", failed: false });
    const message = await messageTo("sender-refused@example.test");
    expect(message).toMatchObject({ status: "queued" });
    expect(message!.lastError).toMatch(/invalid_from_address/);
  });

  it("leave a message queued, not failed, when its job gives up on a refusal of ours; retrying the job sends it", async () => {
    fake.failWith = (email) => (email.to.includes("unverified@example.test") ? { status: 403, name: "validation_error" } : null);
    const claims = { dbRole: app.config.roles.member, tenantId: a.tenantId, userId: null };
    const [id] = await withTenantTransaction(app.database, claims, async (db) => {
      const ids = await insertWithContent(mailSettings(app.config), await tenantKeys(db, a.tenantId), [{ kind: "credential_issued", toEmail: "unverified@example.test", locale: "en", payload: { name: "Raw" }, idempotencyKey: "raw:unverified" }]);
      await enqueueJob(db, "send_emails", { messageIds: ids }, { maxAttempts: 1 });
      return ids;
    });
    const job = await waitFor(async () => (await a.owner.request(FailingJobsDocument, { failedOnly: true })).tenant!.failingJobs.find(
      (j) => (j.payload as { messageIds: string[] }).messageIds.includes(id!)), "the job given up");
    expect(job.lastError).toMatch(/403 validation_error/);
    expect(await messageTo("unverified@example.test")).toMatchObject({ status: "queued" });
    fake.failWith = null; // the operator verifies the domain
    const { retryJob } = await a.owner.request(RetryJobDocument, { id: job.id });
    expect(retryJob).toMatchObject({ retried: true });
    await waitFor(async () => (await messageTo("unverified@example.test"))?.status === "sent", "sent after the retry");
  });

  it("never send a message twice when its job's next try adds one that could only be rendered later", async () => {
    fake.loseAnswer = async (emails) => {
      if (!emails.some((e) => e.to.includes("batch-a@example.test"))) return false;
      fake.loseAnswer = null;
      // While the answer to the first batch is lost, the third message becomes renderable.
      const [late] = await openedMessages(app, { tenantId: a.tenantId, toEmail: "batch-late@example.test" });
      await app.db.admin`update email_outbox set kind = 'credential_issued' where id = ${late!.id}`;
      return true;
    };
    await queueRaw([
      { to: "batch-a@example.test", kind: "credential_issued" },
      { to: "batch-b@example.test", kind: "credential_issued" },
      { to: "batch-late@example.test", kind: "credential_not_yet_known" },
    ]);
    await waitFor(async () => {
      const rows = await messages(a.owner);
      return ["batch-a", "batch-b", "batch-late"].every((p) => rows.find((m) => m.toEmail === `${p}@example.test`)?.status === "sent");
    }, "all three sent", 25_000);
    for (const p of ["batch-a", "batch-b", "batch-late"]) expect(sentTo(`${p}@example.test`), p).toHaveLength(1);
  });
});
