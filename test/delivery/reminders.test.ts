// Reminders and expiry, driven by the sweep the worker's cron runs: unopened credentials get up to the
// template's reminder count, spaced by its interval; expiring ones get one notice; expired ones tell
// partners. Restricted recipients and those who objected get nothing; engaged credentials stop.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ActivateTemplateDocument, CreateTemplateDocument, IssueCredentialDocument, SetTemplateRemindersDocument } from "../../src/sdk/generated.js";
import { sweepReminders, sweepTenant } from "../../src/modules/delivery/reminders.js";
import { ownerPool } from "../../src/db/migrate.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { signUpTenant, type TestTenant } from "../helpers/factories.js";
import { deliveryConfig } from "../helpers/worker.js";
import { keysOf } from "../helpers/sealed.js";
import { sealNewMessage } from "../../src/modules/delivery/sealed-outbox.js";

let app: TestApp;
let a: TestTenant;
let b: TestTenant;
let templateId: string;

const rawId = (globalId: string) => Buffer.from(globalId, "base64").toString("utf8").split(":")[1]!;

async function issue(email: string, validUntil?: string) {
  const { issueCredential } = await a.owner.request(IssueCredentialDocument, { input: { templateId, recipient: { email }, ...(validUntil ? { validUntil } : {}) } });
  if (issueCredential.__typename !== "Credential") throw new Error(JSON.stringify(issueCredential));
  return rawId(issueCredential.id);
}

/** Moves a credential's history back in time, as if days had passed. */
async function age(credentialId: string, days: number) {
  await app.db.admin`update credentials set issued_at = issued_at - make_interval(days => ${days}),
                            last_reminded_at = last_reminded_at - make_interval(days => ${days}) where id = ${credentialId}`;
}

const reminders = (credentialId: string) =>
  app.db.admin`select idempotency_key from email_outbox where credential_id = ${credentialId} and kind = 'credential_reminder' order by created_at`;

const sweep = () => sweepTenant({ config: app.config, database: app.database }, a.tenantId);

beforeAll(async () => {
  app = await startTestApp(deliveryConfig());
  a = await signUpTenant(app, "Alpha Academy");
  b = await signUpTenant(app, "Beta College");
  const { createTemplate } = await a.owner.request(CreateTemplateDocument, { kind: "CERTIFICATE", content: { name: "Reminded", description: "d", criteriaNarrative: "c" } });
  if (createTemplate.__typename !== "Template") throw new Error("template");
  templateId = createTemplate.id;
  await a.owner.request(ActivateTemplateDocument, { id: templateId });
  const { setTemplateReminders } = await a.owner.request(SetTemplateRemindersDocument, { id: templateId, input: { reminderCount: 2, reminderIntervalDays: 7, expiryReminderDays: 30 } });
  expect(setTemplateReminders).toMatchObject({ reminderCount: 2, reminderIntervalDays: 7, expiryReminderDays: 30 });
});

afterAll(async () => app?.close());

describe("reminders for unopened credentials", () => {
  it("sends up to the template's count, one interval apart, each with its own send job", async () => {
    const id = await issue("slow@example.test");
    await sweep();
    expect(await reminders(id)).toHaveLength(0); // not due yet
    await age(id, 8);
    await sweep();
    await sweep(); // a repeated sweep changes nothing
    expect((await reminders(id)).map((r) => r.idempotency_key)).toEqual([`credential_reminder:${id}:1`]);
    const jobs = await app.db.admin`select 1 from graphile_worker._private_jobs where payload::jsonb ->> 'tenantId' = ${a.tenantId}
                                     and payload::jsonb -> 'messageIds' ?| array(select id::text from email_outbox where credential_id = ${id} and kind = 'credential_reminder')`;
    expect(jobs.length).toBeGreaterThan(0);
    await age(id, 8);
    await sweep();
    await age(id, 8);
    await sweep();
    expect(await reminders(id)).toHaveLength(2); // the template allows two
  });

  it("stops once a person has opened the credential", async () => {
    const id = await issue("opened@example.test");
    await app.db.admin`update credentials set engaged_at = now() where id = ${id}`;
    await age(id, 30);
    await sweep();
    expect(await reminders(id)).toHaveLength(0);
  });

  it("sends none to a restricted recipient or one who objected", async () => {
    const restricted = await issue("restricted@example.test");
    const objected = await issue("objected@example.test");
    const marked = await app.db.admin`update recipients set restricted_at = now() where id = (select recipient_id from credentials where id = ${restricted}) returning id`;
    const objecting = await app.db.admin`update recipients set objected_at = now() where id = (select recipient_id from credentials where id = ${objected}) returning id`;
    expect([marked.length, objecting.length]).toEqual([1, 1]);
    await age(restricted, 30);
    await age(objected, 30);
    await sweep();
    expect(await reminders(restricted)).toHaveLength(0);
    expect(await reminders(objected)).toHaveLength(0);
  });
});

describe("a credential whose email was only stored (the demo outbox)", () => {
  it("gets no reminder that it was not opened: nobody was told about it, until a copy is sent", async () => {
    const id = await issue("stored-only@example.test");
    // What the worker does without RESEND_API_KEY: the message is stored, never sent.
    await app.db.admin`update email_outbox set status = 'stored', provider = 'log' where credential_id = ${id} and kind = 'credential_issued'`;
    await age(id, 30);
    await sweep();
    expect(await reminders(id)).toHaveLength(0);
    // A copy that did leave (resendCredentialEmail through Resend) makes the reminder due again.
    const copyId = randomUUID();
    const sealed = sealNewMessage(await keysOf(app, a.tenantId), copyId, { toEmail: "stored-only@example.test", payload: {}, content: null });
    await app.db.admin`insert into email_outbox (id, tenant_id, kind, key_version, to_email_sealed, to_email_index, payload_sealed, idempotency_key, credential_id, status)
                       values (${copyId}, ${a.tenantId}, 'credential_issued', ${sealed.keyVersion}, ${sealed.toEmail}, ${sealed.toEmailIndex}, ${sealed.payload},
                               ${`credential_issued:${id}:resend:1`}, ${id}, 'sent')`;
    await sweep();
    expect(await reminders(id)).toHaveLength(1);
  });
});

describe("expiry", () => {
  it("reminds once before validUntil and tells partners once it has passed", async () => {
    const soon = new Date(Date.now() + 10 * 86_400_000).toISOString();
    const id = await issue("expiring@example.test", soon);
    await app.db.admin`update credentials set engaged_at = now() where id = ${id}`;
    await sweep();
    await sweep();
    const notices = await app.db.admin`select 1 from email_outbox where credential_id = ${id} and kind = 'credential_expiring'`;
    expect(notices).toHaveLength(1);
    await app.db.admin`insert into webhook_endpoints (tenant_id, url, event_types, secret_sealed, secret_kek_version)
                       values (${a.tenantId}, 'https://partner.example/hook', '{credential.expired}', '\\x00', 1)`;
    await app.db.admin`update credentials set valid_from = now() - interval '2 days', valid_until = now() - interval '1 day' where id = ${id}`;
    // The cron task's way in: graphile-worker's own connection (the owner) finds the tenants with work due.
    const owner = await ownerPool(app.db.adminUrl, app.config.roles.owner, 1);
    try {
      expect(await sweepReminders({ config: app.config, database: app.database }, owner)).toMatchObject({ expired: 1 });
      expect(await sweepReminders({ config: app.config, database: app.database }, owner)).toMatchObject({ expired: 0 });
    } finally {
      await owner.end();
    }
    const events = await app.db.admin`select payload from webhook_deliveries where tenant_id = ${a.tenantId} and event_type = 'credential.expired'`;
    expect(events).toHaveLength(1);
    expect(events[0]!.payload.data.credentialId).toBe(id);
    expect(await app.db.admin`select 1 from webhook_deliveries where tenant_id = ${b.tenantId}`).toHaveLength(0);
  });
});
