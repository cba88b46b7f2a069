// Rectification (GDPR Art. 16) end to end: staff correct a person's name or email through the SDK; each
// current credential is re-issued at the same URL and verifies with the real verifier, the document it
// replaces still carries a valid proof but verifies as revoked (superseded), the history of documents
// and of names and addresses is kept, the person is emailed through the real worker and the fake Resend
// (the old address too, told nothing of the new one). A rectification request is filed with its
// correction and carried out by the worker. Refusals are typed and change nothing; the tenant wall
// holds; and an erasure afterwards leaves none of the person's earlier names or addresses anywhere.
import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ActivateTemplateDocument,
  CarryOutDataSubjectRequestDocument,
  CreateTemplateDocument,
  CreateWebhookEndpointDocument,
  CredentialDocumentHistoryDocument,
  DataSubjectRequestDocument,
  FileDataSubjectRequestDocument,
  IssueCredentialDocument,
  RecipientRectificationsDocument,
  RectifyRecipientDocument,
  RevokeCredentialDocument,
  SuspendCredentialDocument,
  UpdateDataSubjectRequestDocument,
  UpdateRecipientDocument,
  type FileDataSubjectRequestInput,
  type RectifyRecipientInput,
} from "../../src/sdk/generated.js";
import { LaurelRequestError, type LaurelClient } from "../../src/sdk/index.js";
import { isSet } from "../../src/modules/credentials/status-lists.js";
import { checkCorrection } from "../../src/modules/privacy/rectification.js";
import { ValidationError } from "../../src/errors.js";
import type { QueueWorker } from "../../src/modules/jobs/worker.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { findTraces } from "../helpers/traces.js";
import { openedRecipients, openedRectifications, openedRequests } from "../helpers/sealed.js";
import { createKey, signUpTenant, type TestTenant } from "../helpers/factories.js";
import { startFakeResend, type FakeResend } from "../helpers/fake-resend.js";
import { deliveryConfig, startTestWorker, waitFor } from "../helpers/worker.js";
import { DECEPTIVE_NAMES, GOOD_NAMES } from "../helpers/names.js";

const tag = randomBytes(3).toString("hex");

let fake: FakeResend;
let receiver: http.Server;
let app: TestApp;
let worker: QueueWorker;
let a: TestTenant;
let b: TestTenant;
let templateId: string;
beforeAll(async () => {
  fake = await startFakeResend();
  app = await startTestApp(deliveryConfig({ resendUrl: fake.url }));
  worker = await startTestWorker(app);
  a = await signUpTenant(app, "Rectification College");
  b = await signUpTenant(app, "Another College");
  templateId = await template(a.owner, "Seamanship");
  // Partners subscribed to completed requests (privacy/partner-events.ts).
  receiver = http.createServer((_req, res) => res.writeHead(204).end());
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  const { createWebhookEndpoint } = await a.owner.request(CreateWebhookEndpointDocument, {
    input: { url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`, eventTypes: ["data_subject_request.completed"] },
  });
  if (createWebhookEndpoint.__typename !== "WebhookSecretPayload") throw new Error(JSON.stringify(createWebhookEndpoint));
}, 30_000);
afterAll(async () => {
  await worker?.stop();
  await app?.close();
  await fake?.close();
  await new Promise((resolve) => receiver?.close(resolve));
});

type Doc = Record<string, any>;
interface Issued {
  id: string;
  recipientId: string;
  document: Doc;
}

const local = (url: string) => url.replace(/^https?:\/\/[^/]+/, app.server.url);
const uuidOf = (globalId: string) => Buffer.from(globalId, "base64").toString("utf8").split(":")[1]!;
const nameIn = (doc: Doc) => (doc.credentialSubject.identifier as Doc[]).find((i) => i.identityType === "name")?.identityHash ?? null;

async function template(client: LaurelClient, name: string) {
  const { createTemplate } = await client.request(CreateTemplateDocument, {
    kind: "BADGE",
    content: { name, description: "Sailed.", criteriaNarrative: "Sailed.", credentialDescription: "Awarded to {{recipientName}}." },
  });
  if (createTemplate.__typename !== "Template") throw new Error(JSON.stringify(createTemplate));
  await client.request(ActivateTemplateDocument, { id: createTemplate.id });
  return createTemplate.id;
}

async function issue(client: LaurelClient, recipient: { email: string; name?: string }, tpl = templateId, dates: { issuedAt?: string; validUntil?: string } = {}): Promise<Issued> {
  const { issueCredential } = await client.request(IssueCredentialDocument, { input: { templateId: tpl, recipient, ...dates } });
  if (issueCredential.__typename !== "Credential") throw new Error(JSON.stringify(issueCredential));
  return { id: issueCredential.id, recipientId: issueCredential.recipient!.id, document: issueCredential.verifiableCredential as Doc };
}

async function rectify(client: LaurelClient, input: RectifyRecipientInput) {
  return (await client.request(RectifyRecipientDocument, { input })).rectifyRecipient;
}

async function verify(credential: unknown) {
  const res = await fetch(`${app.server.url}/verify`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(credential) });
  expect(res.status).toBe(200);
  return (await res.json()) as { verified: boolean; status: { state: string; message: string }; proof: { ok: boolean } };
}

async function published(doc: Doc): Promise<Doc> {
  const res = await fetch(local(doc.id), { headers: { accept: "application/ld+json" } });
  expect(res.status).toBe(200);
  return (await res.json()) as Doc;
}

async function bitOf(doc: Doc): Promise<boolean> {
  const entry = doc.credentialStatus;
  const list = (await (await fetch(local(entry.statusListCredential))).json()) as Doc;
  return isSet(list.credentialSubject.encodedList, Number(entry.statusListIndex));
}

async function errorCode(promise: Promise<unknown>): Promise<string | undefined> {
  const error = await promise.then(() => null, (e: unknown) => e);
  expect(error, "expected a request error").toBeInstanceOf(LaurelRequestError);
  return (error as LaurelRequestError).code;
}

/** The person's row and how many documents were ever superseded in the tenant: what a refusal must leave alone. */
async function snapshot(recipientId: string) {
  const opened = (await openedRecipients(app, a.tenantId)).find((r) => r.id === uuidOf(recipientId));
  const [stored] = await app.db.admin`select updated_at, key_version from recipients where id = ${uuidOf(recipientId)}`;
  const row = { name: opened?.name, email: opened?.email, ...stored };
  const [docs] = await app.db.admin`select count(*)::int as n from credential_documents where tenant_id = ${a.tenantId}`;
  const [fixes] = await app.db.admin`select count(*)::int as n from recipient_rectifications where tenant_id = ${a.tenantId}`;
  return { row, docs: docs!.n, fixes: fixes!.n };
}

describe("correcting a name", () => {
  const person = { email: `amira.haddad.${tag}@example.test`, name: "Amira Hadad" };
  const corrected = "أميرة حداد"; // Arabic
  let first: Issued;
  let second: Issued;
  let revoked: Issued;
  let suspended: Issued;
  let expired: Issued;
  let result: Awaited<ReturnType<typeof rectify>>;

  beforeAll(async () => {
    first = await issue(a.owner, person);
    second = await issue(a.owner, person, await template(a.owner, "Navigation"));
    revoked = await issue(a.owner, person, await template(a.owner, "Knots"));
    const { revokeCredential } = await a.owner.request(RevokeCredentialDocument, { id: revoked.id, input: { reason: "Issued in error" } });
    expect(revokeCredential.__typename).toBe("Credential");
    suspended = await issue(a.owner, person, await template(a.owner, "Rigging"));
    expect((await a.owner.request(SuspendCredentialDocument, { id: suspended.id })).suspendCredential.__typename).toBe("Credential");
    expired = await issue(a.owner, person, await template(a.owner, "Signals"), { issuedAt: "2020-01-01T00:00:00Z", validUntil: "2021-01-01T00:00:00Z" });
    // The issuance and suspension emails go first, so the notice below is told apart from them.
    await waitFor(async () => fake.sent.filter((m) => m.to.includes(person.email)).length >= 6 || null, "the earlier emails");
    result = await rectify(a.owner, { recipientId: first.recipientId, name: corrected });
  }, 30_000);

  it("records the correction and re-issues the three current credentials (one suspended), not the revoked or expired one", () => {
    expect(result).toMatchObject({
      __typename: "RecipientRectification",
      changed: ["name"],
      oldName: person.name,
      newName: corrected,
      oldEmail: person.email,
      newEmail: person.email,
      actorKind: "user",
      actorId: a.userId,
      credentialsReissued: 3,
      recipient: { name: corrected, email: person.email },
    });
  });

  it("serves the new document at the same URL, naming the person as corrected, and it verifies", async () => {
    for (const held of [first, second]) {
      const now = await published(held.document);
      expect(now.id).toBe(held.document.id);
      expect(nameIn(now)).toBe(corrected);
      expect(now.description).toBe(`Awarded to ${corrected}.`);
      expect(now.credentialStatus.statusListIndex).not.toBe(held.document.credentialStatus.statusListIndex);
      // Nothing but the holder and the status entry changed.
      for (const key of ["issuer", "validFrom", "name", "type", "@context"]) expect(now[key]).toEqual(held.document[key]);
      expect(now.credentialSubject.achievement).toEqual(held.document.credentialSubject.achievement);
      const report = await verify(now);
      expect(report).toMatchObject({ verified: true, status: { state: "active" } });
      expect(await bitOf(now)).toBe(false);
    }
  });

  it("makes the old document verify as revoked, superseded, with its proof still valid", async () => {
    const report = await verify(first.document);
    expect(report.verified).toBe(false);
    expect(report.proof.ok).toBe(true);
    expect(report.status.state).toBe("revoked");
    expect(report.status.message).toMatch(/^Superseded: .*corrected details/);
    expect(await bitOf(first.document)).toBe(true);
  });

  it("leaves the revoked and the expired credentials' documents as they were", async () => {
    expect(nameIn(await published(revoked.document))).toEqual(person.name);
    expect(await published(revoked.document)).toEqual(revoked.document);
    expect((await verify(revoked.document)).status.message).toBe("The issuer has revoked this credential");
    expect(await published(expired.document)).toEqual(expired.document);
  });

  it("re-issues a suspended credential, which stays suspended", async () => {
    const now = await published(suspended.document);
    expect(nameIn(now)).toBe(corrected);
    expect((await verify(now)).status.state).toBe("suspended");
    expect((await verify(suspended.document)).status.message).toMatch(/^Superseded/);
  });

  it("bakes the new document into the badge and names the person as corrected on the page", async () => {
    const svg = await (await fetch(local(`${first.document.id}/badge.svg`))).text();
    expect(svg).toContain(corrected);
    expect(svg).not.toContain(person.name);
    const page = await (await fetch(local(first.document.id), { headers: { accept: "text/html" } })).text();
    expect(page).toContain(corrected);
    expect(page).not.toContain(person.name);
  });

  it("keeps the superseded document, exactly as published, in the credential's history", async () => {
    const { node } = await a.owner.request(CredentialDocumentHistoryDocument, { id: first.id });
    if (node?.__typename !== "Credential") throw new Error(JSON.stringify(node));
    expect(node.documentHistory).toHaveLength(1);
    const [old] = node.documentHistory!;
    expect(old!.document).toEqual(first.document);
    expect(old!.statusListIndex).toBe(Number(first.document.credentialStatus.statusListIndex));
    expect(old!.statusListCredential).toBe(first.document.credentialStatus.statusListCredential);
    expect(old!.supersededReason).toMatch(/^Superseded/);
    expect(old!.rectification?.id).toBe(result.__typename === "RecipientRectification" ? result.id : "");
    expect(Date.parse(old!.supersededAt)).toBeGreaterThanOrEqual(Date.parse(old!.signedAt));
    expect(nameIn(node.verifiableCredential as Doc)).toBe(corrected);
  });

  it("hides the history from a key without personal:read", async () => {
    const key = await createKey(app, a.owner, ["issue"]);
    expect(await errorCode(key.client.request(CredentialDocumentHistoryDocument, { id: first.id }))).toBe("FORBIDDEN");
  });

  it("emails the person a link to each re-issued credential, and nothing to an old address", async () => {
    const notice = await waitFor(async () => fake.sent.find((m) => m.to.includes(person.email) && m.tags.some((t) => t.value === "recipient_rectified")), "the notice");
    expect(notice.text).toContain("corrected your name in its records");
    expect(notice.text).not.toContain("email address in its records");
    for (const held of [first, second, suspended]) expect(notice.text).toContain(held.document.id);
    for (const held of [revoked, expired]) expect(notice.text).not.toContain(held.document.id);
    expect(notice.html).toContain(`href="${first.document.id}"`);
    expect(notice.text).toContain(`Hello ${corrected},`);
    expect(fake.sent.some((m) => m.tags.some((t) => t.value === "recipient_email_changed") && m.to.includes(person.email))).toBe(false);
  });
});

describe("correcting an email address", () => {
  const before = { email: `kenji.sato.${tag}@example.test`, name: "Kenji Sato" };
  const after = { email: `kenji.sato.new.${tag}@Example.TEST`, normalised: `kenji.sato.new.${tag}@example.test`, name: "佐藤 健二" };
  let held: Issued;

  beforeAll(async () => {
    held = await issue(a.owner, before);
    const result = await rectify(a.owner, { recipientId: held.recipientId, email: after.email, name: after.name });
    expect(result).toMatchObject({ __typename: "RecipientRectification", changed: ["name", "email"], newEmail: after.normalised, newName: after.name, credentialsReissued: 1 });
  }, 30_000);

  it("re-issues with the new address's salted hash, and the old address no longer matches", async () => {
    const now = await published(held.document);
    const email = (now.credentialSubject.identifier as Doc[]).find((i) => i.identityType === "emailAddress")!;
    const { createHash } = await import("node:crypto");
    const hash = (addr: string) => "sha256$" + createHash("sha256").update(addr + email.salt).digest("hex");
    expect(email.identityHash).toBe(hash(after.normalised));
    expect(email.identityHash).not.toBe(hash(before.email));
    expect(email.salt).not.toBe((held.document.credentialSubject.identifier as Doc[])[0]!.salt);
    expect((await verify(now)).verified).toBe(true);
  });

  it("tells the new address what changed, and the old one only that it will no longer be written to", async () => {
    const toNew = await waitFor(async () => fake.sent.find((m) => m.to.includes(after.normalised) && m.tags.some((t) => t.value === "recipient_rectified")), "the notice");
    expect(toNew.text).toContain("corrected your name and your email address");
    expect(toNew.text).toContain(held.document.id);
    const toOld = await waitFor(async () => fake.sent.find((m) => m.to.includes(before.email) && m.tags.some((t) => t.value === "recipient_email_changed")), "the old-address notice");
    for (const secret of [after.normalised, after.name, "kenji.sato.new", held.document.id]) {
      expect(toOld.text).not.toContain(secret);
      expect(toOld.html).not.toContain(secret);
      expect(toOld.subject).not.toContain(secret);
    }
    expect(toOld.text).toMatch(/no longer come here/);
  });

  it("lists the recipient's corrections with before and after", async () => {
    const { node } = await a.owner.request(RecipientRectificationsDocument, { id: held.recipientId });
    if (node?.__typename !== "Recipient") throw new Error(JSON.stringify(node));
    expect(node.rectifications).toEqual([
      expect.objectContaining({ oldEmail: before.email, newEmail: after.normalised, oldName: before.name, newName: after.name, changed: ["name", "email"] }),
    ]);
  });
});

describe("names in several scripts", () => {
  it("stores and signs a name given in NFD as NFC", async () => {
    const held = await issue(a.owner, { email: `zoe.${tag}@example.test`, name: "Zoe Marquez" });
    const nfd = "Zoe\u0308 Ma\u0301rquez-Nguye\u0302\u0303n";
    const result = await rectify(a.owner, { recipientId: held.recipientId, name: `  ${nfd} ` });
    const nfc = nfd.normalize("NFC");
    expect(nfc).not.toBe(nfd);
    expect(result).toMatchObject({ __typename: "RecipientRectification", newName: nfc });
    expect(nameIn(await published(held.document))).toBe(nfc);
  });

  it("re-issues for a CJK name and a Hebrew name with combining points", async () => {
    for (const name of ["李小龍", "שָׁלוֹם כֹּהֵן"]) {
      const held = await issue(a.owner, { email: `script.${randomBytes(3).toString("hex")}@example.test`, name: "Placeholder Name" });
      expect(await rectify(a.owner, { recipientId: held.recipientId, name })).toMatchObject({ newName: name.normalize("NFC") });
      const now = await published(held.document);
      expect(nameIn(now)).toBe(name.normalize("NFC"));
      expect((await verify(now)).verified).toBe(true);
    }
  });
});

describe("refusals", () => {
  let held: Issued;
  const person = { email: `refused.${tag}@example.test`, name: "Rhiannon Price" };
  const other = { email: `taken.${tag}@example.test`, name: "Taken Person" };

  beforeAll(async () => {
    held = await issue(a.owner, person);
    await issue(a.owner, other);
  });

  it("refuses bad input with typed errors and changes nothing", async () => {
    const before = await snapshot(held.recipientId);
    const cases: [RectifyRecipientInput, string, string[] | undefined][] = [
      [{ recipientId: held.recipientId, name: "   " }, "ValidationError", ["input", "name"]],
      [{ recipientId: held.recipientId, name: "Two\nLines" }, "ValidationError", ["input", "name"]],
      [{ recipientId: held.recipientId, name: "x".repeat(201) }, "ValidationError", ["input", "name"]],
      [{ recipientId: held.recipientId }, "ValidationError", ["input"]],
      [{ recipientId: held.recipientId, name: person.name }, "ValidationError", ["input"]],
      [{ recipientId: held.recipientId, email: other.email.toUpperCase() }, "RecipientExistsError", undefined],
    ];
    for (const [input, typename, path] of cases) {
      const result = await rectify(a.owner, input);
      expect(result.__typename, JSON.stringify(input)).toBe(typename);
      if (path && result.__typename === "ValidationError") expect(result.fieldErrors[0]!.path).toEqual(path);
    }
    // An invalid address is refused by the EmailAddress scalar, as everywhere in the API.
    expect(await errorCode(rectify(a.owner, { recipientId: held.recipientId, email: "not an address" }))).toBe("BAD_USER_INPUT");
    expect(await snapshot(held.recipientId)).toEqual(before);
    expect(nameIn(await published(held.document))).toBe(person.name);
  });

  it("refuses a name that would display differently from what is signed, naming the problem, and changes nothing", async () => {
    const before = await snapshot(held.recipientId);
    for (const [what, name, message] of DECEPTIVE_NAMES) {
      const result = await rectify(a.owner, { recipientId: held.recipientId, name });
      expect(result.__typename, what).toBe("ValidationError");
      if (result.__typename !== "ValidationError") continue;
      expect(result.fieldErrors[0], what).toMatchObject({ path: ["input", "name"], message: expect.stringMatching(message) });
      expect(() => checkCorrection({ name }), what).toThrow(ValidationError);
    }
    expect(await snapshot(held.recipientId)).toEqual(before);
    expect(nameIn(await published(held.document))).toBe(person.name);
  });

  it("accepts names in every script, emoji ZWJ sequences and bidi marks, in NFC", () => {
    for (const [what, name] of GOOD_NAMES) expect(checkCorrection({ name }), what).toEqual({ name: name.normalize("NFC") });
  });

  it("checks a correction as recipients are checked, in the service too", () => {
    expect(() => checkCorrection({ email: "nobody@" })).toThrow(ValidationError);
    expect(() => checkCorrection({ name: "bad\u0000name" })).toThrow(/NUL|control/);
    expect(checkCorrection({ email: " Someone@Example.TEST ", name: " Ana\u0301 " })).toEqual({ email: "someone@example.test", name: "Aná" });
  });

  it("is NotFound for another tenant, and refused to roles without privacy:manage", async () => {
    const before = await snapshot(held.recipientId);
    expect(await rectify(b.owner, { recipientId: held.recipientId, name: "Hijacked" })).toMatchObject({ __typename: "NotFoundError", resource: "Recipient" });
    for (const scopes of [["issue"], ["read"], ["admin"]] as const) {
      const key = await createKey(app, a.owner, [...scopes]);
      expect(await errorCode(rectify(key.client, { recipientId: held.recipientId, name: "Not Allowed" }))).toBe("FORBIDDEN");
    }
    expect(await snapshot(held.recipientId)).toEqual(before);
  });

  it("refuses a name or email change through updateRecipient, pointing to rectifyRecipient", async () => {
    const { updateRecipient } = await a.owner.request(UpdateRecipientDocument, { id: held.recipientId, input: { email: person.email, name: "Someone Else" } });
    expect(updateRecipient).toMatchObject({ __typename: "RectificationRequiredError", fields: ["name"] });
    expect((updateRecipient as { message: string }).message).toMatch(/rectifyRecipient/);
    const moved = await a.owner.request(UpdateRecipientDocument, { id: held.recipientId, input: { email: `elsewhere.${tag}@example.test`, name: person.name } });
    expect(moved.updateRecipient).toMatchObject({ __typename: "RectificationRequiredError", fields: ["email"] });
    // The rest may still change, given the same name and (differently written) address.
    const ok = await a.owner.request(UpdateRecipientDocument, { id: held.recipientId, input: { email: person.email.toUpperCase(), name: ` ${person.name}`, locale: "fr" } });
    expect(ok.updateRecipient).toMatchObject({ __typename: "Recipient", locale: "fr", name: person.name, email: person.email });
  });
});

describe("answering a request with rectifyRecipient", () => {
  it("completes the person's rectification request, and refuses a request of another kind or person", async () => {
    const held = await issue(a.owner, { email: `ngozi.${tag}@example.test`, name: "Ngozi Adichi" });
    const other = await issue(a.owner, { email: `other.${tag}@example.test`, name: "Other Person" });
    const identityVerification = { method: "known_contact" as const };
    const fileIt = async (input: FileDataSubjectRequestInput) => {
      const { fileDataSubjectRequest: r } = await a.owner.request(FileDataSubjectRequestDocument, { input });
      if (r.__typename !== "DataSubjectRequest") throw new Error(JSON.stringify(r));
      return r.id;
    };
    const theirs = await fileIt({ kind: "rectification", recipientId: held.recipientId, identityVerification, requestedChanges: { name: "Ngozi Adichie" } });
    const access = await fileIt({ kind: "access", recipientId: held.recipientId, identityVerification });
    const someoneElses = await fileIt({ kind: "rectification", recipientId: other.recipientId, identityVerification, requestedChanges: { name: "Other Persons" } });
    for (const requestId of [access, someoneElses]) {
      expect(await rectify(a.owner, { recipientId: held.recipientId, name: "Ngozi Adichie", requestId })).toMatchObject({
        __typename: "ValidationError",
        fieldErrors: [{ path: ["input", "requestId"] }],
      });
    }
    expect(await rectify(b.owner, { recipientId: held.recipientId, name: "Ngozi Adichie", requestId: theirs })).toMatchObject({ __typename: "NotFoundError" });
    const done = await rectify(a.owner, { recipientId: held.recipientId, name: "Ngozi Adichie", requestId: theirs });
    expect(done).toMatchObject({ __typename: "RecipientRectification", newName: "Ngozi Adichie", request: { id: theirs, state: "completed" } });
    const { node } = await a.owner.request(DataSubjectRequestDocument, { id: theirs });
    expect(node).toMatchObject({ state: "completed", outcome: expect.stringMatching(/^Rectified: name corrected; 1 credential/) });
    // A completed request is final: it cannot be answered twice.
    expect(await rectify(a.owner, { recipientId: held.recipientId, name: "Ngozi A.", requestId: theirs })).toMatchObject({ __typename: "ValidationError" });
  });
});

describe("a rectification request, then an erasure", () => {
  const person = { email: `lucia.ferreira.${tag}@example.test`, name: "Lucia Ferrera" };
  const asked = { email: `lucia.fereira.${tag}@example.test`, name: "Lúcia Ferreira" };
  let held: Issued;
  let requestId: string;

  async function file(client: LaurelClient, input: FileDataSubjectRequestInput) {
    return (await client.request(FileDataSubjectRequestDocument, { input })).fileDataSubjectRequest;
  }

  beforeAll(async () => {
    held = await issue(a.owner, person);
  });

  it("requires a correction on a rectification request, and refuses one on other kinds", async () => {
    const identityVerification = { method: "document_checked" as const };
    const none = await file(a.owner, { kind: "rectification", recipientId: held.recipientId, identityVerification });
    expect(none).toMatchObject({ __typename: "ValidationError", fieldErrors: [{ path: ["input", "requestedChanges"] }] });
    const empty = await file(a.owner, { kind: "rectification", recipientId: held.recipientId, identityVerification, requestedChanges: { name: " " } });
    expect(empty).toMatchObject({ __typename: "ValidationError", fieldErrors: [{ path: ["input", "requestedChanges", "name"] }] });
    const access = await file(a.owner, { kind: "access", recipientId: held.recipientId, identityVerification, requestedChanges: { name: asked.name } });
    expect(access).toMatchObject({ __typename: "ValidationError", fieldErrors: [{ path: ["input", "requestedChanges"] }] });
    const elsewhere = await file(b.owner, { kind: "rectification", recipientId: held.recipientId, identityVerification, requestedChanges: { name: asked.name } });
    expect(elsewhere).toMatchObject({ __typename: "NotFoundError" });
  });

  it("is carried out by the worker: the correction applied, credentials re-issued, the request completed", async () => {
    const filed = await file(a.owner, {
      kind: "rectification",
      email: person.email,
      identityVerification: { method: "email_link" },
      requestedChanges: { name: ` ${asked.name.normalize("NFD")}`, email: asked.email.toUpperCase() },
    });
    if (filed.__typename !== "DataSubjectRequest") throw new Error(JSON.stringify(filed));
    requestId = filed.id;
    expect(filed.requestedChanges).toEqual({ name: asked.name, email: asked.email });
    const key = await createKey(app, a.owner, ["issue"]);
    expect(await errorCode(key.client.request(CarryOutDataSubjectRequestDocument, { id: requestId }))).toBe("FORBIDDEN");
    const started = (await a.owner.request(CarryOutDataSubjectRequestDocument, { id: requestId })).carryOutDataSubjectRequest;
    expect(started).toMatchObject({ __typename: "DataSubjectRequest", state: "in_progress" });
    const done = await waitFor(async () => {
      const { node } = await a.owner.request(DataSubjectRequestDocument, { id: requestId });
      return node?.__typename === "DataSubjectRequest" && node.state === "completed" ? node : null;
    }, "the rectification to complete");
    expect(done.outcome).toMatch(/^Rectified: name and email corrected; 1 credential\(s\) re-issued/);
    expect(done.recipient).toMatchObject({ email: asked.email });
    const now = await published(held.document);
    expect(nameIn(now)).toBe(asked.name);
    expect((await verify(now)).verified).toBe(true);
    expect((await verify(held.document)).status.state).toBe("revoked");
    const { node } = await a.owner.request(RecipientRectificationsDocument, { id: held.recipientId });
    if (node?.__typename !== "Recipient") throw new Error("recipient");
    expect(node.rectifications).toEqual([expect.objectContaining({ actorKind: "system", request: { id: requestId, state: "completed" }, oldName: person.name })]);
    // Carried out as a rectification, on the record; partners hear it was answered, and nothing about whom.
    const [event] = await app.db.admin`select count(*)::int as n from audit_log where tenant_id = ${a.tenantId} and action = 'data_subject_request.rectified' and target_id = ${uuidOf(requestId)}`;
    expect(event!.n).toBe(1);
    const [delivery] = await app.db.admin<{ payload: any }[]>`
      select payload from webhook_deliveries where tenant_id = ${a.tenantId} and event_type = 'data_subject_request.completed' and payload::text like ${"%" + requestId + "%"}`;
    expect(delivery!.payload.data).toEqual({ requestId, kind: "rectification", state: "completed", completedAt: done.completedAt });
    for (const value of [asked.email, asked.name, person.email, person.name]) expect(JSON.stringify(delivery!.payload)).not.toContain(value);
  }, 30_000);

  it("leaves a request in progress, saying why, when its correction can no longer be made", async () => {
    const clash = { email: `clash.${tag}@example.test`, name: "Clash Person" };
    const filed = await file(a.owner, { kind: "rectification", recipientId: held.recipientId, identityVerification: { method: "email_link" }, requestedChanges: { email: clash.email } });
    if (filed.__typename !== "DataSubjectRequest") throw new Error(JSON.stringify(filed));
    await issue(a.owner, clash); // the address is taken after the request was filed
    const before = await snapshot(held.recipientId);
    await a.owner.request(CarryOutDataSubjectRequestDocument, { id: filed.id });
    const stuck = await waitFor(async () => {
      const { node } = await a.owner.request(DataSubjectRequestDocument, { id: filed.id });
      return node?.__typename === "DataSubjectRequest" && node.outcome ? node : null;
    }, "the outcome");
    expect(stuck).toMatchObject({ state: "in_progress", outcome: "Not carried out: Another recipient already has this email" });
    expect(await snapshot(held.recipientId)).toEqual(before);
    await a.owner.request(UpdateDataSubjectRequestDocument, { input: { id: filed.id, state: "refused", outcome: "The address belongs to someone else" } });
  }, 30_000);

  it("refuses to rectify an erased person, and the erasure leaves none of their earlier names or addresses", async () => {
    const erasure = await file(a.owner, { kind: "erasure", recipientId: held.recipientId, identityVerification: { method: "document_checked" } });
    if (erasure.__typename !== "DataSubjectRequest") throw new Error(JSON.stringify(erasure));
    // While the erasure waits for the worker, a correction is refused: it would re-sign and email what is about to go.
    await worker.stop();
    await a.owner.request(CarryOutDataSubjectRequestDocument, { id: erasure.id });
    expect(await rectify(a.owner, { recipientId: held.recipientId, name: "Just Before" })).toMatchObject({
      __typename: "AlreadyErasedError",
      message: "This person's erasure is under way: nothing of theirs is corrected any more",
    });
    worker = await startTestWorker(app);
    await waitFor(async () => {
      const { node } = await a.owner.request(DataSubjectRequestDocument, { id: erasure.id });
      return node?.__typename === "DataSubjectRequest" && node.state === "completed";
    }, "the erasure to complete");

    const before = await snapshot(held.recipientId);
    expect(await rectify(a.owner, { recipientId: held.recipientId, name: "Back Again" })).toMatchObject({ __typename: "AlreadyErasedError" });
    expect(await file(a.owner, { kind: "rectification", recipientId: held.recipientId, identityVerification: { method: "document_checked" }, requestedChanges: { name: "Back Again" } }))
      .toMatchObject({ __typename: "AlreadyErasedError" });
    expect(await snapshot(held.recipientId)).toEqual(before);

    const id = uuidOf(held.recipientId);
    const history = (await openedRectifications(app, a.tenantId)).filter((r) => r.recipient_id === id);
    expect(history.map((r) => ({ oldName: r.oldName, newName: r.newName, oldEmail: r.oldEmail, newEmail: r.newEmail }))).toEqual([{ oldName: null, newName: null, oldEmail: null, newEmail: null }]);
    expect(await app.db.admin`select old_name_sealed, new_name_sealed, old_email_sealed, new_email_sealed, old_email_index, new_email_index,
                                     legacy_old_name, legacy_new_name, legacy_old_email, legacy_new_email from recipient_rectifications where recipient_id = ${id}`)
      .toEqual([{ old_name_sealed: null, new_name_sealed: null, old_email_sealed: null, new_email_sealed: null, old_email_index: null, new_email_index: null,
                  legacy_old_name: null, legacy_new_name: null, legacy_old_email: null, legacy_new_email: null }]);
    expect(await app.db.admin`select document_sealed, legacy_document from credential_documents where credential_id = ${uuidOf(held.id)}`).toEqual([{ document_sealed: null, legacy_document: null }]);
    const requests = (await openedRequests(app, a.tenantId)).filter((r) => r.recipient_id === id);
    expect(requests.length).toBeGreaterThan(0);
    expect(requests.map((r) => [r.requestedChanges, r.requested_changes_sealed, r.legacy_requested_changes])).toEqual(requests.map(() => [null, null, null]));
    const traces = await findTraces(app.db.admin, [person.email, person.name, asked.email, asked.name, `lucia.ferreira.${tag}`, `lucia.fereira.${tag}`], app);
    expect(traces).toEqual([]);
    // The superseded document's bit stays set: a copy of it still reads as revoked.
    expect(await bitOf(held.document)).toBe(true);
  }, 30_000);
});

