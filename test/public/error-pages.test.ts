// What a refusal looks like on every public route: a browser (Accept: text/html) gets a short page with the
// same status, saying what to do next; a program keeps JSON, always { "error": { "code", "message" } }.
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CarryOutDataSubjectRequestDocument,
  DataSubjectRequestDocument,
  FileDataSubjectRequestDocument,
  IssueCredentialDocument,
  type FileDataSubjectRequestInput,
} from "../../src/sdk/generated.js";
import { signedExportUrl } from "../../src/modules/privacy/export-link.js";
import { tenantExportLinks } from "../../src/modules/tenant-export/service.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { launchBrowser, shot } from "../helpers/browser.js";
import { activeBadge, signUpTenant, type TestTenant } from "../helpers/factories.js";
import { waitFor } from "../helpers/worker.js";

let app: TestApp;
let t: TestTenant;
let templateId: string;
let browser: Browser;
beforeAll(async () => {
  app = await startTestApp({}, { worker: {} });
  t = await signUpTenant(app, "Refusals University");
  templateId = await activeBadge(t.owner, { name: "Plain Speaking", description: "Spoke plainly.", criteriaNarrative: "Say it." });
  browser = await launchBrowser();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await app?.close();
});

const uuidOf = (globalId: string) => Buffer.from(globalId, "base64").toString("utf8").split(":")[1]!;
const local = (url: string) => url.replace(app.config.publicUrl, app.server.url);

async function issue(email: string) {
  const { issueCredential } = await t.owner.request(IssueCredentialDocument, { input: { templateId, recipient: { email, name: "Rue Fusal" } } });
  if (issueCredential.__typename !== "Credential") throw new Error(JSON.stringify(issueCredential));
  return { id: uuidOf(issueCredential.id), url: local(issueCredential.publicUrl) };
}

/** Files a request and carries it out, waiting for the worker to complete it. */
async function carryOut(input: FileDataSubjectRequestInput) {
  const { fileDataSubjectRequest } = await t.owner.request(FileDataSubjectRequestDocument, { input });
  if (fileDataSubjectRequest.__typename !== "DataSubjectRequest") throw new Error(JSON.stringify(fileDataSubjectRequest));
  await t.owner.request(CarryOutDataSubjectRequestDocument, { id: fileDataSubjectRequest.id });
  return waitFor(async () => {
    const { node } = await t.owner.request(DataSubjectRequestDocument, { id: fileDataSubjectRequest.id });
    return node?.__typename === "DataSubjectRequest" && node.state === "completed" ? node : null;
  }, `the ${input.kind} request to complete`);
}

/** The page a browser is shown: status, heading and text. */
async function inBrowser(url: string, name: string) {
  const tab = await browser.newPage();
  const response = await tab.goto(url);
  const page = { status: response!.status(), type: response!.headers()["content-type"], h1: await tab.textContent("h1"), text: await tab.textContent("main") };
  await shot(tab, name);
  await tab.close();
  return page;
}

async function asProgram(url: string, init: RequestInit = {}) {
  const res = await fetch(url, { ...init, headers: { accept: "application/json", ...init.headers } });
  return { status: res.status, json: (await res.json()) as { error: { code: string; message: string } } };
}

describe("refusals on the public routes", () => {
  it("an erased holder's credential: a page saying it was withdrawn, 410 in JSON too", async () => {
    const credential = await issue("rue.fusal@example.test");
    await carryOut({ kind: "erasure", email: "rue.fusal@example.test", identityVerification: { method: "document_checked" } });
    const page = await inBrowser(credential.url, "credential-erased");
    expect(page).toMatchObject({ status: 410, type: expect.stringContaining("text/html"), h1: "Credential withdrawn" });
    expect(page.text).toContain("withdrawn and its holder's personal data erased");
    expect(page.text).not.toContain("{");
    expect(await asProgram(credential.url)).toEqual({ status: 410, json: { error: { code: "GONE", message: expect.stringContaining("withdrawn") } } });
    expect((await asProgram(`${credential.url}/badge.png`)).json.error.code).toBe("GONE");
  });

  it("a person's export link: altered or expired, a page saying what to do; in JSON, LINK_INVALID and LINK_EXPIRED", async () => {
    await issue("exporta.person@example.test");
    const done = await carryOut({ kind: "access", email: "exporta.person@example.test", identityVerification: { method: "document_checked" } });
    const url = new URL(local(done.export!.url));
    const altered = new URL(url);
    altered.searchParams.set("sig", Buffer.alloc(32, 7).toString("base64url"));
    const invalid = await inBrowser(altered.toString(), "person-export-altered");
    expect(invalid).toMatchObject({ status: 403, h1: "This link is not valid" });
    expect(invalid.text).toContain("ask the organisation for a new export");
    expect(await asProgram(altered.toString())).toMatchObject({ status: 403, json: { error: { code: "LINK_INVALID" } } });

    const exportId = /\/([0-9a-f-]{36})\.zip/.exec(url.pathname)![1]!;
    const expired = local(signedExportUrl(app.config, t.tenantId, exportId, new Date(Date.now() - 1000)));
    const gone = await inBrowser(expired, "person-export-expired");
    expect(gone).toMatchObject({ status: 410, h1: "No longer available" });
    expect(gone.text).toContain("This link has expired: ask the organisation for a new export");
    expect(await asProgram(expired)).toMatchObject({ status: 410, json: { error: { code: "LINK_EXPIRED" } } });
  }, 30_000);

  it("a tenant export's link: altered or unknown, a page or JSON", async () => {
    const unknown = local(tenantExportLinks.sign(app.config, t.tenantId, "01890000-0000-7000-8000-000000000000", new Date(Date.now() + 60_000)));
    const altered = unknown.replace(/sig=([A-Za-z0-9_-])/, (_m, c: string) => `sig=${c === "A" ? "B" : "A"}`);
    expect(await inBrowser(altered, "tenant-export-altered")).toMatchObject({ status: 403, h1: "This link is not valid" });
    expect(await asProgram(altered)).toMatchObject({ status: 403, json: { error: { code: "LINK_INVALID", message: "This link is not valid" } } });
    expect(await inBrowser(unknown, "tenant-export-unknown")).toMatchObject({ status: 404, h1: "Not found" });
    expect(await asProgram(unknown)).toMatchObject({ status: 404, json: { error: { code: "NOT_FOUND" } } });
  });

  it("an address that is nothing, such as /privacy/ask/abc/def: 404 as a page or as JSON", async () => {
    for (const path of ["/privacy/ask/abc/def", "/no/such/page", `/issuers/${t.tenantId}/credentials/01890000-0000-7000-8000-000000000000`]) {
      const page = await inBrowser(`${app.server.url}${path}`, `not-found-${path.split("/")[1]}`);
      expect(page, path).toMatchObject({ status: 404, type: expect.stringContaining("text/html"), h1: "Not found" });
      expect(await asProgram(`${app.server.url}${path}`), path).toEqual({ status: 404, json: { error: { code: "NOT_FOUND", message: expect.any(String) } } });
    }
  });

  it("the verifier and the share links answer programs in the same shape", async () => {
    const notJson = await asProgram(`${app.server.url}/verify`, { method: "POST", headers: { "content-type": "application/json" }, body: "{nope" });
    expect(notJson).toEqual({ status: 400, json: { error: { code: "BAD_REQUEST", message: "The body must be a credential as JSON" } } });
    const wrongMethod = await asProgram(`${app.server.url}/issuers/${t.tenantId}`, { method: "DELETE" });
    expect(wrongMethod).toEqual({ status: 405, json: { error: { code: "METHOD_NOT_ALLOWED", message: "Use GET" } } });
    const share = await asProgram(`${app.server.url}/issuers/${t.tenantId}/credentials/01890000-0000-7000-8000-000000000000/share/x`);
    expect(share).toMatchObject({ status: 404, json: { error: { code: "NOT_FOUND" } } });
  });
});
