// Erasure (GDPR Art. 17) end to end: a person issued a credential, emailed through the real path and
// seen engaging is erased through the SDK and the worker; afterwards no column of any table (the
// queue's included) holds their address, its local part or their name, their pages answer 410, their
// credential is revoked in the published status list, and the tenant's analytics totals are unchanged.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ActivateTemplateDocument,
  CarryOutDataSubjectRequestDocument,
  CreateTemplateDocument,
  DataSubjectRequestDocument,
  DataSubjectRequestsDocument,
  EngagementSummaryDocument,
  FileDataSubjectRequestDocument,
  UpdateRecipientPrivacyDocument,
  IssueCredentialDocument,
  type FileDataSubjectRequestInput,
} from "../../src/sdk/generated.js";
import { LaurelRequestError, type LaurelClient } from "../../src/sdk/index.js";
import { isSet } from "../../src/modules/credentials/status-lists.js";
import type { QueueWorker } from "../../src/modules/jobs/worker.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { findTraces } from "../helpers/traces.js";
import { openedRecipientByEmail, openedRecipients } from "../helpers/sealed.js";
import { createKey, signUpTenant, type TestTenant } from "../helpers/factories.js";
import { startFakeResend, type FakeResend } from "../helpers/fake-resend.js";
import { deliveryConfig, startTestWorker, waitFor } from "../helpers/worker.js";
import { TEST_ROLES } from "../helpers/env.js";

const BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15";
const NAME = "Zoë Ærdal-Quintrell 李小龍";
const LOCAL = `zoe.quintrell.${randomBytes(3).toString("hex")}`;
const EMAIL = `${LOCAL}@example.test`;

let fake: FakeResend;
let app: TestApp;
let worker: QueueWorker;
let a: TestTenant;
let b: TestTenant;
beforeAll(async () => {
  fake = await startFakeResend();
  app = await startTestApp(deliveryConfig({ resendUrl: fake.url }));
  worker = await startTestWorker(app);
  a = await signUpTenant(app, "Erasure College");
  b = await signUpTenant(app, "Another College");
});
afterAll(async () => {
  await worker?.stop();
  await app?.close();
  await fake?.close();
});

const local = (url: string) => url.replace(/^https?:\/\/[^/]+/, app.server.url);
const get = (url: string, headers: Record<string, string> = {}) => fetch(local(url), { redirect: "manual", headers: { "user-agent": BROWSER, ...headers } });
const day = () => ({ from: new Date(Date.now() - 86_400_000).toISOString(), to: new Date(Date.now() + 86_400_000).toISOString() });

async function totals(client: LaurelClient) {
  const { engagementSummary } = await client.request(EngagementSummaryDocument, day());
  return Object.fromEntries(engagementSummary.map((c) => [c.type.toLowerCase(), c.people + c.machines]));
}

async function file(client: LaurelClient, input: FileDataSubjectRequestInput) {
  return (await client.request(FileDataSubjectRequestDocument, { input })).fileDataSubjectRequest;
}

async function carryOut(client: LaurelClient, id: string) {
  return (await client.request(CarryOutDataSubjectRequestDocument, { id })).carryOutDataSubjectRequest;
}

async function errorCode(promise: Promise<unknown>): Promise<string | undefined> {
  const error = await promise.then(() => null, (e: unknown) => e);
  expect(error, "expected a request error").toBeInstanceOf(LaurelRequestError);
  return (error as LaurelRequestError).code;
}


describe("erasing a person", () => {
  let credential: { id: string; verifiableCredential: any };
  let page: string;
  let requestId: string;
  let secondRequestId: string;
  let before: Record<string, number>;

  beforeAll(async () => {
    const { createTemplate } = await a.owner.request(CreateTemplateDocument, { kind: "BADGE", content: { name: "Cartography", description: "Drew maps.", criteriaNarrative: "Maps." } });
    if (createTemplate.__typename !== "Template") throw new Error("template");
    await a.owner.request(ActivateTemplateDocument, { id: createTemplate.id });
    const { issueCredential } = await a.owner.request(IssueCredentialDocument, { input: { templateId: createTemplate.id, recipient: { email: EMAIL, name: NAME } } });
    if (issueCredential.__typename !== "Credential") throw new Error(JSON.stringify(issueCredential));
    credential = issueCredential as typeof credential;
    // The email, through the worker and the fake Resend; the person opens it and views their page.
    const email = await waitFor(async () => fake.sent.find((m) => m.to.includes(EMAIL)), "the email");
    const pixel = /<img src="([^"]+\/t\/o\/[^"]+\.gif)"/.exec(email.html)![1]!;
    expect((await get(pixel)).headers.get("content-type")).toBe("image/gif");
    page = credential.verifiableCredential.id;
    expect((await get(page, { accept: "text/html" })).status).toBe(200);
    before = await waitFor(async () => {
      const t = await totals(a.owner);
      return t.email_opened && t.page_viewed ? t : null;
    }, "the engagement events");
    // They also asked for a right themselves: a one-time link went to their address, and they used it.
    const asked = await fetch(`${app.server.url}/privacy/ask/${a.tenantId}/${Buffer.from(credential.id, "base64").toString("utf8").split(":")[1]}`, {
      method: "POST",
      headers: { accept: "application/json", "content-type": "application/json" },
      body: JSON.stringify({ kind: "objection" }),
    });
    expect(asked.status).toBe(202);
    const linkEmail = await waitFor(async () => fake.sent.find((m) => m.to.includes(EMAIL) && m.tags.some((t) => t.value === "privacy_request_link")), "the link email");
    const link = /https?:\/\/\S+\/privacy\/links\/\S+/.exec(linkEmail.text)![0].replace(/^https?:\/\/[^/]+/, app.server.url);
    expect((await fetch(link, { method: "POST", headers: { accept: "application/json" } })).status).toBe(200);
    const filed = await file(a.owner, {
      kind: "erasure",
      email: EMAIL,
      identityVerification: { method: "known_contact", note: `${NAME} wrote from ${EMAIL}; confirmed by phone` },
    });
    if (filed.__typename !== "DataSubjectRequest") throw new Error(JSON.stringify(filed));
    requestId = filed.id;
    const second = await file(a.owner, { kind: "erasure", recipientId: filed.recipient!.id, identityVerification: { method: "document_checked" } });
    if (second.__typename !== "DataSubjectRequest") throw new Error(JSON.stringify(second));
    secondRequestId = second.id;
  }, 30_000);

  it("finds the person in many places before the erasure (so the search below can see them)", async () => {
    const traces = await findTraces(app.db.admin, [EMAIL, NAME], app);
    // Sealed fields are found opened, and the blind indexes by the needles' own (helpers/traces.ts).
    for (const where of ["public.recipients.email", "public.recipients.name", "public.credentials.document", "public.email_outbox.to_email", "public.privacy_links.sent_to",
      "public.recipients.email_index", "public.recipients.name_words", "public.email_outbox.to_email_index"]) {
      expect(traces.some((t) => t.startsWith(`${where} `)), where).toBe(true);
    }
  });

  it("is refused to roles without privacy:manage and invisible to another tenant", async () => {
    for (const scopes of [["issue"], ["analytics"], ["read"]] as const) {
      const key = await createKey(app, a.owner, [...scopes]);
      expect(await errorCode(carryOut(key.client, requestId))).toBe("FORBIDDEN");
    }
    expect(await carryOut(b.owner, requestId)).toMatchObject({ __typename: "NotFoundError" });
    expect(await file(b.owner, { kind: "erasure", email: EMAIL, identityVerification: { method: "document_checked" } })).toMatchObject({ __typename: "NotFoundError" });
    // Nor can the other tenant's transaction call the erasure function on this person directly.
    const recipientId = (await openedRecipientByEmail(app, EMAIL))!.id;
    const error = await app.db.admin.begin(async (tx) => {
      await tx`select set_config('role', ${TEST_ROLES.member}, true), set_config('app.tenant_id', ${b.tenantId}, true)`;
      // sql/051: the app hands the needles (and blind indexes, which the other tenant cannot make) itself.
      await tx`select erase_recipient(${recipientId}::uuid, ${[EMAIL, LOCAL, NAME]}::text[], '{}'::bytea[])`;
    }).then(() => null, (e: Error) => e);
    expect(error?.message).toMatch(/no such recipient/);
    expect((await openedRecipients(app, a.tenantId)).find((r) => r.id === recipientId)!.name).toBe(NAME);
  });

  it("leaves no trace of the person anywhere, keeps the counts, answers 410 and revokes the credential", async () => {
    const started = await carryOut(a.owner, requestId);
    expect(started).toMatchObject({ __typename: "DataSubjectRequest", state: "in_progress" });
    const done = await waitFor(async () => {
      const { tenant } = await a.owner.request(DataSubjectRequestsDocument, { first: 10, filter: { state: "completed" } });
      return tenant.dataSubjectRequests!.edges.find((e) => e.node.id === requestId)?.node;
    }, "the erasure to complete");
    expect(done.completedAt).toBeTruthy();
    expect(done.outcome).toMatch(/^Erased: 1 credential/);

    const traces = await findTraces(app.db.admin, [EMAIL, LOCAL, NAME, "李小龍", "Quintrell"], app);
    expect(traces).toEqual([]);

    expect((await get(page, { accept: "text/html" })).status).toBe(410);
    expect((await get(page)).status).toBe(410);
    expect((await get(`${page}/badge.png`)).status).toBe(410);
    expect((await get(`${page}/certificate.pdf`)).status).toBe(410);
    expect((await get(`${page}/certificate.png`)).status).toBe(410);
    expect((await get(`${page}/preview.png`)).status).toBe(410); // the share preview names the holder too

    const entry = credential.verifiableCredential.credentialStatus;
    const list = await (await get(entry.statusListCredential)).json();
    expect(isSet(list.credentialSubject.encodedList, Number(entry.statusListIndex))).toBe(true);

    expect(await totals(a.owner)).toEqual(before);
    // That it happened stays on record, without anything personal (the search above covered the details).
    const audit = await app.db.admin`select actor_kind, details from audit_log where tenant_id = ${a.tenantId} and action = 'data_subject_request.erased'`;
    expect(audit).toEqual([{ actor_kind: "system", details: expect.objectContaining({ credentials: 1, revoked: 1 }) }]);
  }, 30_000);

  it("closes the person's other pending requests, saying why, and refuses a new one as already erased", async () => {
    const { node } = await a.owner.request(DataSubjectRequestDocument, { id: secondRequestId });
    expect(node).toMatchObject({ state: "cancelled", outcome: "Closed by the person's erasure: nothing of theirs is left to act on" });
    expect(await carryOut(a.owner, secondRequestId)).toMatchObject({ __typename: "ValidationError" });
    const { tenant } = await a.owner.request(DataSubjectRequestsDocument, { first: 10, filter: { state: "completed" } });
    const recipientId = tenant.dataSubjectRequests!.edges[0]!.node.recipient!.id;
    for (const kind of ["erasure", "access", "restriction"] as const) {
      expect(await file(a.owner, { kind, recipientId, identityVerification: { method: "document_checked" } }), kind).toMatchObject({
        __typename: "AlreadyErasedError",
      });
    }
    // Nor are choices recorded on what is left of them.
    const { updateRecipientPrivacy } = await a.owner.request(UpdateRecipientPrivacyDocument, { id: recipientId, input: { restricted: true } });
    expect(updateRecipientPrivacy.__typename).toBe("AlreadyErasedError");
    const { fileDataSubjectRequest: nobody } = await a.owner.request(FileDataSubjectRequestDocument, { input: { kind: "access", identityVerification: { method: "document_checked" } } });
    expect(nobody).toMatchObject({ __typename: "ValidationError", message: "Name the person: give their recipientId or their email" });
  });
});
