// One rule decides what may be done with a person's data (privacy/processing.ts and processing_allowed(),
// sql/037). The two spellings agree on every combination of flags; each flag stops each path it should,
// including work queued before the flag was set (the real worker re-checks when it runs); people's own
// restriction, objection and consent-withdrawal requests set the flags and leave a history.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ActivateTemplateDocument,
  CarryOutDataSubjectRequestDocument,
  CreateTemplateDocument,
  CreateWebhookEndpointDocument,
  FileDataSubjectRequestDocument,
  IssueCredentialDocument,
  RecipientPrivacyDocument,
  RequestGuardianConsentDocument,
  UpdateRecipientPrivacyDocument,
  type RecipientPrivacyInput,
} from "../../src/sdk/generated.js";
import { LaurelRequestError } from "../../src/sdk/index.js";
import { mayProcess, PROCESSING_PURPOSES, type ProcessingFlags } from "../../src/modules/privacy/processing.js";
import { sweepTenant } from "../../src/modules/delivery/reminders.js";
import { emailTracking } from "../../src/modules/engagement/tracking.js";
import type { QueueWorker } from "../../src/modules/jobs/worker.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { createKey, signUpTenant, type TestTenant } from "../helpers/factories.js";
import { startFakeResend, type FakeResend } from "../helpers/fake-resend.js";
import { deliveryConfig, startTestWorker, waitFor } from "../helpers/worker.js";

const BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15";
let fake: FakeResend;
let app: TestApp;
let worker: QueueWorker | null = null;
let a: TestTenant;
let b: TestTenant;
let templateId: string;
let partner: Server;
const hooks: { type: string; data: Record<string, unknown> }[] = [];

const rawId = (globalId: string) => Buffer.from(globalId, "base64").toString("utf8").split(":")[1]!;
const local = (url: string) => url.replace(/^https?:\/\/[^/]+/, app.server.url);

beforeAll(async () => {
  fake = await startFakeResend();
  app = await startTestApp(deliveryConfig({ resendUrl: fake.url }));
  a = await signUpTenant(app, "Rule Academy");
  b = await signUpTenant(app, "Elsewhere College");
  partner = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      hooks.push(JSON.parse(body));
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => partner.listen(0, "127.0.0.1", r));
  const { createWebhookEndpoint } = await a.owner.request(CreateWebhookEndpointDocument, {
    input: { url: `http://127.0.0.1:${(partner.address() as AddressInfo).port}/hooks`, eventTypes: ["credential.issued", "credential.viewed", "credential.revoked"] },
  });
  expect(createWebhookEndpoint.__typename).toBe("WebhookSecretPayload");
  const { createTemplate } = await a.owner.request(CreateTemplateDocument, { kind: "CERTIFICATE", content: { name: "Ruled", description: "d", criteriaNarrative: "c" } });
  if (createTemplate.__typename !== "Template") throw new Error("template");
  templateId = createTemplate.id;
  await a.owner.request(ActivateTemplateDocument, { id: templateId });
});

afterAll(async () => {
  await worker?.stop();
  await app?.close();
  await fake?.close();
  partner?.closeAllConnections();
  await new Promise((r) => partner?.close(r));
});

async function issue(email: string) {
  const { issueCredential } = await a.owner.request(IssueCredentialDocument, { input: { templateId, recipient: { email } } });
  if (issueCredential.__typename !== "Credential") throw new Error(JSON.stringify(issueCredential));
  return { credentialId: rawId(issueCredential.id), recipientId: issueCredential.recipient!.id };
}

async function choose(recipientId: string, input: RecipientPrivacyInput) {
  const { updateRecipientPrivacy } = await a.owner.request(UpdateRecipientPrivacyDocument, { id: recipientId, input });
  expect(updateRecipientPrivacy.__typename).toBe("Recipient");
}

describe("the rule in TypeScript and in SQL", () => {
  it("gives the same answer for every combination of flags and purpose", async () => {
    const now = new Date("2026-06-15T23:30:00Z"); // already the 16th in Tokyo: a birthday boundary
    const births = [null, new Date("2013-06-16T00:00:00Z"), new Date("2013-06-15T00:00:00Z"), new Date("1990-01-01T00:00:00Z")];
    const cases: (ProcessingFlags & { purpose: string; zone: string })[] = [];
    for (const trackingConsent of [true, false])
      for (const restrictedAt of [null, now])
        for (const objectedAt of [null, now])
          for (const isChild of [false, true])
            for (const birthDate of births)
              for (const guardianConsentAt of [null, now])
                for (const zone of ["UTC", "Asia/Tokyo", "Not/AZone"])
                  for (const purpose of PROCESSING_PURPOSES) cases.push({ trackingConsent, restrictedAt, objectedAt, isChild, birthDate, guardianConsentAt, purpose, zone });
    const rows = await app.db.admin<{ allowed: boolean }[]>`
      select processing_allowed(x.v ->> 'purpose', (x.v ->> 'tracking_consent')::boolean, (x.v ->> 'restricted_at')::timestamptz,
                                (x.v ->> 'objected_at')::timestamptz, (x.v ->> 'is_child')::boolean, (x.v ->> 'birth_date')::date,
                                (x.v ->> 'guardian_consent_at')::timestamptz, x.v ->> 'zone', ${now}::timestamptz) as allowed
        from jsonb_array_elements(${JSON.stringify(cases.map((c) => ({
          purpose: c.purpose, tracking_consent: c.trackingConsent, restricted_at: c.restrictedAt, objected_at: c.objectedAt, is_child: c.isChild,
          birth_date: c.birthDate?.toISOString().slice(0, 10) ?? null, guardian_consent_at: c.guardianConsentAt, zone: c.zone,
        })))}::text::jsonb) with ordinality as x(v, n)
       order by x.n`;
    const disagreements = cases.filter((c, i) => mayProcess(c, c.purpose as never, c.zone, now) !== rows[i]!.allowed);
    expect(rows).toHaveLength(cases.length);
    expect(disagreements).toEqual([]);
    // And the rule says what it should, at least here: a 13th birthday that has begun in Tokyo only.
    const turning = { trackingConsent: true, restrictedAt: null, objectedAt: null, isChild: false, birthDate: births[1]!, guardianConsentAt: null };
    expect(mayProcess(turning, "tracking", "Asia/Tokyo", now)).toBe(true);
    expect(mayProcess(turning, "tracking", "UTC", now)).toBe(false);
    expect(mayProcess(turning, "issuance", "UTC", now)).toBe(false);
  });

  it("refuses a purpose it does not know", async () => {
    await expect(app.db.admin`select processing_allowed('marketing', true, null, null, false, null, null, 'UTC', now())`).rejects.toThrow(/unknown processing purpose/);
  });
});

describe("each flag stops each path, queued work included", () => {
  it("withholds queued emails and webhooks when the worker gets to them, and tracks no one who objected", async () => {
    const restricted = await issue("restricted-later@example.test");
    const objecting = await issue("objecting-later@example.test");
    const free = await issue("free@example.test");
    const untracked = await issue("untracked-later@example.test");
    // Queued before anyone chose: emails and credential.issued deliveries wait for the worker.
    expect(await app.db.admin`select 1 from email_outbox where tenant_id = ${a.tenantId} and status = 'queued'`).toHaveLength(4);
    await choose(restricted.recipientId, { restricted: true });
    await choose(objecting.recipientId, { objectsToReminders: true });
    await choose(untracked.recipientId, { trackingConsent: false });

    worker = await startTestWorker(app);
    await waitFor(async () => fake.sent.some((m) => m.to.includes("free@example.test")) && fake.sent.some((m) => m.to.includes("objecting-later@example.test")), "the allowed emails");
    const [held] = await app.db.admin`select status, status_detail from email_outbox where credential_id = ${restricted.credentialId}`;
    expect(held).toMatchObject({ status: "withheld", status_detail: expect.stringMatching(/restricted.*Art\. 18/) });
    expect(fake.sent.some((m) => m.to.includes("restricted-later@example.test"))).toBe(false);

    // Partner events: the free person's went; the restricted and objecting persons' were withheld at run time.
    await waitFor(async () => hooks.some((h) => h.type === "credential.issued" && h.data.credentialId === free.credentialId), "the free person's webhook");
    const deliveries = await waitFor(async () => {
      const rows = await app.db.admin<{ credential_id: string; status: string; last_error: string | null }[]>`
        select payload #>> '{data,credentialId}' as credential_id, status::text as status, last_error from webhook_deliveries where tenant_id = ${a.tenantId}`;
      return rows.every((r) => r.status !== "pending") && rows.length === 4 ? rows : null;
    }, "every delivery settled");
    const byCredential = new Map(deliveries.map((d) => [d.credential_id, d]));
    // Withdrawing consent to tracking stops tracking only: the email and the issuance event still go.
    for (const who of [free, untracked]) expect(byCredential.get(who.credentialId)).toMatchObject({ status: "succeeded" });
    expect(fake.sent.some((m) => m.to.includes("untracked-later@example.test"))).toBe(true);
    for (const who of [restricted, objecting]) expect(byCredential.get(who.credentialId)).toMatchObject({ status: "failed", last_error: expect.stringMatching(/^Withheld/) });
    expect(hooks.filter((h) => h.data.credentialId === restricted.credentialId || h.data.credentialId === objecting.credentialId)).toEqual([]);

    // A pixel hit arriving after the objection names no one; the free person's does.
    const pixel = (credentialId: string) => emailTracking({ publicUrl: app.config.publicUrl, keks: app.config.keks }, { tenantId: a.tenantId, credentialId }).pixelUrl;
    for (const who of [objecting, untracked, free]) expect((await fetch(local(pixel(who.credentialId)), { headers: { "user-agent": BROWSER } })).status).toBe(200);
    await waitFor(async () => (await app.db.admin`select 1 from engagement_events where tenant_id = ${a.tenantId} and type = 'email_opened'`).length === 3, "the three opens");
    const named = await app.db.admin<{ recipient_id: string | null }[]>`select recipient_id from engagement_events where tenant_id = ${a.tenantId} and type = 'email_opened' and recipient_id is not null`;
    expect(named.map((e) => e.recipient_id)).toEqual([rawId(free.recipientId)]);
  });

  it("sends no reminders to someone who objected, is restricted, or is a child, and keeps them for the others", async () => {
    const people = await Promise.all(["r-obj@example.test", "r-res@example.test", "r-kid@example.test", "r-ok@example.test"].map(issue));
    await choose(people[0]!.recipientId, { objectsToReminders: true });
    await choose(people[1]!.recipientId, { restricted: true });
    // A guardian consented, then the child was marked: issuance was fine, reminders never are.
    await app.db.admin`update recipients set is_child = true, guardian_consent_at = now() where id = ${rawId(people[2]!.recipientId)}`;
    await app.db.admin`update credentials set issued_at = issued_at - interval '30 days' where tenant_id = ${a.tenantId}`;
    await app.db.admin`update email_outbox set status = 'delivered' where tenant_id = ${a.tenantId} and kind = 'credential_issued' and status = 'stored'`;
    await sweepTenant({ config: app.config, database: app.database }, a.tenantId);
    const reminded = await app.db.admin<{ credential_id: string }[]>`select credential_id from email_outbox where tenant_id = ${a.tenantId} and kind = 'credential_reminder'`;
    const ids = new Set(reminded.map((r) => r.credential_id));
    expect(ids.has(people[3]!.credentialId)).toBe(true);
    for (const stopped of people.slice(0, 3)) expect(ids.has(stopped.credentialId)).toBe(false);
  });
});

describe("people's own requests", () => {
  it("carries out restriction, objection and consent withdrawal at once, recording each choice with its request", async () => {
    const person = await issue("asks@example.test");
    for (const kind of ["restriction", "objection", "consent_withdrawal"] as const) {
      const { fileDataSubjectRequest } = await a.owner.request(FileDataSubjectRequestDocument, {
        input: { kind, recipientId: person.recipientId, identityVerification: { method: "known_contact" } },
      });
      if (fileDataSubjectRequest.__typename !== "DataSubjectRequest") throw new Error(JSON.stringify(fileDataSubjectRequest));
      const { carryOutDataSubjectRequest } = await a.owner.request(CarryOutDataSubjectRequestDocument, { id: fileDataSubjectRequest.id });
      expect(carryOutDataSubjectRequest).toMatchObject({ __typename: "DataSubjectRequest", state: "completed" });
    }
    const { node } = await a.owner.request(RecipientPrivacyDocument, { id: person.recipientId });
    if (!node || !("privacyHistory" in node)) throw new Error("recipient");
    expect(node).toMatchObject({ trackingConsent: false, restrictedAt: expect.any(String), objectedAt: expect.any(String) });
    expect(node.privacyHistory!.map((c) => [c.choice, c.value, c.source, c.actorKind, Boolean(c.requestId)])).toEqual([
      ["restriction", true, "data_subject_request", "user", true],
      ["objection", true, "data_subject_request", "user", true],
      ["tracking_consent", false, "data_subject_request", "user", true],
    ]);
    // Another tenant reads nothing of it.
    expect((await b.owner.request(RecipientPrivacyDocument, { id: person.recipientId })).node).toBeNull();
    const history = await app.db.admin<{ choice: string; value: boolean; source: string; kind: string }[]>`
      select c.choice::text, c.value, c.source::text, r.kind::text from privacy_choices c join data_subject_requests r on r.tenant_id = c.tenant_id and r.id = c.request_id
       where c.recipient_id = ${rawId(person.recipientId)} order by c.made_at, c.id`;
    expect(history).toEqual([
      { choice: "restriction", value: true, source: "data_subject_request", kind: "restriction" },
      { choice: "objection", value: true, source: "data_subject_request", kind: "objection" },
      { choice: "tracking_consent", value: false, source: "data_subject_request", kind: "consent_withdrawal" },
    ]);
    // The person is told what was done, each time (Art. 12(3)), even once their processing is restricted:
    // answering them about their rights is not processing their data for the tenant's purposes.
    const told = await waitFor(async () => {
      const done = fake.sent.filter((m) => m.to.includes("asks@example.test") && m.tags.some((t) => t.value === "data_subject_request_completed"));
      return done.length === 3 ? done : null;
    }, "the three notices");
    expect(told.map((m) => m.text).join("\n")).toContain("your data is now only stored");
    expect(told.map((m) => m.text).join("\n")).toContain("no more reminders, tracking, notices to partners naming you");
    expect(told.map((m) => m.text).join("\n")).toContain("no longer recorded against your name");
    expect(told[0]!.subject).toMatch(/has carried out your request about your personal data$/);
  });
});

describe("who may set the flags", () => {
  it("lets no key without privacy:manage change a person's choices or ask a guardian, and lets the privacy key do both", async () => {
    const person = await issue("guarded@example.test");
    const issuer = await createKey(app, a.owner, ["issue", "read"]);
    // An admin key manages the tenant, not people's rights: it may not lift a child's mark or restrict anyone.
    for (const key of [issuer, await createKey(app, a.owner, ["admin"])]) {
      const error = await key.client.request(UpdateRecipientPrivacyDocument, { id: person.recipientId, input: { restricted: true } }).then(() => null, (e: unknown) => e);
      expect(error).toBeInstanceOf(LaurelRequestError);
      expect((error as LaurelRequestError).code).toBe("FORBIDDEN");
    }
    const asked = await issuer.client.request(RequestGuardianConsentDocument, { input: { recipientId: person.recipientId, guardianEmail: "g@example.test", guardianName: "G" } }).then(() => null, (e: unknown) => e);
    expect((asked as LaurelRequestError).code).toBe("FORBIDDEN");
    const [flags] = await app.db.admin`select restricted_at from recipients where id = ${rawId(person.recipientId)}`;
    expect(flags!.restricted_at).toBeNull();
    const privacy = await createKey(app, a.owner, ["privacy"]);
    const { updateRecipientPrivacy } = await privacy.client.request(UpdateRecipientPrivacyDocument, { id: person.recipientId, input: { restricted: true } });
    expect(updateRecipientPrivacy).toMatchObject({ __typename: "Recipient", restrictedAt: expect.any(String) });
  });

  it("answers NotFound to another tenant setting this tenant's person's flags", async () => {
    const person = await issue("mine@example.test");
    const { updateRecipientPrivacy } = await b.owner.request(UpdateRecipientPrivacyDocument, { id: person.recipientId, input: { restricted: true } });
    expect(updateRecipientPrivacy.__typename).toBe("NotFoundError");
    expect(await app.db.admin`select 1 from recipients where id = ${rawId(person.recipientId)} and restricted_at is not null`).toHaveLength(0);
  });
});
