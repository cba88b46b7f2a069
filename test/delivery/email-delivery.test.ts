// Email from issuance to inbox: the outbox row and its job commit with the credential, the real worker
// sends through the real resend SDK to a local fake of Resend's API, statuses follow Resend's signed
// webhooks, and one tenant never sees or touches another's messages, settings or jobs.
import { insertWithContent } from "../../src/modules/delivery/compose.js";
import { tenantKeys } from "../../src/modules/vault/vault.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Webhook } from "standardwebhooks";
import {
  ActivateTemplateDocument,
  AddSenderDomainDocument,
  CreateTemplateDocument,
  CreateWebhookEndpointDocument,
  EmailMessagesDocument,
  FailingJobsDocument,
  InviteMemberDocument,
  IssueCredentialDocument,
  NodeDocument,
  ResendCredentialEmailDocument,
  RetryJobDocument,
  SetEmailTemplateDocument,
  UpdateEmailSettingsDocument,
  UpdateRecipientPrivacyDocument,
  VerifySenderDomainDocument,
} from "../../src/sdk/generated.js";
import type { LaurelClient } from "../../src/sdk/index.js";
import { withTenantTransaction } from "../../src/db/tenant-transaction.js";
import { enqueueEmail } from "../../src/modules/outbox/service.js";
import { mailSettings } from "../../src/modules/delivery/compose.js";
import { enqueueJob } from "../../src/modules/jobs/enqueue.js";
import { openedMessages } from "../helpers/sealed.js";
import type { QueueWorker } from "../../src/modules/jobs/worker.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { signUpTenant, type TestTenant } from "../helpers/factories.js";
import { startFakeResend, type FakeResend } from "../helpers/fake-resend.js";
import { deliveryConfig, startTestWorker, waitFor } from "../helpers/worker.js";
import { BROWSER, eventsOf, settle } from "../engagement/setup.js";

const WEBHOOK_SECRET = `whsec_${Buffer.alloc(24, 7).toString("base64")}`;
let fake: FakeResend;
let app: TestApp;
let worker: QueueWorker;
let a: TestTenant;
let b: TestTenant;
let templateA: string;

async function activeTemplate(client: LaurelClient, name = "Safety Training") {
  const { createTemplate } = await client.request(CreateTemplateDocument, { kind: "BADGE", content: { name, description: "Completed the course.", criteriaNarrative: "Finish the course." } });
  if (createTemplate.__typename !== "Template") throw new Error(JSON.stringify(createTemplate));
  await client.request(ActivateTemplateDocument, { id: createTemplate.id });
  return createTemplate.id;
}

async function issue(client: LaurelClient, templateId: string, email: string, extra: { locale?: string; name?: string } = {}) {
  const { issueCredential } = await client.request(IssueCredentialDocument, {
    input: { templateId, recipient: { email, name: extra.name ?? "Grace Hopper", locale: extra.locale } },
  });
  if (issueCredential.__typename !== "Credential") throw new Error(JSON.stringify(issueCredential));
  return issueCredential;
}

async function messages(client: LaurelClient, vars: { credentialId?: string; undelivered?: boolean } = {}) {
  const { tenant } = await client.request(EmailMessagesDocument, { first: 50, ...vars });
  return tenant!.emailMessages!.edges.map((e) => e.node);
}

const rawId = (globalId: string) => Buffer.from(globalId, "base64").toString("utf8").split(":")[1]!;
const globalId = (type: string, id: string) => Buffer.from(`${type}:${id}`).toString("base64");
const sentTo = (address: string) => fake.sent.filter((m) => m.to.includes(address));

function signedWebhook(body: object, at = new Date(), id = `msg_${Math.random().toString(36).slice(2)}`) {
  const payload = JSON.stringify(body);
  const signature = new Webhook(WEBHOOK_SECRET).sign(id, at, payload);
  return { payload, headers: { "svix-id": id, "svix-timestamp": String(Math.floor(at.getTime() / 1000)), "svix-signature": signature, "content-type": "application/json" } };
}

async function postWebhook(payload: string, headers: Record<string, string>) {
  const response = await fetch(`${app.server.url}/webhooks/resend`, { method: "POST", headers, body: payload });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  fake = await startFakeResend();
  app = await startTestApp(deliveryConfig({ resendUrl: fake.url, webhookSecret: WEBHOOK_SECRET }));
  worker = await startTestWorker(app);
  a = await signUpTenant(app, "Alpha Academy");
  b = await signUpTenant(app, "Beta College");
  templateA = await activeTemplate(a.owner);
});

afterAll(async () => {
  await worker?.stop();
  await app?.close();
  await fake?.close();
});

describe("credential email", () => {
  it("reaches the recipient through Resend with the view link, the LinkedIn link and a tracking pixel", async () => {
    const credential = await issue(a.owner, templateA, "grace@example.test");
    const email = await waitFor(async () => sentTo("grace@example.test")[0], "the credential email");
    expect(email.subject).toContain("Safety Training");
    expect(email.html).toContain("/t/c/"); // tracked links
    expect(email.html).toMatch(/<img src="[^"]*\/t\/o\/[^"]+\.gif"/);
    expect(email.text).toContain("/t/c/");
    expect(decodeURIComponent(email.html)).toContain("linkedin.com/profile/add");
    expect(email.from).toContain("Alpha Academy");
    expect(email.idempotencyKey).toMatch(/^laurel-/);
    const message = await waitFor(async () => {
      const rows = await messages(a.owner, { credentialId: credential.id });
      return rows.find((m) => m.toEmail === "grace@example.test" && m.status === "sent");
    }, "the message marked sent");
    expect(message.credentialId).toBe(credential.id);
    expect(message!.providerMessageId).toBe(email.id);
    expect(message!.provider).toBe("resend");
    expect(message!.html).toBeNull(); // bodies are kept only in the demo outbox
  });

  it("shows the badge as an image of the credential's badge.png, which is not counted as a download, and leaves the text part as it was", async () => {
    const credential = await issue(a.owner, templateA, "hedy@example.test", { name: "Hedy Lamarr" });
    const email = await waitFor(async () => sentTo("hedy@example.test")[0], "the credential email");
    const badgeUrl = `${app.config.publicUrl}/issuers/${a.tenantId}/credentials/${rawId(credential.id)}/badge.png?view=email`;
    const img = /<img src="([^"]+)" alt="([^"]*)" width="(\d+)" height="(\d+)"/.exec(email.html);
    expect(img?.slice(1)).toEqual([badgeUrl, "Safety Training", "160", "160"]);
    expect(email.text).not.toContain("badge.png");
    expect(email.text).toContain("View your credential:");

    // The image is the badge; opening the email is no download. A real download still counts, once.
    const local = (url: string) => url.replace(app.config.publicUrl, app.server.url);
    const shown = await fetch(local(badgeUrl), { headers: { "user-agent": BROWSER } });
    expect([shown.status, shown.headers.get("content-type")]).toEqual([200, "image/png"]);
    expect((await shown.arrayBuffer()).byteLength).toBeGreaterThan(1000);
    expect((await fetch(local(badgeUrl.replace("?view=email", "")), { headers: { "user-agent": BROWSER } })).status).toBe(200);
    await eventsOf(app, a.tenantId, 1, (e) => e.type === "downloaded" && e.credential_id === rawId(credential.id));
    await settle();
    const downloads = await app.db.admin`select format from engagement_events where credential_id = ${rawId(credential.id)} and type = 'downloaded'`;
    expect(downloads.map((d) => d.format)).toEqual(["png"]);
  });

  it("escapes the achievement's name in the badge's alt text, in French too", async () => {
    const template = await activeTemplate(a.owner, `Soudure "avancée" <TIG>`);
    await issue(a.owner, template, "marie.alt@example.test", { locale: "fr", name: "Marie" });
    const email = await waitFor(async () => sentTo("marie.alt@example.test")[0], "the French email");
    expect(email.html).toContain(`alt="Soudure &quot;avancée&quot; &lt;TIG&gt;" width="160" height="160"`);
    expect(email.html).toContain("/badge.png?view=email");
  });

  it("is written in the recipient's language", async () => {
    await issue(a.owner, templateA, "marie@example.test", { locale: "fr-CA", name: "Marie Curie" });
    const email = await waitFor(async () => sentTo("marie@example.test")[0], "the French email");
    expect(email.subject).toContain("vous a délivré");
    expect(email.text).toContain("Bonjour Marie Curie");
  });

  it("uses the tenant's own content for a template, with merge fields, HTML-escaped in HTML only", async () => {
    const templateId = await activeTemplate(a.owner, "Forklift <Licence>");
    const { setEmailTemplate } = await a.owner.request(SetEmailTemplateDocument, {
      input: { templateId, kind: "credential_issued", locale: "en", subject: "Well done {{recipient.name}}: {{credential.name}}", html: "<html><body><p>{{credential.name}}</p><a href=\"{{links.view}}\">view</a></body></html>", text: "{{credential.name}} {{links.view}}" },
    });
    expect(setEmailTemplate.__typename).toBe("EmailTemplate");
    await issue(a.owner, templateId, "custom@example.test", { name: "Ann" });
    const email = await waitFor(async () => sentTo("custom@example.test")[0], "the custom email");
    expect(email.subject).toBe("Well done Ann: Forklift <Licence>");
    expect(email.html).toContain("<p>Forklift &lt;Licence&gt;</p>");
    expect(email.text).toContain("Forklift <Licence>");
  });

  it("refuses content with unknown merge fields or broken tags, and saves nothing", async () => {
    const { setEmailTemplate } = await a.owner.request(SetEmailTemplateDocument, {
      input: { kind: "credential_issued", locale: "en", subject: "Hi {{recipient.password}}", html: "<p>{{#links.view}}</p>", text: "x" },
    });
    expect(setEmailTemplate.__typename).toBe("ValidationError");
    if (setEmailTemplate.__typename !== "ValidationError") return;
    expect(setEmailTemplate.fieldErrors.map((f) => f.path.join("."))).toEqual(expect.arrayContaining(["input.subject", "input.html"]));
  });

  it("sends from the tenant's address only once its domain is verified with Resend", async () => {
    const refused = await a.owner.request(UpdateEmailSettingsDocument, { input: { fromAddress: "awards@alpha.example", fromName: "Alpha Awards" } });
    expect(refused.updateEmailSettings.__typename).toBe("ValidationError");
    const { addSenderDomain } = await a.owner.request(AddSenderDomainDocument, { domain: "alpha.example" });
    if (addSenderDomain.__typename !== "SenderDomain") throw new Error(JSON.stringify(addSenderDomain));
    expect(addSenderDomain.status).toBe("pending");
    expect(fake.calls.some((c) => c.path === "/domains")).toBe(true);
    const { verifySenderDomain } = await a.owner.request(VerifySenderDomainDocument, { id: addSenderDomain.id });
    expect(verifySenderDomain).toMatchObject({ status: "verified" });
    const { updateEmailSettings } = await a.owner.request(UpdateEmailSettingsDocument, { input: { fromAddress: "awards@alpha.example", fromName: "Alpha Awards", replyTo: "help@alpha.example" } });
    expect(updateEmailSettings.__typename).toBe("EmailSettings");
    await issue(a.owner, templateA, "sender@example.test");
    const email = await waitFor(async () => sentTo("sender@example.test")[0], "the email from the tenant's domain");
    expect(email.from).toBe('"Alpha Awards" <awards@alpha.example>');
    expect(email.replyTo).toEqual(["help@alpha.example"]);
  });

  it("gets no tracking pixel or tracked links when the recipient withdrew tracking consent", async () => {
    const first = await issue(a.owner, templateA, "private@example.test");
    await waitFor(async () => sentTo("private@example.test")[0], "the first email");
    const [row] = await app.db.admin`select recipient_id from credentials where id = ${rawId(first.id)}`;
    const { updateRecipientPrivacy } = await a.owner.request(UpdateRecipientPrivacyDocument, { id: globalId("Recipient", row!.recipient_id as string), input: { trackingConsent: false } });
    expect(updateRecipientPrivacy).toMatchObject({ trackingConsent: false });
    await a.owner.request(ResendCredentialEmailDocument, { credentialId: first.id });
    const again = await waitFor(async () => sentTo("private@example.test")[1], "the resent email");
    expect(again.html).not.toContain("/t/o/");
    expect(again.html).not.toContain("/t/c/");
  });
});

describe("the transactional outbox", () => {
  it("queues nothing, and sends nothing, when the change that caused the email rolls back", async () => {
    const quiet = await signUpTenant(app, "Quiet School");
    const jobsOf = async () => (await app.db.admin`select count(*)::int as n from graphile_worker._private_jobs where payload::jsonb ->> 'tenantId' = ${quiet.tenantId}`)[0]!.n as number;
    const claims = { dbRole: app.config.roles.member, tenantId: quiet.tenantId, userId: null };
    await expect(
      withTenantTransaction(app.database, claims, async (db) => {
        await enqueueEmail(db, quiet.tenantId, { kind: "credential_issued", toEmail: "ghost@example.test", payload: {}, idempotencyKey: "ghost" }, mailSettings(app.config));
        expect(await db.$queryRaw`select 1 from graphile_worker._private_jobs`.catch(() => "closed")).toBe("closed"); // the queue's tables stay shut
        throw new Error("the issuance failed after queueing its email");
      }),
    ).rejects.toThrow(/issuance failed/);
    expect(await jobsOf()).toBe(0);
    expect(await openedMessages(app, { toEmail: "ghost@example.test" })).toHaveLength(0);
    // The same work committed: the message and its job exist together.
    await withTenantTransaction(app.database, claims, (db) =>
      enqueueEmail(db, quiet.tenantId, { kind: "credential_issued", toEmail: "ghost@example.test", payload: {}, idempotencyKey: "ghost" }, mailSettings(app.config)),
    );
    await waitFor(async () => sentTo("ghost@example.test")[0], "the committed email");
    expect(sentTo("ghost@example.test")).toHaveLength(1);
  });

  it("retries a message Resend could not take, and sends it once", async () => {
    fake.failWith = (email, attempt) => (email.to.includes("flaky@example.test") && attempt === 1 ? 500 : null);
    try {
      await issue(a.owner, templateA, "flaky@example.test");
      await waitFor(async () => sentTo("flaky@example.test")[0], "the retried email", 20_000);
      expect(fake.calls.filter((c) => c.status === 500).length).toBeGreaterThanOrEqual(1);
      await new Promise((r) => setTimeout(r, 300));
      expect(sentTo("flaky@example.test")).toHaveLength(1);
    } finally {
      fake.failWith = null;
    }
  });

  it("marks a refused message failed, and shows a job that failed for good to its tenant only", async () => {
    fake.failWith = (email) => (email.to.includes("refused@example.test") ? 422 : email.to.includes("down@example.test") ? 503 : null);
    try {
      await issue(a.owner, templateA, "refused@example.test");
      const refused = await waitFor(async () => (await messages(a.owner, { undelivered: true })).find((m) => m.toEmail === "refused@example.test" && m.status === "failed"), "the refused message");
      expect(refused.lastError).toMatch(/422/);
      // A send job with a single attempt that meets an outage fails for good.
      const messageId = await withTenantTransaction(app.database, { dbRole: app.config.roles.member, tenantId: a.tenantId, userId: null }, async (db) => {
        const [id] = await insertWithContent(mailSettings(app.config), await tenantKeys(db, a.tenantId), [{ kind: "credential_issued", toEmail: "down@example.test", locale: "en", payload: {}, idempotencyKey: "down-1" }]);
        await enqueueJob(db, "send_emails", { messageIds: [id!] }, { maxAttempts: 1 });
        return id!;
      });
      const job = await waitFor(async () => (await a.owner.request(FailingJobsDocument, { failedOnly: true })).tenant!.failingJobs.find((j) => (j.payload as { messageIds: string[] }).messageIds.includes(messageId)), "the failed job");
      expect(job).toMatchObject({ task: "send_emails", failed: true, attempts: 1 });
      expect((job.payload as Record<string, unknown>).tenantId).toBeUndefined();
      expect((await b.owner.request(FailingJobsDocument, { failedOnly: false })).tenant!.failingJobs).toEqual([]);
      const stolen = await b.owner.request(RetryJobDocument, { id: job.id });
      expect(stolen.retryJob.__typename).toBe("NotFoundError");
      fake.failWith = null;
      const { retryJob } = await a.owner.request(RetryJobDocument, { id: job.id });
      expect(retryJob).toMatchObject({ retried: true });
      await waitFor(async () => sentTo("down@example.test")[0], "the email after the retry");
    } finally {
      fake.failWith = null;
    }
  });

  it("sends a batch in one request, and a refused address fails alone", async () => {
    fake.failWith = (email) => (email.to.includes("batch-bad@example.test") ? 422 : null);
    try {
      const before = fake.calls.filter((c) => c.path === "/emails/batch").length;
      await withTenantTransaction(app.database, { dbRole: app.config.roles.member, tenantId: a.tenantId, userId: null }, async (db) => {
        const ids: string[] = [];
        for (const to of ["batch-1@example.test", "batch-bad@example.test", "batch-2@example.test"]) {
          const [id] = await insertWithContent(mailSettings(app.config), await tenantKeys(db, a.tenantId), [{ kind: "credential_issued", toEmail: to, locale: "en", payload: { name: "Batch" }, idempotencyKey: `batch:${to}` }]);
          ids.push(id!);
        }
        await enqueueJob(db, "send_emails", { messageIds: ids });
      });
      await waitFor(async () => sentTo("batch-2@example.test")[0], "the batch");
      expect(fake.calls.filter((c) => c.path === "/emails/batch").length).toBe(before + 1);
      expect(sentTo("batch-1@example.test")[0]!.idempotencyKey).toMatch(/^laurel-batch-/);
      const rows = await waitFor(async () => {
        const r = await messages(a.owner);
        const mine = r.filter((m) => m.toEmail?.startsWith("batch-"));
        return mine.every((m) => m.status !== "sending" && m.status !== "queued") && mine.length === 3 ? mine : null;
      }, "the batch recorded");
      expect(Object.fromEntries(rows.map((m) => [m.toEmail, m.status]))).toEqual({
        "batch-1@example.test": "sent",
        "batch-bad@example.test": "failed",
        "batch-2@example.test": "sent",
      });
      expect(sentTo("batch-bad@example.test")).toHaveLength(0);
    } finally {
      fake.failWith = null;
    }
  });

  it("sends invitations the same way, and scrubs the invitation's token from the outbox once sent", async () => {
    const { inviteMember } = await a.owner.request(InviteMemberDocument, { input: { email: "newcomer@example.test", role: "issuer" } });
    expect(inviteMember.__typename).toBe("Invitation");
    const email = await waitFor(async () => sentTo("newcomer@example.test")[0], "the invitation email");
    expect(email.subject).toContain("Alpha Academy");
    expect(email.text).toMatch(/invitations\/accept#/);
    const [row] = await waitFor(async () => {
      const r = await openedMessages(app, { kind: "invitation", toEmail: "newcomer@example.test" });
      return r[0]?.status === "sent" ? r : null;
    }, "the invitation marked sent");
    expect(row!.payload).not.toHaveProperty("token");
    expect(row!.payload).not.toHaveProperty("acceptUrl");
  });
});

describe("delivery status from Resend's webhooks", () => {
  it("records a bounce, once, and refuses tampered or stale webhooks without changing anything", async () => {
    await issue(a.owner, templateA, "bounce@example.test");
    const email = await waitFor(async () => sentTo("bounce@example.test")[0], "the email to bounce");
    await waitFor(async () => (await messages(a.owner)).find((m) => m.providerMessageId === email.id), "the provider id recorded");
    const event = { type: "email.bounced", created_at: new Date().toISOString(), data: { email_id: email.id, bounce: { message: "Mailbox does not exist", type: "Permanent" } } };

    const tampered = signedWebhook(event);
    const forged = tampered.payload.replace("email.bounced", "email.delivered");
    expect((await postWebhook(forged, tampered.headers)).status).toBe(401);
    const stale = signedWebhook(event, new Date(Date.now() - 3600_000));
    expect((await postWebhook(stale.payload, stale.headers)).status).toBe(401);
    const unsigned = await postWebhook(JSON.stringify(event), { "content-type": "application/json" });
    expect(unsigned.status).toBe(401);
    expect((await messages(a.owner)).find((m) => m.providerMessageId === email.id)!.status).toBe("sent");

    const good = signedWebhook(event);
    expect(await postWebhook(good.payload, good.headers)).toMatchObject({ status: 200, json: { applied: true, status: "bounced" } });
    expect(await postWebhook(good.payload, good.headers)).toMatchObject({ status: 200, json: { applied: false } });
    const bounced = (await messages(a.owner)).find((m) => m.providerMessageId === email.id)!;
    expect(bounced).toMatchObject({ status: "bounced", statusDetail: "Mailbox does not exist" });
    expect(bounced.bouncedAt).toBeTruthy();
    const events = await app.db.admin`select count(*)::int as n from email_provider_events where provider_message_id = ${email.id}`;
    expect(events[0]!.n).toBe(1);

    // A late "delivered" does not undo the bounce.
    const late = signedWebhook({ ...event, type: "email.delivered" });
    await postWebhook(late.payload, late.headers);
    expect((await messages(a.owner)).find((m) => m.providerMessageId === email.id)!.status).toBe("bounced");
    expect((await messages(a.owner, { undelivered: true })).some((m) => m.providerMessageId === email.id)).toBe(true);
  });

  it("moves a sent message to delivered", async () => {
    await issue(a.owner, templateA, "inbox@example.test");
    const email = await waitFor(async () => sentTo("inbox@example.test")[0], "the email");
    await waitFor(async () => (await messages(a.owner)).find((m) => m.providerMessageId === email.id), "the provider id recorded");
    const hook = signedWebhook({ type: "email.delivered", created_at: new Date().toISOString(), data: { email_id: email.id } });
    expect((await postWebhook(hook.payload, hook.headers)).status).toBe(200);
    const row = (await messages(a.owner)).find((m) => m.providerMessageId === email.id)!;
    expect(row.status).toBe("delivered");
    expect((await messages(a.owner, { undelivered: true })).some((m) => m.id === row.id)).toBe(false);
  });

  it("applies Resend's failed and suppressed events to a message it had accepted", async () => {
    await issue(a.owner, templateA, "suppressed@example.test");
    const email = await waitFor(async () => sentTo("suppressed@example.test")[0], "the email");
    await waitFor(async () => (await messages(a.owner)).find((m) => m.providerMessageId === email.id && m.status === "sent"), "sent");
    const hook = signedWebhook({ type: "email.suppressed", created_at: new Date().toISOString(), data: { email_id: email.id } });
    expect((await postWebhook(hook.payload, hook.headers)).json).toMatchObject({ applied: true, status: "failed" });
    expect((await messages(a.owner, { undelivered: true })).some((m) => m.providerMessageId === email.id)).toBe(true);
  });

  it("answers 404 for a message it does not know, so Resend tries again later", async () => {
    const hook = signedWebhook({ type: "email.delivered", created_at: new Date().toISOString(), data: { email_id: "not-ours" } });
    expect((await postWebhook(hook.payload, hook.headers)).status).toBe(404);
  });
});

describe("tenant isolation", () => {
  it("keeps every message, template and setting of one tenant away from another", async () => {
    const mine = await messages(a.owner);
    expect(mine.length).toBeGreaterThan(3);
    const theirs = await messages(b.owner);
    expect(theirs.map((m) => m.toEmail)).not.toEqual(expect.arrayContaining(["grace@example.test"]));
    const { node } = await b.owner.request(NodeDocument, { id: mine[0]!.id });
    expect(node).toBeNull();
    const credentialId = mine.find((m) => m.credentialId)!.credentialId!;
    const { resendCredentialEmail } = await b.owner.request(ResendCredentialEmailDocument, { credentialId });
    expect(resendCredentialEmail.__typename).toBe("NotFoundError");
    // Even in SQL as the member role with B's tenant set, A's rows do not exist.
    const rows = await withTenantTransaction(app.database, { dbRole: app.config.roles.member, tenantId: b.tenantId, userId: null }, (db) =>
      db.emailOutbox.findMany({ where: { tenantId: a.tenantId } }),
    );
    expect(rows).toEqual([]);
  });

  it("lets no tenant put a job on the queue for another", async () => {
    // Scheduled for later, so the running worker leaves it in the table to be looked at.
    await withTenantTransaction(app.database, { dbRole: app.config.roles.member, tenantId: b.tenantId, userId: null }, (db) =>
      enqueueJob(db, "send_emails", { messageIds: [], tenantId: a.tenantId, probe: "forged" }, { runAt: new Date(Date.now() + 3_600_000) }),
    );
    const [job] = await app.db.admin`select payload::jsonb as payload from graphile_worker._private_jobs where payload::jsonb ->> 'probe' = 'forged'`;
    expect((job!.payload as { tenantId: string }).tenantId).toBe(b.tenantId);
  });
});

describe("the demo outbox (no RESEND_API_KEY)", () => {
  it("stores messages, never calls them sent, leaves them untracked and never keeps an invitation's body", async () => {
    const demo = await startTestApp(deliveryConfig());
    const demoWorker = await startTestWorker(demo);
    try {
      const tenant = await signUpTenant(demo, "Demo Outbox School");
      const { createWebhookEndpoint } = await tenant.owner.request(CreateWebhookEndpointDocument, { input: { url: "http://127.0.0.1:9/hooks", eventTypes: ["credential.delivered", "credential.bounced"] } });
      expect(createWebhookEndpoint.__typename).toBe("WebhookSecretPayload");
      const templateId = await activeTemplate(tenant.owner, "Outbox Badge");
      const credential = await issue(tenant.owner, templateId, "outbox@example.test");
      await tenant.owner.request(InviteMemberDocument, { input: { email: "invitee@example.test", role: "viewer" } });
      const rows = await waitFor(async () => {
        const all = await messages(tenant.owner);
        return all.length === 2 && all.every((m) => m.status === "stored") ? all : null;
      }, "both messages in the demo outbox");
      const credentialEmail = rows.find((m) => m.kind === "credential_issued")!;
      expect(credentialEmail).toMatchObject({ provider: "log", providerMessageId: null, sentAt: null, deliveredAt: null, subject: expect.stringContaining("Outbox Badge") });
      // Nobody but the operator can open a stored message: no pixel, no tracked link to count as the recipient's.
      expect(credentialEmail.html).toContain(`/issuers/${tenant.tenantId}/credentials/${rawId(credential.id)}`);
      expect(credentialEmail.html).not.toContain("/t/o/");
      expect(credentialEmail.html).not.toContain("/t/c/");
      const invitation = rows.find((m) => m.kind === "invitation")!;
      expect(invitation).toMatchObject({ provider: "log", html: null, text: null, sentAt: null });
      expect((await messages(tenant.owner, { undelivered: true })).map((m) => m.kind).sort()).toEqual(["credential_issued", "invitation"]);
      const kept = await openedMessages(demo, { tenantId: tenant.tenantId });
      expect(kept.map((r) => r.content)).toEqual([null, null]);
      expect(kept.map((r) => [r.raw.content_sealed, r.raw.legacy_content])).toEqual([[null, null], [null, null]]);
      expect(kept).toHaveLength(2);
      expect(kept.some((r) => "token" in r.payload)).toBe(false);
      const partnerEvents = await demo.db.admin`select event_type from webhook_deliveries where tenant_id = ${tenant.tenantId}`;
      expect(partnerEvents).toEqual([]);
    } finally {
      await demoWorker.stop();
      await demo.close();
    }
  });
});

describe("a deployment with a wrong Resend API key", () => {
  it("keeps the messages queued and shows the failing job to the tenant, instead of losing mail", async () => {
    const base = deliveryConfig({ resendUrl: fake.url });
    const broken = await startTestApp({ ...base, email: { ...base.email!, resendApiKey: "re_wrong_key" } });
    const brokenWorker = await startTestWorker(broken);
    try {
      const tenant = await signUpTenant(broken, "Misconfigured College");
      const templateId = await activeTemplate(tenant.owner, "Waiting Badge");
      await issue(tenant.owner, templateId, "waiting@example.test");
      const job = await waitFor(async () => (await tenant.owner.request(FailingJobsDocument, { failedOnly: false })).tenant!.failingJobs[0], "the failing job");
      expect(job).toMatchObject({ task: "send_emails", failed: false });
      expect(job.lastError).toMatch(/401/);
      const [message] = await messages(tenant.owner);
      expect(message).toMatchObject({ status: "queued", toEmail: "waiting@example.test" });
      expect(message!.lastError).toMatch(/401/);
      expect(sentTo("waiting@example.test")).toHaveLength(0);
    } finally {
      await brokenWorker.stop();
      await broken.close();
    }
  });
});
