// Issuing Open Badges 3.0 credentials through the SDK, and checking them as a stranger would: through
// the public endpoints and the verify endpoint, with no access to our database.
import { openedMessages } from "../helpers/sealed.js";
import { recipientNameOf } from "../../src/modules/credentials/document.js";
import { readFile } from "node:fs/promises";
import { Ajv2019 } from "ajv/dist/2019.js";
import addFormatsModule from "ajv-formats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ActivateTemplateDocument,
  ArchiveTemplateDocument,
  CreateTemplateDocument,
  CredentialsDocument,
  IssueCredentialDocument,
  IssuerDocument,
  NodeDocument,
  RecipientsDocument,
  RevokeCredentialDocument,
  RotateSigningKeyDocument,
  SetTemplateDuplicatePolicyDocument,
  SuspendCredentialDocument,
  UnsuspendCredentialDocument,
  UpdateIssuerProfileDocument,
  UpdateTemplateDocument,
  type IssueCredentialInput,
} from "../../src/sdk/generated.js";
import type { LaurelClient } from "../../src/sdk/index.js";
import { createDocumentLoader } from "../../src/modules/credentials/vc/document-loader.js";
import { verifyProof } from "../../src/modules/credentials/vc/proofs.js";
import { isSet } from "../../src/modules/credentials/status-lists.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { createKey, signUpTenant, type TestTenant } from "../helpers/factories.js";

let app: TestApp;
let a: TestTenant;
let b: TestTenant;
let templateId: string;
let validateSchema: (c: unknown) => boolean;

const content = {
  name: "Data Stewardship",
  description: "Looks after data well.",
  credentialDescription: "Awarded to {{recipientName}} for completing {{course}}.",
  criteriaNarrative: "Pass the final assessment.",
  tags: ["data", "governance"],
  alignments: [{ targetName: "ESCO: data management", targetUrl: "https://esco.example/skill/123" }],
  customFields: [{ name: "course", label: "Course", type: "TEXT" as const, required: true }],
};

async function issue(client: LaurelClient, input: Partial<IssueCredentialInput> = {}) {
  const res = await client.request(IssueCredentialDocument, {
    input: {
      templateId,
      recipient: { email: "Ada.Lovelace@Example.test", name: "Ada Lovelace" },
      fieldValues: { course: "Data 101" },
      ...input,
    },
  });
  return res.issueCredential;
}

async function issued(client: LaurelClient, input: Partial<IssueCredentialInput> = {}) {
  const result = await issue(client, input);
  if (result.__typename !== "Credential") throw new Error(`issue failed: ${JSON.stringify(result)}`);
  return result;
}

async function getPublic(path: string) {
  const res = await fetch(`${app.server.url}${path}`);
  return { status: res.status, json: res.status === 200 ? await res.json() : null, text: res.status === 200 ? "" : await res.text() };
}

async function verify(credential: unknown) {
  const res = await fetch(`${app.server.url}/verify`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(credential) });
  expect(res.status).toBe(200);
  return res.json();
}

/** A stranger's document loader: contexts bundled, issuer keys fetched from our public DID document. */
function strangerLoader() {
  return createDocumentLoader(async (url) => {
    const match = /^did:web:[^:]+:issuers:([0-9a-f-]{36})$/.exec(url);
    if (!match) return null;
    return (await getPublic(`/issuers/${match[1]}/did.json`)).json;
  });
}

beforeAll(async () => {
  app = await startTestApp();
  [a, b] = await Promise.all([signUpTenant(app, "Alpha Academy"), signUpTenant(app, "Beta Bootcamp")]);
  const schemaText = await readFile(new URL("./fixtures/ob_v3p0_achievementcredential_schema.json", import.meta.url), "utf8");
  const ajv = new Ajv2019({ strict: false, allErrors: true });
  (addFormatsModule as unknown as (x: Ajv2019) => void)(ajv);
  validateSchema = ajv.compile(JSON.parse(schemaText));
  const created = await a.owner.request(CreateTemplateDocument, { kind: "BADGE", content });
  if (created.createTemplate.__typename !== "Template") throw new Error(JSON.stringify(created));
  templateId = created.createTemplate.id;
  // These tests issue to the same people again and again: a repeatable badge (duplicates.test.ts covers REFUSE).
  await a.owner.request(SetTemplateDuplicatePolicyDocument, { id: templateId, policy: "ALLOW" });
});
afterAll(async () => app.close());

describe("templates", () => {
  it("start as drafts that cannot issue, and archived ones cannot either", async () => {
    expect(await issue(a.owner)).toMatchObject({ __typename: "TemplateNotIssuableError" });
    const act = await a.owner.request(ActivateTemplateDocument, { id: templateId });
    expect(act.activateTemplate).toMatchObject({ status: "ACTIVE" });
    const extra = await a.owner.request(CreateTemplateDocument, { kind: "CERTIFICATE", content: { ...content, credentialDescription: null, customFields: [] } });
    if (extra.createTemplate.__typename !== "Template") throw new Error("create failed");
    await a.owner.request(ActivateTemplateDocument, { id: extra.createTemplate.id });
    await a.owner.request(ArchiveTemplateDocument, { id: extra.createTemplate.id });
    const res = await a.owner.request(IssueCredentialDocument, { input: { templateId: extra.createTemplate.id, recipient: { email: "x@example.test" } } });
    expect(res.issueCredential).toMatchObject({ __typename: "TemplateNotIssuableError", message: expect.stringMatching(/archived/) });
  });

  it("reject content without criteria, with a bad URL or duplicate fields, field by field", async () => {
    const res = await a.owner.request(CreateTemplateDocument, {
      kind: "BADGE",
      content: { ...content, criteriaNarrative: null, imageUrl: "javascript:alert(1)", customFields: [content.customFields[0]!, content.customFields[0]!] },
    });
    expect(res.createTemplate.__typename).toBe("ValidationError");
    if (res.createTemplate.__typename !== "ValidationError") return;
    expect(res.createTemplate.fieldErrors.map((e) => e.path.join("."))).toEqual(
      expect.arrayContaining(["input.criteriaNarrative", "input.imageUrl", "input.customFields.1.name"]),
    );
  });
});

describe("issueCredential", () => {
  it("issues a signed OB 3.0 credential that validates against the published schema and names no email", async () => {
    const credential = await issued(a.owner);
    const vc = credential.verifiableCredential as Record<string, any>;
    expect(validateSchema(vc)).toBe(true);
    expect(vc.type).toEqual(["VerifiableCredential", "OpenBadgeCredential"]);
    expect(vc.description).toBe("Awarded to Ada Lovelace for completing Data 101.");
    expect(vc.credentialSubject.achievement).toMatchObject({ name: "Data Stewardship", achievementType: "Badge", tag: ["data", "governance"] });
    expect(vc.credentialSubject.identifier[0]).toMatchObject({ identityType: "emailAddress", hashed: true });
    expect(vc.credentialSubject.identifier[0].identityHash).toMatch(/^sha256\$[0-9a-f]{64}$/);
    expect(vc.credentialSubject.identifier[1]).toEqual({ type: "IdentityObject", identityType: "name", hashed: false, identityHash: "Ada Lovelace" });
    expect(recipientNameOf(vc)).toBe("Ada Lovelace");
    expect(JSON.stringify(vc).toLowerCase()).not.toContain("ada.lovelace@example.test");
    expect(vc.credentialStatus).toMatchObject({ type: "BitstringStatusListEntry", statusPurpose: "revocation" });
    expect(vc.proof[0]).toMatchObject({ type: "DataIntegrityProof", cryptosuite: "eddsa-rdfc-2022", proofPurpose: "assertionMethod" });
    expect(credential.recipient?.email).toBe("ada.lovelace@example.test");
  });

  it("verifies with the digitalbazaar libraries, using only bundled contexts and our public DID document", async () => {
    const credential = await issued(a.owner);
    expect(await verifyProof(credential.verifiableCredential as Record<string, unknown>, strangerLoader())).toEqual({ verified: true, errors: [] });
  });

  it("queues the recipient's email and writes the audit log in the same transaction", async () => {
    const credential = await issued(a.owner, { recipient: { email: "grace@example.test", name: "Grace" } });
    const id = credential.publicUrl.split("/").pop()!;
    const email = (await openedMessages(app, { tenantId: a.tenantId })).find((m) => m.raw.idempotency_key === `credential_issued:${id}`);
    expect(email).toMatchObject({ kind: "credential_issued", toEmail: "grace@example.test", status: "queued" });
    // Stored sealed: the address is not in the row as text.
    expect(Buffer.from(email!.raw.to_email_sealed as Uint8Array).includes("grace@example.test")).toBe(false);
    const jobs = await app.db.admin`select 1 from graphile_worker._private_jobs j join graphile_worker._private_tasks t on t.id = j.task_id
                                     where t.identifier = 'send_emails' and j.payload::jsonb -> 'messageIds' ? ${email!.id as string}`;
    expect(jobs).toHaveLength(1);
    const [audit] = await app.db.admin`select action from audit_log where target_id = ${id}`;
    expect(audit!.action).toBe("credential.issued");
  });

  it("returns the same credential for the same idempotency key, even when sent concurrently", async () => {
    const input = { idempotencyKey: "enrolment-42", recipient: { email: "idem@example.test" } };
    const [one, two, three] = await Promise.all([issued(a.owner, input), issued(a.owner, input), issued(a.owner, input)]);
    expect(new Set([one.id, two.id, three.id]).size).toBe(1);
    const [n] = await app.db.admin`select count(*)::int as n from credentials where idempotency_key = 'enrolment-42'`;
    expect(n!.n).toBe(1);
  });

  it("writes nothing when a required field is missing, a field is unknown or both recipient forms are given", async () => {
    const before = await app.db.admin`select (select count(*) from credentials)::int as c, (select count(*) from recipients)::int as r`;
    const missing = await issue(a.owner, { recipient: { email: "new.person@example.test" }, fieldValues: {} });
    expect(missing).toMatchObject({ __typename: "ValidationError", fieldErrors: [{ path: ["input", "fieldValues", "course"] }] });
    const unknown = await issue(a.owner, { recipient: { email: "new.person@example.test" }, fieldValues: { course: "x", grade: "A" } });
    expect(unknown.__typename).toBe("ValidationError");
    const invalidEmail = await app.post(
      { query: "mutation($i: IssueCredentialInput!) { issueCredential(input: $i) { __typename } }", variables: { i: { templateId, recipient: { email: "not-an-email" } } } },
      { authorization: `Bearer ${a.token}` },
    );
    expect(invalidEmail.json.errors[0].extensions.code).toBe("BAD_USER_INPUT");
    const after = await app.db.admin`select (select count(*) from credentials)::int as c, (select count(*) from recipients)::int as r`;
    expect(after).toEqual(before);
  });

  it("finds recipients again by email, case-insensitively, and lists them by search", async () => {
    await issued(a.owner, { recipient: { email: "ADA.lovelace@example.TEST" } });
    await issued(a.owner, { recipient: { email: "noel@example.test", name: "Augusta Ada King-Noël" } });
    const found = async (search: string) => (await a.owner.request(RecipientsDocument, { first: 10, search })).tenant.recipients!.edges.map((e) => e.node.email);
    // Sealed at rest, found through blind indexes: the whole address in any case, or whole words of the name.
    expect(await found(" Ada.Lovelace@Example.test ")).toEqual(["ada.lovelace@example.test"]);
    expect(await found("LOVELACE")).toEqual(["ada.lovelace@example.test"]);
    expect(await found("noël king")).toEqual(["noel@example.test"]);
    expect((await found("ada")).sort()).toEqual(["ada.lovelace@example.test", "noel@example.test"]);
    // Fragments match nothing: the database holds no text to match them against.
    expect(await found("ada.love")).toEqual([]);
    expect(await found("augusta babbage")).toEqual([]);
  });

  it("keeps each credential on the template version it was issued from", async () => {
    const first = await issued(a.owner, { recipient: { email: "v1@example.test" } });
    const updated = await a.owner.request(UpdateTemplateDocument, { id: templateId, content: { ...content, name: "Data Stewardship II" } });
    expect(updated.updateTemplate).toMatchObject({ __typename: "Template", currentVersion: 2 });
    const second = await issued(a.owner, { recipient: { email: "v2@example.test" } });
    expect(first.templateVersion).toEqual({ version: 1, name: "Data Stewardship" });
    expect(second.templateVersion).toEqual({ version: 2, name: "Data Stewardship II" });
    expect((second.verifiableCredential as any).credentialSubject.achievement.id).toMatch(/\/v2$/);
  });
});

describe("status: revoke, suspend, expire", () => {
  it("revoking sets the bit in the signed, published status list, and verify reports revoked", async () => {
    const credential = await issued(a.owner, { recipient: { email: "revoke-me@example.test" } });
    expect((await verify(credential.verifiableCredential)).verified).toBe(true);
    const res = await a.owner.request(RevokeCredentialDocument, { id: credential.id, input: { reason: "Issued in error", notifyRecipient: true } });
    expect(res.revokeCredential).toMatchObject({ __typename: "Credential", status: "REVOKED", revocationReason: "Issued in error" });
    const report = await verify(credential.verifiableCredential);
    expect(report).toMatchObject({ verified: false, proof: { ok: true }, status: { ok: false, state: "revoked" } });

    const entry = (credential.verifiableCredential as any).credentialStatus;
    const path = new URL(entry.statusListCredential).pathname;
    const list = (await getPublic(path)).json;
    expect(list.type).toContain("BitstringStatusListCredential");
    expect(isSet(list.credentialSubject.encodedList, Number(entry.statusListIndex))).toBe(true);
    expect(await verifyProof(list, strangerLoader())).toEqual({ verified: true, errors: [] });
    const again = await a.owner.request(RevokeCredentialDocument, { id: credential.id, input: { reason: "twice" } });
    expect(again.revokeCredential.__typename).toBe("CredentialStateError");
  });

  it("suspending and unsuspending show in verification", async () => {
    const credential = await issued(a.owner, { recipient: { email: "suspend-me@example.test" } });
    expect((await a.owner.request(SuspendCredentialDocument, { id: credential.id })).suspendCredential).toMatchObject({ status: "SUSPENDED" });
    expect((await verify(credential.verifiableCredential)).status.state).toBe("suspended");
    expect((await a.owner.request(UnsuspendCredentialDocument, { id: credential.id })).unsuspendCredential).toMatchObject({ status: "ACTIVE" });
    expect((await verify(credential.verifiableCredential)).status.state).toBe("active");
  });

  it("an expired credential verifies its proof but reports expired", async () => {
    const credential = await issued(a.owner, {
      recipient: { email: "old@example.test" },
      issuedAt: "2020-01-01T00:00:00Z",
      validUntil: "2021-01-01T00:00:00Z",
    });
    expect(credential.expired).toBe(true);
    const report = await verify(credential.verifiableCredential);
    expect(report).toMatchObject({ verified: false, proof: { ok: true }, validity: { ok: false, expired: true } });
  });

  it("a tampered credential fails its proof", async () => {
    const credential = await issued(a.owner, { recipient: { email: "tamper@example.test" } });
    const forged = structuredClone(credential.verifiableCredential) as any;
    forged.credentialSubject.achievement.name = "Nobel Prize";
    const report = await verify(forged);
    expect(report).toMatchObject({ verified: false, proof: { ok: false } });
  });

  it("a credential from an issuer we cannot resolve offline is reported as such", async () => {
    const vector = JSON.parse(await readFile(new URL("./fixtures/1edtech-ob3-eddsa-rdfc-2022.json", import.meta.url), "utf8"));
    const report = await verify(vector);
    expect(report.verified).toBe(false);
    expect(report.proof.message).toMatch(/cannot resolve https:\/\/example\.edu\/issuers\/565049/);
  });
});

describe("signing keys", () => {
  it("rotate: old and new credentials both verify, and the DID document lists both keys", async () => {
    const before = await issued(a.owner, { recipient: { email: "before-rotation@example.test" } });
    const rotated = await a.owner.request(RotateSigningKeyDocument);
    const after = await issued(a.owner, { recipient: { email: "after-rotation@example.test" } });
    expect((after.verifiableCredential as any).proof[0].verificationMethod).toBe(rotated.rotateSigningKey.verificationMethod);
    expect((before.verifiableCredential as any).proof[0].verificationMethod).not.toBe(rotated.rotateSigningKey.verificationMethod);
    expect((await verify(before.verifiableCredential)).verified).toBe(true);
    expect((await verify(after.verifiableCredential)).verified).toBe(true);
    const issuer = await a.owner.request(IssuerDocument);
    expect(issuer.tenant.issuer!.signingKeys.map((k) => [k.keyNumber, Boolean(k.retiredAt)])).toEqual([
      [2, false],
      [1, true],
    ]);
  });

  it("are sealed at rest: the database never holds a secret key in the clear", async () => {
    const rows = await app.db.admin`select sealed_secret_key, public_key_multibase, kek_version from signing_keys`;
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      expect(row.kek_version).toBe(1);
      expect(Buffer.from(row.sealed_secret_key).toString("latin1")).not.toMatch(/z[1-9A-HJ-NP-Za-km-z]{40,}/);
    }
  });

  it("publish the issuer profile as an OB 3.0 Profile", async () => {
    await a.owner.request(UpdateIssuerProfileDocument, { input: { name: "Alpha Academy Credentials", url: "https://alpha.example", description: "We teach." } });
    const profile = (await getPublic(`/issuers/${a.tenantId}`)).json;
    expect(profile).toMatchObject({ type: ["Profile"], name: "Alpha Academy Credentials", url: "https://alpha.example" });
    expect(profile.id).toMatch(/^did:web:/);
  });
});

describe("tenant isolation for issuance", () => {
  it("tenant B cannot see, revoke, or issue from tenant A's credentials, templates and recipients", async () => {
    const credential = await issued(a.owner, { recipient: { email: "private@alpha.test" } });
    expect((await b.owner.request(NodeDocument, { id: credential.id })).node).toBeNull();
    expect((await b.owner.request(NodeDocument, { id: templateId })).node).toBeNull();
    const revoke = await b.owner.request(RevokeCredentialDocument, { id: credential.id, input: { reason: "hostile" } });
    expect(revoke.revokeCredential.__typename).toBe("NotFoundError");
    const reissue = await b.owner.request(IssueCredentialDocument, { input: { templateId, recipient: { email: "x@beta.test" } } });
    expect(reissue.issueCredential.__typename).toBe("NotFoundError");
    const theirs = await b.owner.request(RecipientsDocument, { first: 100 });
    expect(theirs.tenant.recipients!.totalCount).toBe(0);
    const creds = await b.owner.request(CredentialsDocument, { first: 100 });
    expect(creds.tenant.credentials!.totalCount).toBe(0);
    const [row] = await app.db.admin`select status from credentials where id = ${credential.publicUrl.split("/").pop()!}`;
    expect(row!.status).toBe("ACTIVE");
  });

  it("public endpoints serve a credential only under its own issuer, and never a recipient's email", async () => {
    const credential = await issued(a.owner, { recipient: { email: "secret.person@alpha.test", name: "Secret Person" } });
    const id = credential.publicUrl.split("/").pop()!;
    const own = await getPublic(`/issuers/${a.tenantId}/credentials/${id}`);
    expect(own.status).toBe(200);
    expect(Object.keys(own.json)[0]).toBe("@context"); // served as signed, not re-ordered by storage
    expect(own.json).toEqual(credential.verifiableCredential);
    expect(JSON.stringify(own.json)).not.toContain("secret.person@alpha.test");
    expect((await getPublic(`/issuers/${b.tenantId}/credentials/${id}`)).status).toBe(404);
    const did = (await getPublic(`/issuers/${a.tenantId}/did.json`)).json;
    expect(JSON.stringify(did)).not.toMatch(/secret|sealed/i);
  });

  it("an analyst can neither list credentials (their links name the holder) nor see who holds them", async () => {
    const analytics = await createKey(app, a.owner, ["analytics"]);
    const list = await app.post({ query: "{ tenant { credentials(first: 5) { totalCount } } }" }, { authorization: `Bearer ${analytics.secret}` });
    expect(list.json.errors[0].extensions.code).toBe("FORBIDDEN");
    const raw = await app.post(
      { query: "{ tenant { credentials(first: 1) { edges { node { recipient { email } } } } } }" },
      { authorization: `Bearer ${analytics.secret}` },
    );
    expect(raw.json.errors[0].extensions.code).toBe("FORBIDDEN");
  });
});

describe("with a pool of one connection (the embedded database's)", () => {
  it("issues concurrently without deadlocking on connections", async () => {
    const small = await startTestApp({ poolSize: 1 });
    try {
      const owner = await signUpTenant(small, "Tiny Pool Org");
      const created = await owner.owner.request(CreateTemplateDocument, { kind: "BADGE", content: { name: "Tiny", description: "d", criteriaNarrative: "c" } });
      if (created.createTemplate.__typename !== "Template") throw new Error("template");
      const tinyTemplate = created.createTemplate.id;
      await owner.owner.request(ActivateTemplateDocument, { id: tinyTemplate });
      const results = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          owner.owner.request(IssueCredentialDocument, { input: { templateId: tinyTemplate, recipient: { email: `tiny${i}@example.test` } } }),
        ),
      );
      expect(results.map((r) => r.issueCredential.__typename)).toEqual(Array(6).fill("Credential"));
    } finally {
      await small.close();
    }
  }, 60_000);
});
