// A person's export (GDPR Art. 15 / 20) end to end: staff carry out an access request through the SDK,
// the real worker builds the ZIP, and the signed link serves it: person.json valid against the schema
// in schema/, the same as CSV, each credential byte for byte as published, nothing of anyone else;
// forged, moved or expired links are refused, every fetch is audited, and the tenant wall holds.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import { parse as parseCsv } from "csv-parse/sync";
import { unzip } from "../helpers/zip.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ActivateTemplateDocument,
  CarryOutDataSubjectRequestDocument,
  CreateTemplateDocument,
  DataSubjectRequestDocument,
  FileDataSubjectRequestDocument,
  IssueCredentialDocument,
  type FileDataSubjectRequestInput,
} from "../../src/sdk/generated.js";
import { LaurelRequestError, type LaurelClient } from "../../src/sdk/index.js";
import type { QueueWorker } from "../../src/modules/jobs/worker.js";
import { signedExportUrl } from "../../src/modules/privacy/export-link.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { createKey, signUpTenant, type TestTenant } from "../helpers/factories.js";
import { startFakeResend, type FakeResend } from "../helpers/fake-resend.js";
import { deliveryConfig, startTestWorker, waitFor } from "../helpers/worker.js";
import { openedMessages } from "../helpers/sealed.js";

const tag = randomBytes(3).toString("hex");
const PERSON = { email: `ines.okafor.${tag}@example.test`, name: "Inès Okafor-Lindqvist" };
const NEIGHBOUR = { email: `rafe.neighbour.${tag}@example.test`, name: "Rafe Neighbourly" };
const ELSEWHERE = { email: PERSON.email, name: "Inès at Another College" }; // same address, another tenant

let fake: FakeResend;
let app: TestApp;
let worker: QueueWorker;
let a: TestTenant;
let b: TestTenant;
beforeAll(async () => {
  fake = await startFakeResend();
  app = await startTestApp(deliveryConfig({ resendUrl: fake.url }));
  worker = await startTestWorker(app);
  a = await signUpTenant(app, "Export College");
  b = await signUpTenant(app, "Another College");
});
afterAll(async () => {
  await worker?.stop();
  await app?.close();
  await fake?.close();
});

const local = (url: string) => url.replace(/^https?:\/\/[^/]+/, app.server.url);
/** The UUID inside a global id ("Credential:<uuid>", base64): what files and rows are named by. */
const uuidOf = (globalId: string) => Buffer.from(globalId, "base64").toString("utf8").split(":")[1]!;

async function issue(client: LaurelClient, recipient: { email: string; name: string }) {
  const { createTemplate } = await client.request(CreateTemplateDocument, { kind: "BADGE", content: { name: `Navigation ${randomBytes(2).toString("hex")}`, description: "Sailed.", criteriaNarrative: "Sailed." } });
  if (createTemplate.__typename !== "Template") throw new Error("template");
  await client.request(ActivateTemplateDocument, { id: createTemplate.id });
  const { issueCredential } = await client.request(IssueCredentialDocument, { input: { templateId: createTemplate.id, recipient } });
  if (issueCredential.__typename !== "Credential") throw new Error(JSON.stringify(issueCredential));
  return issueCredential as unknown as { id: string; verifiableCredential: { id: string } };
}

async function file(client: LaurelClient, input: FileDataSubjectRequestInput) {
  const { fileDataSubjectRequest } = await client.request(FileDataSubjectRequestDocument, { input });
  if (fileDataSubjectRequest.__typename !== "DataSubjectRequest") throw new Error(JSON.stringify(fileDataSubjectRequest));
  return fileDataSubjectRequest;
}

async function errorCode(promise: Promise<unknown>): Promise<string | undefined> {
  const error = await promise.then(() => null, (e: unknown) => e);
  expect(error, "expected a request error").toBeInstanceOf(LaurelRequestError);
  return (error as LaurelRequestError).code;
}

describe("exporting a person's data", () => {
  let mine: { id: string; verifiableCredential: { id: string } };
  let theirs: { id: string };
  let elsewhere: { id: string };
  let requestId: string;
  let link: { url: string; expiresAt: string };
  let files: Map<string, Buffer>;

  beforeAll(async () => {
    mine = await issue(a.owner, PERSON);
    theirs = await issue(a.owner, NEIGHBOUR);
    elsewhere = await issue(b.owner, ELSEWHERE);
    // Both tenants email the same address; only this tenant's email is theirs to export.
    await waitFor(async () => fake.sent.filter((m) => m.to.includes(PERSON.email)).length >= 2, "the emails");
    requestId = (await file(a.owner, { kind: "access", email: PERSON.email, identityVerification: { method: "document_checked" } })).id;
  }, 30_000);

  it("is refused to roles without privacy:manage and invisible to another tenant", async () => {
    for (const scopes of [["issue"], ["analytics"], ["read"]] as const) {
      const key = await createKey(app, a.owner, [...scopes]);
      expect(await errorCode(key.client.request(CarryOutDataSubjectRequestDocument, { id: requestId }))).toBe("FORBIDDEN");
      expect(await errorCode(key.client.request(DataSubjectRequestDocument, { id: requestId }))).toBe("FORBIDDEN");
    }
    const { carryOutDataSubjectRequest } = await b.owner.request(CarryOutDataSubjectRequestDocument, { id: requestId });
    expect(carryOutDataSubjectRequest).toMatchObject({ __typename: "NotFoundError" });
    expect((await b.owner.request(DataSubjectRequestDocument, { id: requestId })).node).toBeNull();
  });

  it("is built by the worker, completes the request and hands out a signed, expiring link", async () => {
    const { carryOutDataSubjectRequest: started } = await a.owner.request(CarryOutDataSubjectRequestDocument, { id: requestId });
    expect(started).toMatchObject({ __typename: "DataSubjectRequest", state: "in_progress", export: null });
    const done = await waitFor(async () => {
      const { node } = await a.owner.request(DataSubjectRequestDocument, { id: requestId });
      return node?.__typename === "DataSubjectRequest" && node.state === "completed" ? node : null;
    }, "the export to complete");
    expect(done.outcome).toMatch(/^Exported: 1 credential\(s\), 1 email\(s\)/);
    link = done.export!;
    expect(new Date(link.expiresAt).getTime()).toBeGreaterThan(Date.now() + 6 * 86_400_000);
    const response = await fetch(local(link.url));
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/zip");
    files = await unzip(Buffer.from(await response.arrayBuffer()));
  }, 30_000);

  it("is emailed to the person at the address on record, the same link, which the outbox then forgets", async () => {
    const mail = await waitFor(async () => fake.sent.find((m) => m.to.includes(PERSON.email) && m.tags.some((t) => t.value === "person_export_ready")), "the export email");
    expect(mail.text).toContain(link.url);
    expect(fake.sent.some((m) => m.to.includes(NEIGHBOUR.email) && m.tags.some((t) => t.value === "person_export_ready"))).toBe(false);
    const sig = new URL(link.url).searchParams.get("sig")!;
    const rows = await waitFor(async () => {
      const r = (await openedMessages(app, { kind: "person_export_ready" })).map((m) => ({ status: m.status, payload: m.payload, content: m.content }));
      return r.length && r[0]!.status === "sent" ? r : null;
    }, "the message marked sent");
    expect(JSON.stringify(rows)).not.toContain(sig);
  });

  it("holds person.json, one CSV per section, each credential and a README", () => {
    expect([...files.keys()].sort()).toEqual([
      "README.txt",
      `credentials/${uuidOf(mine.id)}.json`,
      "csv/audit-entries.csv",
      "csv/credential-documents.csv",
      "csv/credential-status-history.csv",
      "csv/credentials.csv",
      "csv/data-subject-requests.csv",
      "csv/emails.csv",
      "csv/engagement-events.csv",
      "csv/guardian-consents.csv",
      "csv/privacy-history.csv",
      "csv/recipient.csv",
      "csv/rectifications.csv",
      "person-export.schema.json",
      "person.json",
    ]);
    expect(files.get("README.txt")!.toString()).toMatch(/Format version: 1\.2/);
    // The schema travels with the data, and the README says what Art. 15(1) asks besides the data itself.
    expect(files.get("person-export.schema.json")!.toString()).toBe(readFileSync(new URL("../../schema/person-export.schema.json", import.meta.url), "utf8"));
    const readme = files.get("README.txt")!.toString();
    for (const heading of ["About this processing (GDPR Art. 15(1))", "Purposes", "Recipients", "How long", "Your rights", "Complaints", "Source", "Automated decisions"]) {
      expect(readme, heading).toContain(heading);
    }
    expect(files.get("csv/recipient.csv")!.toString()).toContain(PERSON.email);
    expect(files.get("csv/credentials.csv")!.toString()).toContain(uuidOf(mine.id));
  });

  it("writes each CSV in UTF-8 with a byte-order mark, so that spreadsheets read the name right, and it still parses", () => {
    const csvs = [...files.keys()].filter((path) => path.endsWith(".csv"));
    expect(csvs).toHaveLength(11);
    for (const path of csvs) {
      const bytes = files.get(path)!;
      expect([...bytes.subarray(0, 3)], path).toEqual([0xef, 0xbb, 0xbf]);
      expect(bytes[3], `${path}: exactly one mark`).not.toBe(0xef);
    }
    const rows = parseCsv(files.get("csv/recipient.csv")!, { bom: true, columns: true }) as Record<string, string>[];
    expect(rows).toHaveLength(1);
    expect(Object.keys(rows[0]!)[0]).toBe("id");
    expect(rows[0]).toMatchObject({ email: PERSON.email, name: PERSON.name });
    const credentials = parseCsv(files.get("csv/credentials.csv")!, { bom: true, columns: true }) as Record<string, string>[];
    expect(credentials.map((c) => c.id)).toEqual([uuidOf(mine.id)]);
    expect(files.get("README.txt")!.toString()).toMatch(/UTF-8 with a byte-order mark/);
  });

  it("writes a person.json that validates against schema/person-export.schema.json", () => {
    const ajv = new Ajv2020({ allErrors: true, strict: true });
    (addFormatsModule as unknown as (a: Ajv2020) => void)(ajv);
    const validate = ajv.compile(JSON.parse(readFileSync(new URL("../../schema/person-export.schema.json", import.meta.url), "utf8")));
    const person = JSON.parse(files.get("person.json")!.toString());
    expect(validate(person), JSON.stringify(validate.errors)).toBe(true);
    expect(person.recipient).toMatchObject(PERSON);
    expect(person.emails.every((e: { to: string }) => e.to === PERSON.email)).toBe(true);
    expect(person.dataSubjectRequests.map((r: { id: string }) => r.id)).toContain(uuidOf(requestId));
  });

  it("carries each credential exactly as its public URL serves it", async () => {
    const published = await (await fetch(local(mine.verifiableCredential.id), { headers: { accept: "application/json" } })).text();
    expect(files.get(`credentials/${uuidOf(mine.id)}.json`)!.toString()).toBe(published);
    const person = JSON.parse(files.get("person.json")!.toString());
    expect(person.credentials[0].document).toEqual(JSON.parse(published));
  });

  it("holds nothing of another recipient or another tenant", () => {
    const everything = [...files.values()].map((f) => f.toString()).join("\n");
    for (const needle of [NEIGHBOUR.email, NEIGHBOUR.name, uuidOf(theirs.id), ELSEWHERE.name, uuidOf(elsewhere.id), b.tenantId]) {
      expect(everything, needle).not.toContain(needle);
    }
  });

  it("refuses forged, moved and expired links, and audits each fetch", async () => {
    const url = new URL(local(link.url));
    const forged = new URL(url);
    forged.searchParams.set("sig", Buffer.alloc(32, 7).toString("base64url"));
    expect((await fetch(forged)).status).toBe(403);
    const extended = new URL(url);
    extended.searchParams.set("expires", String(Number(url.searchParams.get("expires")) + 86_400));
    expect((await fetch(extended)).status).toBe(403);
    const moved = new URL(url.toString().replace(a.tenantId, b.tenantId));
    expect((await fetch(moved)).status).toBe(403);
    const exportId = /\/([0-9a-f-]{36})\.zip/.exec(url.pathname)![1]!;
    const expired = signedExportUrl(app.config, a.tenantId, exportId, new Date(Date.now() - 1000));
    expect((await fetch(local(expired))).status).toBe(410);
    const audit = await app.db.admin<{ action: string }[]>`
      select action from audit_log where tenant_id = ${a.tenantId} and target_id = ${uuidOf(requestId)} and action like 'person_export.%' order by at`;
    expect(audit.map((r) => r.action)).toEqual(["person_export.downloaded", "person_export.refused_expired"]);
  });

  it("is deleted with the person when they are erased, and refused for someone erased", async () => {
    const erasure = await file(a.owner, { kind: "erasure", email: PERSON.email, identityVerification: { method: "document_checked" } });
    await a.owner.request(CarryOutDataSubjectRequestDocument, { id: erasure.id });
    await waitFor(async () => {
      const { node } = await a.owner.request(DataSubjectRequestDocument, { id: erasure.id });
      return node?.__typename === "DataSubjectRequest" && node.state === "completed";
    }, "the erasure to complete");
    expect((await fetch(local(link.url))).status).toBe(404);
    expect(await app.db.admin`select id from person_exports where tenant_id = ${a.tenantId}`).toEqual([]);
    // Nothing of theirs is left to export: a new request is refused as it is filed.
    const { fileDataSubjectRequest: again } = await a.owner.request(FileDataSubjectRequestDocument, {
      input: { kind: "portability", recipientId: erasure.recipient!.id, identityVerification: { method: "document_checked" } },
    });
    expect(again).toMatchObject({ __typename: "AlreadyErasedError" });
  }, 30_000);
});
