// A person acts for themselves (issue 10, point 3): from their credential's page they ask for a right,
// Laurel emails a one-time link to the address on record, and the request exists only once that link
// is used - recorded as filed by the data subject, identity verified by email link. The link works once,
// expires, cannot be forged or moved to another tenant, and a page view (a mail scanner) uses nothing.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ActivateTemplateDocument,
  CarryOutDataSubjectRequestDocument,
  CreateTemplateDocument,
  DataSubjectRequestDocument,
  DataSubjectRequestsDocument,
  IssueCredentialDocument,
} from "../../src/sdk/generated.js";
import type { LaurelClient } from "../../src/sdk/index.js";
import type { QueueWorker } from "../../src/modules/jobs/worker.js";
import { MAX_LINKS_PER_DAY } from "../../src/modules/privacy/self-service.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { signUpTenant, type TestTenant } from "../helpers/factories.js";
import { startFakeResend, type FakeResend, type SentEmail } from "../helpers/fake-resend.js";
import { DECEPTIVE_NAMES } from "../helpers/names.js";
import { deliveryConfig, startTestWorker, waitFor } from "../helpers/worker.js";
import { openedMessages, openedPrivacyLinks, openedRecipientByEmail } from "../helpers/sealed.js";

const tag = randomBytes(3).toString("hex");
const PERSON = { email: `zeynep.aydin.${tag}@example.test`, name: "Zeynep Aydın" };
const OTHER = { email: `kwame.mensah.${tag}@example.test`, name: "Kwame Mensah" };

let fake: FakeResend;
let app: TestApp;
let worker: QueueWorker;
let a: TestTenant;
let b: TestTenant;
beforeAll(async () => {
  fake = await startFakeResend();
  // This file asks far more often than a person would; the limit itself is tested with its defaults in test/public.
  app = await startTestApp({ ...deliveryConfig({ resendUrl: fake.url }), privacyRate: { perSecond: 2, burst: 500 } });
  worker = await startTestWorker(app);
  a = await signUpTenant(app, "Self-Service College");
  b = await signUpTenant(app, "Other College");
});
afterAll(async () => {
  await worker?.stop();
  await app?.close();
  await fake?.close();
});

const uuidOf = (globalId: string) => Buffer.from(globalId, "base64").toString("utf8").split(":")[1]!;
const local = (url: string) => url.replace(/^https?:\/\/[^/]+/, app.server.url);

async function issue(client: LaurelClient, recipient: { email: string; name: string }) {
  const { createTemplate } = await client.request(CreateTemplateDocument, { kind: "BADGE", content: { name: `Welding ${randomBytes(2).toString("hex")}`, description: "Welded.", criteriaNarrative: "Welded." } });
  if (createTemplate.__typename !== "Template") throw new Error("template");
  await client.request(ActivateTemplateDocument, { id: createTemplate.id });
  const { issueCredential } = await client.request(IssueCredentialDocument, { input: { templateId: createTemplate.id, recipient } });
  if (issueCredential.__typename !== "Credential") throw new Error(JSON.stringify(issueCredential));
  return { id: uuidOf(issueCredential.id), url: (issueCredential as unknown as { verifiableCredential: { id: string } }).verifiableCredential.id };
}

const askPath = (tenantId: string, credentialId: string) => `${app.server.url}/privacy/ask/${tenantId}/${credentialId}`;

async function ask(tenantId: string, credentialId: string, body: Record<string, string>) {
  const res = await fetch(askPath(tenantId, credentialId), {
    method: "POST",
    headers: { accept: "application/json", "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as any };
}

/** The newest link email to `to`, waited for, after `count` such emails were already there. */
async function linkEmail(to: string, count: number): Promise<{ email: SentEmail; url: string }> {
  const email = await waitFor(async () => {
    const mine = fake.sent.filter((m) => m.to.includes(to) && m.tags.some((t) => t.value === "privacy_request_link"));
    return mine.length > count ? mine.at(-1) : null;
  }, "the link email");
  const url = /https?:\/\/\S+\/privacy\/links\/\S+/.exec(email.text)?.[0];
  expect(url, "the email carries the link").toBeTruthy();
  return { email, url: local(url!) };
}

const linkEmails = (to: string) => fake.sent.filter((m) => m.to.includes(to) && m.tags.some((t) => t.value === "privacy_request_link")).length;

async function use(url: string, method: "GET" | "POST") {
  const res = await fetch(url, { method, headers: { accept: "application/json" } });
  return { status: res.status, json: (await res.json()) as any };
}

async function requests(client: LaurelClient) {
  const { tenant } = await client.request(DataSubjectRequestsDocument, { first: 50 });
  return tenant!.dataSubjectRequests!.edges.map((e) => e.node);
}

describe("a person asking for their rights by a one-time link", () => {
  let credential: { id: string; url: string };
  beforeAll(async () => {
    credential = await issue(a.owner, PERSON);
    await waitFor(async () => fake.sent.some((m) => m.to.includes(PERSON.email)), "the credential email");
  });

  it("finds the way from the credential's email and page", async () => {
    const issued = fake.sent.find((m) => m.to.includes(PERSON.email) && m.tags.some((t) => t.value === "credential_issued"))!;
    expect(issued.text).toContain(`/privacy/ask/${a.tenantId}/${credential.id}`);
    const page = await fetch(local(credential.url), { headers: { accept: "text/html" } }).then((r) => r.text());
    expect(page).toContain(`/privacy/ask/${a.tenantId}/${credential.id}`);
    const form = await fetch(askPath(a.tenantId, credential.id)).then((r) => r.text());
    for (const kind of ["access", "portability", "rectification", "restriction", "objection", "consent_withdrawal", "erasure"]) {
      expect(form).toContain(`value="${kind}"`);
    }
    // The form names no one, whoever opens it.
    expect(form).not.toContain(PERSON.name);
    expect(form).not.toContain(PERSON.email);
  });

  it("records nothing until the emailed link is used, then records the person's own request once", async () => {
    const before = linkEmails(PERSON.email);
    const asked = await ask(a.tenantId, credential.id, { kind: "access" });
    expect(asked).toMatchObject({ status: 202, json: { sent: true } });
    // The answer says nothing about the holder.
    expect(JSON.stringify(asked.json)).not.toContain(PERSON.email);
    const { email, url } = await linkEmail(PERSON.email, before);
    expect(email.to).toEqual([PERSON.email]);
    expect(email.text).toContain("send you a copy of the personal data");
    expect(email.html).not.toMatch(/\/t\/|pixel|width="1" height="1"/); // no tracking in a rights email
    expect(await requests(a.owner)).toHaveLength(0);

    // Opening the link (as a mail scanner would) only describes it.
    const described = await use(url, "GET");
    expect(described).toMatchObject({ status: 200, json: { action: "Confirm my request" } });
    expect(await requests(a.owner)).toHaveLength(0);
    const html = await fetch(url, { headers: { accept: "text/html" } }).then((r) => r.text());
    expect(html).toContain('method="post"');

    const used = await use(url, "POST");
    expect(used.status).toBe(200);
    expect(used.json.details).toMatchObject({ kind: "access" });
    const [request] = await requests(a.owner);
    expect(request).toMatchObject({
      kind: "access",
      state: "open",
      filedBy: "data_subject",
      identityVerification: { method: "email_link" },
      recipient: { email: PERSON.email },
    });
    expect(request!.identityVerification.note).toMatch(/One-time link emailed to the address on record/);
    // The owners hear of it at once, without the person's name or address.
    const notice = await waitFor(async () => fake.sent.find((m) => m.to.includes(a.email) && m.tags.some((t) => t.value === "data_subject_request_filed")), "the owners' notice");
    expect(notice.text).toContain("An access request was filed");
    expect(notice.text).toMatch(/It is due \d/);
    expect(notice.text).toContain(request!.id);
    expect(notice.text).not.toContain(PERSON.email);
    expect(notice.text).not.toContain(PERSON.name);

    // Once only.
    expect(await use(url, "POST")).toMatchObject({ status: 410, json: { error: { code: "LINK_USED" } } });
    expect(await use(url, "GET")).toMatchObject({ status: 410, json: { error: { code: "LINK_USED" } } });
    expect(await requests(a.owner)).toHaveLength(1);
  });

  it("refuses forged, moved and expired links, and records nothing for them", async () => {
    const before = linkEmails(PERSON.email);
    await ask(a.tenantId, credential.id, { kind: "objection" });
    const { url } = await linkEmail(PERSON.email, before);
    const forged = url.replace(/sig=([A-Za-z0-9_-])/, (_m, c: string) => `sig=${c === "A" ? "B" : "A"}`);
    expect(await use(forged, "POST")).toMatchObject({ status: 403, json: { error: { code: "LINK_INVALID" } } });
    const moved = url.replace(`/privacy/links/${a.tenantId}/`, `/privacy/links/${b.tenantId}/`);
    expect(await use(moved, "POST")).toMatchObject({ status: 403, json: { error: { code: "LINK_INVALID" } } });
    // Altered in any way: a second sig after the real one, an extra parameter, the signature re-spelt in its unused bits.
    const sig = new URL(url).searchParams.get("sig")!;
    const last = sig.at(-1)!;
    const sameBits = "AEIMQUYcgkosw048"[Math.floor("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".indexOf(last) / 4)]!;
    const respelt = sameBits === last ? String.fromCharCode(last.charCodeAt(0) + 1) : sameBits;
    const expires = new URL(url).searchParams.get("expires")!;
    for (const altered of [
      `${url}&sig=AAAA`,
      `${url}&utm_source=mail`,
      url.replace(`sig=${sig}`, `sig=${sig.slice(0, -1)}${respelt}`),
      url.replace(`expires=${expires}`, `expires=0${expires}`),
      url.replace(`expires=${expires}`, `expires=0x${Number(expires).toString(16)}`),
      url.replace("v=1", "v=+1"),
    ]) {
      expect(await use(altered, "POST"), altered.slice(-20)).toMatchObject({ status: 403, json: { error: { code: "LINK_INVALID" } } });
    }
    const linkId = /\/privacy\/links\/[0-9a-f-]{36}\/([0-9a-f-]{36})/.exec(url)![1]!;
    await app.db.admin`update privacy_links set created_at = now() - interval '2 days', expires_at = now() - interval '1 day' where id = ${linkId}`;
    expect(await use(url, "POST")).toMatchObject({ status: 410, json: { error: { code: "LINK_EXPIRED" } } });
    expect((await requests(a.owner)).filter((r) => r.kind === "objection")).toHaveLength(0);
  });

  it("refuses bad asks with a clear error and sends nothing", async () => {
    const before = linkEmails(PERSON.email);
    expect(await ask(a.tenantId, credential.id, { kind: "everything" })).toMatchObject({ status: 400, json: { error: { code: "BAD_REQUEST" } } });
    expect(await ask(a.tenantId, credential.id, { kind: "rectification" })).toMatchObject({ status: 400 });
    expect(await ask(a.tenantId, credential.id, { kind: "rectification", correctEmail: "not an address" })).toMatchObject({ status: 400 });
    // Another tenant's credential under this tenant's path, and an unknown one, are both just not found.
    const theirs = await issue(b.owner, OTHER);
    expect(await ask(a.tenantId, theirs.id, { kind: "access" })).toMatchObject({ status: 404, json: { error: { code: "NOT_FOUND" } } });
    expect(await ask(a.tenantId, "01890000-0000-7000-8000-000000000000", { kind: "access" })).toMatchObject({ status: 404 });
    // The form itself says so at once, before anything is asked.
    expect((await fetch(askPath(a.tenantId, theirs.id))).status).toBe(404);
    const broken = await fetch(askPath(a.tenantId, credential.id), { method: "POST", headers: { accept: "application/json", "content-type": "application/json" }, body: "{not json" });
    expect(broken.status).toBe(400);
    await new Promise((r) => setTimeout(r, 300));
    expect(linkEmails(PERSON.email)).toBe(before);
  });

  it("sends one person at most a handful of links a day", async () => {
    const other = await issue(a.owner, { email: `flood.${tag}@example.test`, name: "Flood Target" });
    for (let i = 0; i < MAX_LINKS_PER_DAY; i++) expect((await ask(a.tenantId, other.id, { kind: "access" })).status).toBe(202);
    expect(await ask(a.tenantId, other.id, { kind: "access" })).toMatchObject({ status: 429, json: { error: { code: "TOO_MANY_LINKS" } } });
  });

  it("takes an erasure asked this way to its end: the person is erased and their links go with them", async () => {
    const before = linkEmails(PERSON.email);
    expect((await ask(a.tenantId, credential.id, { kind: "erasure" })).status).toBe(202);
    const { url } = await linkEmail(PERSON.email, before);
    const used = await use(url, "POST");
    expect(used.status).toBe(200);
    const requestId = (await requests(a.owner)).find((r) => r.kind === "erasure")!.id;
    const { carryOutDataSubjectRequest } = await a.owner.request(CarryOutDataSubjectRequestDocument, { id: requestId });
    expect(carryOutDataSubjectRequest.__typename).toBe("DataSubjectRequest");
    await waitFor(async () => {
      const { node } = await a.owner.request(DataSubjectRequestDocument, { id: requestId });
      return node?.__typename === "DataSubjectRequest" && node.state === "completed";
    }, "the erasure");
    const left = (await openedPrivacyLinks(app, a.tenantId)).filter((l) => l.sentTo === PERSON.email || l.legacy_sent_to === PERSON.email);
    expect(left).toHaveLength(0);
    // Asking again about an erased person's credential: gone, and no email.
    const after = linkEmails(PERSON.email);
    expect(await ask(a.tenantId, credential.id, { kind: "access" })).toMatchObject({ status: 410, json: { error: { code: "ALREADY_ERASED" } } });
    // The form says so at once too: nothing of theirs is left to ask about.
    const form = await fetch(askPath(a.tenantId, credential.id), { headers: { accept: "text/html" } });
    expect(form.status).toBe(410);
    expect(await form.text()).toContain("nothing of theirs is left");
    await new Promise((r) => setTimeout(r, 300));
    expect(linkEmails(PERSON.email)).toBe(after);
  });
});

describe("a correction asked for by link", () => {
  it("is checked like staff's and recorded on the request as the correction asked for", async () => {
    const person = { email: `leila.haddad.${tag}@example.test`, name: "Leila Hadad" };
    const credential = await issue(a.owner, person);
    // NFD input, as some keyboards send it, is stored in NFC.
    const nfd = "Leïla Ḥaddād".normalize("NFD");
    expect(await ask(a.tenantId, credential.id, { kind: "rectification", correctName: "Line one\nLine two" })).toMatchObject({ status: 400 });
    const before = linkEmails(person.email);
    expect((await ask(a.tenantId, credential.id, { kind: "rectification", correctName: nfd, correctEmail: `  Leila.Haddad.${tag}@Example.TEST ` })).status).toBe(202);
    const { url } = await linkEmail(person.email, before);
    const described = await use(url, "GET");
    expect(described.json.paragraphs.join(" ")).toContain("Leïla Ḥaddād".normalize("NFC"));
    expect((await use(url, "POST")).status).toBe(200);
    const request = (await requests(a.owner)).find((r) => r.kind === "rectification" && r.recipient?.email === person.email) as any;
    expect(request.requestedChanges).toEqual({ name: "Leïla Ḥaddād".normalize("NFC"), email: `leila.haddad.${tag}@example.test` });
  });
});

describe("a corrected name asked for by link that would display differently from what is signed", () => {
  it("is refused, saying why, and no link is sent", async () => {
    const person = { email: `deceptive.${tag}@example.test`, name: "Dana Ceptive" };
    const credential = await issue(a.owner, person);
    const before = linkEmails(person.email);
    for (const [what, correctName, message] of DECEPTIVE_NAMES) {
      const asked = await ask(a.tenantId, credential.id, { kind: "rectification", correctName });
      expect(asked, what).toMatchObject({ status: 400, json: { error: { code: "BAD_REQUEST", message: expect.stringMatching(message) } } });
    }
    await new Promise((r) => setTimeout(r, 300));
    expect(linkEmails(person.email)).toBe(before);
  });
});

describe("a withdrawal of consent, an objection or a restriction asked for by link", () => {
  it("takes effect as the link is used: the choice is set and the request completed, with no one's review", async () => {
    for (const [kind, column] of [["consent_withdrawal", "tracking_consent"], ["objection", "objected_at"], ["restriction", "restricted_at"]] as const) {
      const person = { email: `${kind}.${tag}@example.test`, name: `Person ${kind}` };
      const credential = await issue(a.owner, person);
      const before = linkEmails(person.email);
      expect((await ask(a.tenantId, credential.id, { kind })).status).toBe(202);
      const { url } = await linkEmail(person.email, before);
      const recipientId = (await openedRecipientByEmail(app, person.email))!.id;
      const [unchanged] = await app.db.admin`select tracking_consent, objected_at, restricted_at from recipients where id = ${recipientId}`;
      expect(unchanged).toMatchObject({ tracking_consent: true, objected_at: null, restricted_at: null });
      const used = await use(url, "POST");
      expect(used).toMatchObject({ status: 200, json: { details: { kind, state: "completed" } } });
      const [after] = await app.db.admin`select tracking_consent, objected_at, restricted_at from recipients where id = ${recipientId}`;
      if (column === "tracking_consent") expect(after!.tracking_consent).toBe(false);
      else expect(after![column]).toBeInstanceOf(Date);
      const request = (await requests(a.owner)).find((r) => r.kind === kind && r.recipient?.email === person.email)!;
      expect(request).toMatchObject({ state: "completed", filedBy: "data_subject" });
      // The owners hear that it was done, not that it is due.
      const notice = await waitFor(
        async () => fake.sent.find((m) => m.tags.some((t) => t.value === "data_subject_request_filed") && m.text.includes(request.id)),
        "the owners' notice",
      );
      expect(notice.text).toContain("It took effect at once, as the person asked: nothing is left to do.");
      expect(notice.text).not.toContain("It is due");
      expect(notice.subject).toMatch(/ and carried out$/);
    }
  });
});

describe("the link in the outbox", () => {
  it("is forgotten once the email has left: whoever reads the outbox cannot act as the person", async () => {
    const person = { email: `outbox.reader.${tag}@example.test`, name: "Outbox Reader" };
    const credential = await issue(a.owner, person);
    const before = linkEmails(person.email);
    expect((await ask(a.tenantId, credential.id, { kind: "erasure" })).status).toBe(202);
    const { url } = await linkEmail(person.email, before);
    const sig = new URL(url).searchParams.get("sig")!;
    const rows = await waitFor(async () => {
      const r = (await openedMessages(app, { kind: "privacy_request_link", toEmail: person.email })).map((m) => ({ status: m.status, payload: m.payload, content: m.content, text: m.text }));
      return r.length && r[0]!.status === "sent" ? r : null;
    }, "the message marked sent");
    expect(JSON.stringify(rows)).not.toContain(sig);
  });
});

describe("asks that must not turn into emails", () => {
  it("counts concurrent asks one after another: five links a day to one person however many arrive at once", async () => {
    const person = { email: `concurrent.${tag}@example.test`, name: "Concurrent Person" };
    const credential = await issue(a.owner, person);
    const answers = await Promise.all(Array.from({ length: 12 }, () => ask(a.tenantId, credential.id, { kind: "access" })));
    expect(answers.filter((r) => r.status === 202)).toHaveLength(MAX_LINKS_PER_DAY);
    expect(answers.filter((r) => r.status === 429)).toHaveLength(12 - MAX_LINKS_PER_DAY);
    const links = (await openedPrivacyLinks(app)).filter((l) => l.sentTo === person.email);
    expect(links).toHaveLength(MAX_LINKS_PER_DAY);
  });

  it("answers an oversized body 413, not a server fault", async () => {
    const person = { email: `big.body.${tag}@example.test`, name: "Big Body" };
    const credential = await issue(a.owner, person);
    const res = await fetch(askPath(a.tenantId, credential.id), {
      method: "POST",
      headers: { accept: "application/json", "content-type": "application/json" },
      body: JSON.stringify({ kind: "access", pad: "x".repeat(20_000) }),
    });
    expect(res.status).toBe(413);
    expect(((await res.json()) as any).error.code).toBe("PAYLOAD_TOO_LARGE");
  });
});
