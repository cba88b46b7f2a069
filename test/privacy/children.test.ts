// Children under 13 (GDPR Art. 8) end to end: a child is marked (by birth date), issuance is refused with
// GuardianConsentRequiredError, staff ask the guardian, the guardian's consent is recorded with the wording
// shown, then issuance succeeds and its email goes out without a tracking pixel; the child's engagement
// names no one, partners hear of the issuance only, and erasure takes the guardian's data with it.
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ActivateTemplateDocument,
  CarryOutDataSubjectRequestDocument,
  CreateRecipientDocument,
  FileDataSubjectRequestDocument,
  CreateTemplateDocument,
  CreateBulkIssuanceDocument,
  CreateWebhookEndpointDocument,
  BulkJobDocument,
  IssueCredentialDocument,
  RectifyRecipientDocument,
  RequestGuardianConsentDocument,
  ResendCredentialEmailDocument,
  UpdateRecipientPrivacyDocument,
  WithdrawGuardianConsentDocument,
} from "../../src/sdk/generated.js";
import { withTenantTransaction } from "../../src/db/tenant-transaction.js";
import { giveGuardianConsent } from "../../src/modules/privacy/guardian.js";
import { collectPersonData } from "../../src/modules/privacy/export-data.js";
import { emailTracking } from "../../src/modules/engagement/tracking.js";
import type { QueueWorker } from "../../src/modules/jobs/worker.js";
import type { Caller } from "../../src/modules/common/caller.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { signUpTenant, type TestTenant } from "../helpers/factories.js";
import { startFakeResend, type FakeResend } from "../helpers/fake-resend.js";
import { deliveryConfig, startTestWorker, waitFor } from "../helpers/worker.js";
import { DECEPTIVE_NAMES, GOOD_NAMES } from "../helpers/names.js";
import { openedGuardianConsents, openedMessages, openedRecipients } from "../helpers/sealed.js";

const BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15";
let fake: FakeResend;
let app: TestApp;
let worker: QueueWorker;
let a: TestTenant;
let b: TestTenant;
let templateId: string;
let partner: Server;
const hooks: { type: string; data: Record<string, unknown> }[] = [];

const rawId = (globalId: string) => Buffer.from(globalId, "base64").toString("utf8").split(":")[1]!;
const yearsAgo = (n: number) => `${new Date().getUTCFullYear() - n}-06-15`;
const local = (url: string) => url.replace(/^https?:\/\/[^/]+/, app.server.url);

beforeAll(async () => {
  fake = await startFakeResend();
  app = await startTestApp(deliveryConfig({ resendUrl: fake.url }));
  worker = await startTestWorker(app);
  a = await signUpTenant(app, "Little Learners");
  b = await signUpTenant(app, "Other School");
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
    input: { url: `http://127.0.0.1:${(partner.address() as AddressInfo).port}/hooks`, eventTypes: ["credential.issued", "credential.viewed", "credential.delivered"] },
  });
  expect(createWebhookEndpoint.__typename).toBe("WebhookSecretPayload");
  const { createTemplate } = await a.owner.request(CreateTemplateDocument, { kind: "BADGE", content: { name: "Swimmer", description: "Swam.", criteriaNarrative: "Swim 25 m." } });
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

async function child(tenant: TestTenant, email: string) {
  const { createRecipient } = await tenant.owner.request(CreateRecipientDocument, { input: { email, name: "Mia Small" } });
  if (createRecipient.__typename !== "Recipient") throw new Error(JSON.stringify(createRecipient));
  const { updateRecipientPrivacy } = await tenant.owner.request(UpdateRecipientPrivacyDocument, { id: createRecipient.id, input: { birthDate: yearsAgo(8) } });
  expect(updateRecipientPrivacy).toMatchObject({ __typename: "Recipient", birthDate: yearsAgo(8), isChild: false, guardianConsentAt: null });
  return createRecipient.id;
}

/** The one-time privacy link in an email's text, on this test server. */
const linkIn = (text: string) => /https?:\/\/\S+\/privacy\/links\/\S+/.exec(text)![0].replace(/^https?:\/\/[^/]+/, app.server.url);

/** Asks for a right through the credential's public form, as anyone may (JSON answer). */
const askAbout = (credentialId: string, kind: string) =>
  fetch(`${app.server.url}/privacy/ask/${a.tenantId}/${rawId(credentialId)}`, {
    method: "POST",
    headers: { accept: "application/json", "content-type": "application/json" },
    body: JSON.stringify({ kind }),
  });

/** A child whose guardian gave consent through their emailed link, holding one credential. */
async function consentedChildWithCredential(kidEmail: string, guardian: { email: string; name: string }) {
  const kid = await child(a, kidEmail);
  const { requestGuardianConsent } = await a.owner.request(RequestGuardianConsentDocument, {
    input: { recipientId: kid, guardianEmail: guardian.email, guardianName: guardian.name },
  });
  if (requestGuardianConsent.__typename !== "GuardianConsent") throw new Error(JSON.stringify(requestGuardianConsent));
  const consentMail = await waitFor(async () => fake.sent.find((m) => m.to.includes(guardian.email)), "the consent email");
  expect((await fetch(linkIn(consentMail.text), { method: "POST", headers: { accept: "application/json" } })).status).toBe(200);
  const issued = (await issue(kid)).issueCredential;
  if (issued.__typename !== "Credential") throw new Error(JSON.stringify(issued));
  return { kid, issued, consent: requestGuardianConsent };
}

const issue = (recipientId: string) => a.owner.request(IssueCredentialDocument, { input: { templateId, recipientId } });
const asOwner = (t: TestTenant): Caller => ({ tenantId: t.tenantId, actor: { kind: "user", id: t.userId }, permissions: new Set(), requestId: null });
const inTenant = <T>(t: TestTenant, fn: Parameters<typeof withTenantTransaction<T>>[2]) =>
  withTenantTransaction(app.database, { dbRole: app.config.roles.member, tenantId: t.tenantId, userId: t.userId }, fn);

describe("a child under 13", () => {
  it("gets nothing until a guardian consents, then the credential and its email only", async () => {
    const mia = await child(a, "mia.small@example.test");
    const refused = (await issue(mia)).issueCredential;
    expect(refused.__typename).toBe("GuardianConsentRequiredError");
    expect(await app.db.admin`select 1 from credentials where tenant_id = ${a.tenantId}`).toHaveLength(0);

    const { requestGuardianConsent } = await a.owner.request(RequestGuardianConsentDocument, {
      input: { recipientId: mia, guardianEmail: "  Parent.Small@Example.TEST ", guardianName: "Pat Small" },
    });
    if (requestGuardianConsent.__typename !== "GuardianConsent") throw new Error(JSON.stringify(requestGuardianConsent));
    expect(requestGuardianConsent).toMatchObject({ state: "pending", guardianEmail: "parent.small@example.test", guardianName: "Pat Small", givenAt: null });
    expect(requestGuardianConsent.wording).toContain("Little Learners");
    expect((await issue(mia)).issueCredential.__typename).toBe("GuardianConsentRequiredError"); // pending is not given

    // The guardian's email, sent by the mutation itself, with the wording and their one-time link.
    const letter = await waitFor(async () => fake.sent.find((m) => m.to.includes("parent.small@example.test")), "the guardian's email");
    expect(letter.text).toContain(requestGuardianConsent.wording);
    // The guardian is told which child: consent must be specific (Art. 7 and 8), and they may have several.
    expect(letter.text).toContain("before issuing credentials to Mia Small, a child in your care");
    const linkUrl = linkIn(letter.text);

    // What the guardian's link does: the page shows the wording on record, using it gives exactly that.
    await expect(inTenant(a, (db) => giveGuardianConsent(db, asOwner(a), rawId(requestGuardianConsent.id), { wording: "something else", via: "email_link" }))).rejects.toThrow(/wording/);
    const page = await fetch(linkUrl, { headers: { accept: "application/json" } }).then((r) => r.json() as Promise<{ paragraphs: string[] }>);
    expect(page.paragraphs.join("\n\n")).toBe(requestGuardianConsent.wording);
    expect((await inTenant(a, (db) => db.guardianConsent.findUniqueOrThrow({ where: { tenantId_id: { tenantId: a.tenantId, id: rawId(requestGuardianConsent.id) } } }))).state).toBe("pending");
    const used = await fetch(linkUrl, { method: "POST", headers: { accept: "application/json" } });
    expect(used.status).toBe(200);
    expect((await fetch(linkUrl, { method: "POST", headers: { accept: "application/json" } })).status).toBe(410); // once only
    const given = await inTenant(a, (db) => db.guardianConsent.findUniqueOrThrow({ where: { tenantId_id: { tenantId: a.tenantId, id: rawId(requestGuardianConsent.id) } } }));
    expect(given).toMatchObject({ state: "given", givenVia: "email_link", wording: requestGuardianConsent.wording, wordingVersion: requestGuardianConsent.wordingVersion });
    const [history] = await app.db.admin`select choice, value, source, guardian_consent_id from privacy_choices where recipient_id = ${rawId(mia)} and choice = 'guardian_consent'`;
    expect(history).toMatchObject({ value: true, source: "guardian", guardian_consent_id: given.id });

    const issued = (await issue(mia)).issueCredential;
    if (issued.__typename !== "Credential") throw new Error(JSON.stringify(issued));
    const credentialId = rawId(issued.id);
    const email = await waitFor(async () => fake.sent.find((m) => m.to.includes("mia.small@example.test")), "the child's email");
    expect(email.html).not.toMatch(/\/t\/o\//); // no open pixel
    expect(email.html).not.toMatch(/\/t\/c\//); // no tracked links
    // Like its view link, the child's email shows the badge (its page does too); never a LinkedIn link.
    expect(email.html).toContain(`/issuers/${a.tenantId}/credentials/${credentialId}/badge.png?view=email`);
    expect(decodeURIComponent(email.html)).not.toContain("linkedin.com");

    // The partner hears of the issuance, and nothing after it.
    await waitFor(async () => hooks.find((h) => h.type === "credential.issued" && h.data.credentialId === credentialId), "the issuance webhook");
    const pixel = emailTracking({ publicUrl: app.config.publicUrl, keks: app.config.keks }, { tenantId: a.tenantId, credentialId }).pixelUrl;
    expect((await fetch(local(pixel), { headers: { "user-agent": BROWSER } })).status).toBe(200);
    expect((await fetch(`${app.server.url}/issuers/${a.tenantId}/credentials/${credentialId}`, { headers: { "user-agent": BROWSER } })).status).toBe(200);
    await waitFor(async () => (await app.db.admin`select 1 from engagement_events where tenant_id = ${a.tenantId}`).length >= 2, "the engagement events");
    const named = await app.db.admin`select 1 from engagement_events where tenant_id = ${a.tenantId} and (recipient_id is not null or credential_id is not null or ip_hash is not null)`;
    expect(named).toHaveLength(0); // counted, never per person: no analytics by person either
    await new Promise((r) => setTimeout(r, 500));
    const deliveries = await app.db.admin`select event_type from webhook_deliveries where tenant_id = ${a.tenantId} and payload #>> '{data,credentialId}' = ${credentialId}`;
    expect(deliveries.map((d) => d.event_type)).toEqual(["credential.issued"]);

    // The child's export carries the consent with its wording and the history, and still fits its schema.
    const exported = await inTenant(a, (db) => collectPersonData(db, a.tenantId, rawId(mia), app.config.publicUrl));
    expect(exported.privacyChoices).toMatchObject({ birthDate: yearsAgo(8), guardianConsentAt: expect.any(String), history: [expect.objectContaining({ choice: "guardian_consent", value: true, source: "guardian" })] });
    expect(exported.privacyChoices.guardianConsents).toEqual([expect.objectContaining({ state: "given", wording: requestGuardianConsent.wording, guardianName: "Pat Small" })]);
    const ajv = new Ajv2020({ allErrors: true, strict: true });
    (addFormatsModule as unknown as (a: Ajv2020) => void)(ajv);
    const validate = ajv.compile(JSON.parse(readFileSync(new URL("../../schema/person-export.schema.json", import.meta.url), "utf8")));
    expect(validate(JSON.parse(JSON.stringify(exported))), JSON.stringify(validate.errors)).toBe(true);

    // The guardian withdraws: nothing new is issued, and what was queued meanwhile is withheld.
    await worker.stop();
    const reissue = await a.owner.request(ResendCredentialEmailDocument, { credentialId: issued.id });
    expect(reissue.resendCredentialEmail.__typename).toBe("EmailMessage");
    const { withdrawGuardianConsent } = await a.owner.request(WithdrawGuardianConsentDocument, { id: requestGuardianConsent.id });
    expect(withdrawGuardianConsent).toMatchObject({ __typename: "GuardianConsent", state: "withdrawn", withdrawnAt: expect.any(String) });
    expect((await issue(mia)).issueCredential.__typename).toBe("GuardianConsentRequiredError");
    worker = await startTestWorker(app);
    const [withheld] = await waitFor(async () => {
      const rows = await app.db.admin`select status::text, status_detail from email_outbox where credential_id = ${credentialId} and status not in ('sent', 'delivered')`;
      return rows.length && rows[0]!.status === "withheld" ? rows : null;
    }, "the queued copy withheld");
    expect(withheld!.status_detail).toMatch(/guardian's recorded consent/);
  });

  it("is reported per row in bulk issuance, while the other rows are issued", async () => {
    await child(a, "bulk.kid@example.test");
    const { createBulkIssuance } = await a.owner.request(CreateBulkIssuanceDocument, {
      input: { templateId, rows: [{ email: "bulk.adult@example.test" }, { email: "bulk.kid@example.test" }] },
    });
    if (createBulkIssuance.__typename !== "BulkJob") throw new Error(JSON.stringify(createBulkIssuance));
    const job = await waitFor(async () => {
      const { node } = await a.owner.request(BulkJobDocument, { id: createBulkIssuance.id });
      return node && "status" in node && node.status === "COMPLETED" ? node : null;
    }, "the bulk job");
    expect(job).toMatchObject({ issuedCount: 1, failedCount: 1 });
    const problems = job.failures.edges.flatMap((e) => e.node.problems);
    expect(problems).toEqual([expect.objectContaining({ row: 2, column: "email", message: expect.stringMatching(/guardian's consent/) })]);
  });

  it("lets staff call off a consent request sent to a wrong address: its link then gives nothing", async () => {
    const kid = await child(a, "typo.kid@example.test");
    const { requestGuardianConsent } = await a.owner.request(RequestGuardianConsentDocument, {
      input: { recipientId: kid, guardianEmail: "typo.parent@exmaple.test", guardianName: "Pat Typo" },
    });
    if (requestGuardianConsent.__typename !== "GuardianConsent") throw new Error(JSON.stringify(requestGuardianConsent));
    const letter = await waitFor(async () => fake.sent.find((m) => m.to.includes("typo.parent@exmaple.test")), "the misaddressed email");
    const linkUrl = linkIn(letter.text);
    const { withdrawGuardianConsent } = await a.owner.request(WithdrawGuardianConsentDocument, { id: requestGuardianConsent.id });
    expect(withdrawGuardianConsent).toMatchObject({ __typename: "GuardianConsent", state: "expired", givenAt: null });
    const used = await fetch(linkUrl, { method: "POST", headers: { accept: "application/json" } });
    expect(used.status).toBeGreaterThanOrEqual(400);
    expect((await issue(kid)).issueCredential.__typename).toBe("GuardianConsentRequiredError");
    const [audit] = await app.db.admin`select details from audit_log where tenant_id = ${a.tenantId} and action = 'guardian_consent.cancelled' and target_id = ${rawId(requestGuardianConsent.id)}`;
    expect(audit).toBeDefined();
  });

  it("can be erased at a guardian's request through their own link, which goes to the guardian, not the child", async () => {
    const { kid, issued } = await consentedChildWithCredential("erase.kid@example.test", { email: "erase.parent@example.test", name: "Sam Parent" });

    const asked = await askAbout(issued.id, "erasure");
    expect(asked.status).toBe(202);
    const mail = await waitFor(async () => fake.sent.find((m) => m.to.includes("erase.parent@example.test") && m.tags.some((t) => t.value === "privacy_request_link")), "the guardian's link");
    expect(mail.text).toContain("for Mia Small in your care");
    expect(fake.sent.some((m) => m.to.includes("erase.kid@example.test") && m.tags.some((t) => t.value === "privacy_request_link"))).toBe(false);
    const link = linkIn(mail.text);
    const page = (await fetch(link, { headers: { accept: "application/json" } }).then((r) => r.json())) as { title: string };
    expect(page.title).toBe("Erase your child's data");
    expect((await fetch(link, { method: "POST", headers: { accept: "application/json" } })).status).toBe(200);
    const [request] = await app.db.admin`select kind::text, filed_by::text, identity_method::text, state::text from data_subject_requests where recipient_id = ${rawId(kid)}`;
    expect(request).toEqual({ kind: "erasure", filed_by: "data_subject", identity_method: "email_link", state: "open" });
  });

  it("refuses birth dates in the future, before 1900 or not on the calendar", async () => {
    const { createRecipient } = await a.owner.request(CreateRecipientDocument, { input: { email: "dates@example.test" } });
    if (createRecipient.__typename !== "Recipient") throw new Error("recipient");
    const tomorrow = new Date(Date.now() + 2 * 86_400_000).toISOString().slice(0, 10);
    for (const birthDate of [tomorrow, "1899-12-31", "2020-02-30", "15/06/2019"]) {
      const { updateRecipientPrivacy } = await a.owner.request(UpdateRecipientPrivacyDocument, { id: createRecipient.id, input: { birthDate } });
      expect(updateRecipientPrivacy.__typename, birthDate).toBe("ValidationError");
    }
    const [row] = await app.db.admin`select birth_date from recipients where id = ${rawId(createRecipient.id)}`;
    expect(row!.birth_date).toBeNull();
  });

  it("refuses a guardian's name that would display differently from what is stored, and opens no consent", async () => {
    const mia = await child(a, "mia.names@example.test");
    for (const [what, guardianName, message] of DECEPTIVE_NAMES) {
      const { requestGuardianConsent } = await a.owner.request(RequestGuardianConsentDocument, { input: { recipientId: mia, guardianEmail: "names.parent@example.test", guardianName } });
      expect(requestGuardianConsent, what).toMatchObject({ __typename: "ValidationError", fieldErrors: [{ path: ["input", "guardianName"], message: expect.stringMatching(message) }] });
    }
    expect(await app.db.admin`select 1 from guardian_consents where recipient_id = ${rawId(mia)}`).toHaveLength(0);
    for (const [what, guardianName] of GOOD_NAMES) {
      const { requestGuardianConsent } = await a.owner.request(RequestGuardianConsentDocument, { input: { recipientId: mia, guardianEmail: "names.parent@example.test", guardianName } });
      expect(requestGuardianConsent, what).toMatchObject({ __typename: "GuardianConsent", guardianName: guardianName.normalize("NFC") });
    }
  });

  it("is another tenant's business only: another tenant cannot ask for their guardian's consent", async () => {
    const mia = await child(a, "mia.two@example.test");
    const { requestGuardianConsent } = await b.owner.request(RequestGuardianConsentDocument, { input: { recipientId: mia, guardianEmail: "p@example.test", guardianName: "P" } });
    expect(requestGuardianConsent.__typename).toBe("NotFoundError");
    const { updateRecipientPrivacy } = await b.owner.request(UpdateRecipientPrivacyDocument, { id: mia, input: { isChild: false } });
    expect(updateRecipientPrivacy.__typename).toBe("NotFoundError");
    // Nor see or withdraw a consent this tenant recorded.
    const { requestGuardianConsent: mine } = await a.owner.request(RequestGuardianConsentDocument, { input: { recipientId: mia, guardianEmail: "p2@example.test", guardianName: "P Two" } });
    if (mine.__typename !== "GuardianConsent") throw new Error(JSON.stringify(mine));
    await inTenant(a, (db) => giveGuardianConsent(db, asOwner(a), rawId(mine.id), { wording: mine.wording, via: "staff" }));
    const { withdrawGuardianConsent } = await b.owner.request(WithdrawGuardianConsentDocument, { id: mine.id });
    expect(withdrawGuardianConsent.__typename).toBe("NotFoundError");
    const [still] = await app.db.admin`select state::text from guardian_consents where id = ${rawId(mine.id)}`;
    expect(still!.state).toBe("given");
  });

  it("loses the guardian's name and address when erased", async () => {
    const mia = await child(a, "mia.three@example.test");
    const { requestGuardianConsent } = await a.owner.request(RequestGuardianConsentDocument, { input: { recipientId: mia, guardianEmail: "guardian.three@example.test", guardianName: "Quentin Threeguard" } });
    expect(requestGuardianConsent.__typename).toBe("GuardianConsent");
    const { fileDataSubjectRequest } = await a.owner.request(FileDataSubjectRequestDocument, { input: { kind: "erasure", recipientId: mia, identityVerification: { method: "known_contact" } } });
    if (fileDataSubjectRequest.__typename !== "DataSubjectRequest") throw new Error(JSON.stringify(fileDataSubjectRequest));
    await a.owner.request(CarryOutDataSubjectRequestDocument, { id: fileDataSubjectRequest.id });
    await waitFor(async () => (await app.db.admin`select 1 from data_subject_requests where id = ${rawId(fileDataSubjectRequest.id)} and state = 'completed'`).length, "the erasure");
    const consents = await openedGuardianConsents(app);
    const consent = consents.find((c) => c.recipient_id === rawId(mia));
    expect(consent).toMatchObject({ guardianEmail: null, guardianName: null, guardian_email_sealed: null, guardian_name_sealed: null, legacy_guardian_email: null, legacy_guardian_name: null });
    const traces = consents.filter((c) => /guardian\.three/i.test(c.guardianEmail ?? "") || /Threeguard/i.test(c.guardianName ?? "") || /Threeguard/i.test(c.wording ?? ""));
    expect(consents.length).toBeGreaterThan(0);
    expect(traces).toHaveLength(0);
    const [r] = await app.db.admin`select birth_date from recipients where id = ${rawId(mia)}`;
    expect(r!.birth_date).toBeNull();
  });
});

describe("a child marked after issuance, with no guardian on record", () => {
  it("gets no link of their own, no re-issue by rectification, and a guardian is never the child's own address", async () => {
    const { createRecipient } = await a.owner.request(CreateRecipientDocument, { input: { email: "late.kid@example.test", name: "Late Kid" } });
    if (createRecipient.__typename !== "Recipient") throw new Error(JSON.stringify(createRecipient));
    const issued = (await issue(createRecipient.id)).issueCredential;
    if (issued.__typename !== "Credential") throw new Error(JSON.stringify(issued));
    await a.owner.request(UpdateRecipientPrivacyDocument, { id: createRecipient.id, input: { isChild: true } });
    // The issuance email goes out through the worker in its own time: counted once it has settled, so
    // only what follows could add to it (under load it once arrived after the count, failing this test).
    await waitFor(async () => {
      const open = (await openedMessages(app, { tenantId: a.tenantId, toEmail: "late.kid@example.test" })).filter((m) => m.status === "queued" || m.status === "sending");
      return open.length === 0 || undefined;
    }, "the issuance email to settle");
    const before = fake.sent.filter((m) => m.to.includes("late.kid@example.test")).length;

    const asked = await askAbout(issued.id, "access");
    // The same answer as a sent link (the public URL must not tell anyone its holder is a child), but no email.
    expect(asked.status).toBe(202);
    const [withheld] = await app.db.admin`select details from audit_log where tenant_id = ${a.tenantId} and action = 'privacy_link.withheld' and target_id = ${rawId(issued.id)}`;
    expect(withheld!.details).toMatchObject({ kind: "access" });

    const { rectifyRecipient } = await a.owner.request(RectifyRecipientDocument, { input: { recipientId: createRecipient.id, name: "Late Kid Corrected" } });
    expect(rectifyRecipient.__typename).toBe("GuardianConsentRequiredError");
    const row = (await openedRecipients(app, a.tenantId)).find((r) => r.id === rawId(createRecipient.id));
    expect(row!.name).toBe("Late Kid");

    const { requestGuardianConsent } = await a.owner.request(RequestGuardianConsentDocument, {
      input: { recipientId: createRecipient.id, guardianEmail: " Late.Kid@Example.TEST", guardianName: "Not A Guardian" },
    });
    expect(requestGuardianConsent).toMatchObject({ __typename: "ValidationError", fieldErrors: [{ path: ["input", "guardianEmail"] }] });
    await new Promise((r) => setTimeout(r, 300));
    expect(fake.sent.filter((m) => m.to.includes("late.kid@example.test"))).toHaveLength(before);
  });
});

describe("a guardian withdrawing consent through their own link", () => {
  it("withdraws the consent itself, as easily as it was given, so nothing more is issued", async () => {
    const { kid, issued, consent: given } = await consentedChildWithCredential("withdraw.kid@example.test", { email: "withdraw.parent@example.test", name: "Wren Parent" });

    const asked = await askAbout(issued.id, "consent_withdrawal");
    expect(asked.status).toBe(202);
    const mail = await waitFor(async () => fake.sent.find((m) => m.to.includes("withdraw.parent@example.test") && m.tags.some((t) => t.value === "privacy_request_link")), "the guardian's link");
    const link = linkIn(mail.text);
    const page = (await fetch(link, { headers: { accept: "application/json" } }).then((r) => r.json())) as { paragraphs: string[] };
    expect(page.paragraphs.join(" ")).toMatch(/also withdraws your consent as the child's parent or guardian/);
    const used = await fetch(link, { method: "POST", headers: { accept: "application/json" } });
    expect(used.status).toBe(200);
    expect(((await used.json()) as any).details.guardianConsentsWithdrawn).toBe(1);
    const [consent] = await app.db.admin`select state::text from guardian_consents where id = ${rawId(given.id)}`;
    expect(consent!.state).toBe("withdrawn");
    expect((await issue(kid)).issueCredential.__typename).toBe("GuardianConsentRequiredError");
  });
});
