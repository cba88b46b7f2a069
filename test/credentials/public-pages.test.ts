// The public pages as a person meets them, in headless Chromium (Debian's chromium, driven by
// playwright-core): view a credential, verify it, follow its share links, revoke it and see it change,
// and verify a pasted credential on the verify page.
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ActivateTemplateDocument, CreateTemplateDocument, IssueCredentialDocument, RevokeCredentialDocument } from "../../src/sdk/generated.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { signUpTenant, type TestTenant } from "../helpers/factories.js";

let app: TestApp;
let a: TestTenant;
let browser: Browser;
let templateId: string;

beforeAll(async () => {
  app = await startTestApp();
  a = await signUpTenant(app, "Pages University");
  const created = await a.owner.request(CreateTemplateDocument, {
    kind: "BADGE",
    content: { name: "Safe <Script> Handling", description: "Handles <script> safely.", credentialDescription: "Awarded to {{recipientName}}.", criteriaNarrative: "Write safe HTML." },
  });
  if (created.createTemplate.__typename !== "Template") throw new Error("template");
  templateId = created.createTemplate.id;
  await a.owner.request(ActivateTemplateDocument, { id: templateId });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await app.close();
});

async function issue(email: string) {
  const res = await a.owner.request(IssueCredentialDocument, { input: { templateId, recipient: { email, name: "Page Person" } } });
  if (res.issueCredential.__typename !== "Credential") throw new Error("issue");
  return { ...res.issueCredential, pageUrl: res.issueCredential.publicUrl.replace(app.config.publicUrl, app.server.url) };
}

describe("the credential page", () => {
  it("shows the credential, verifies it in the browser, and offers working share links", async () => {
    const credential = await issue("page.person@example.test");
    const context = await browser.newContext();
    const tab = await context.newPage();
    const errors: string[] = [];
    tab.on("pageerror", (e) => errors.push(e.message));
    const response = await tab.goto(credential.pageUrl);
    expect(response!.headers()["content-security-policy"]).toContain("script-src 'nonce-");
    expect(await tab.getByTestId("name").textContent()).toBe("Safe <Script> Handling");
    expect(await tab.getByTestId("issuer").textContent()).toContain("Pages University");
    expect(await tab.getByTestId("status").textContent()).toBe("Valid");
    expect(await tab.content()).not.toContain("page.person@example.test");

    await tab.click("#verify");
    await tab.waitForSelector("[data-verified]");
    expect(await tab.getAttribute("[data-verified]", "data-verified")).toBe("true");
    expect(await tab.getByTestId("verify-result").textContent()).toContain("Proof: The signature is valid");

    // Share links go through our share endpoint (counted there), which redirects to the network.
    const followShare = async (selector: string) => {
      const href = new URL((await tab.getAttribute(selector, "href"))!, tab.url()).toString();
      return (await fetch(href, { redirect: "manual" })).headers.get("location")!;
    };
    const linkedIn = new URL(await followShare("#share-linkedin"));
    expect(linkedIn.origin + linkedIn.pathname).toBe("https://www.linkedin.com/profile/add");
    expect(linkedIn.searchParams.get("startTask")).toBe("CERTIFICATION_NAME");
    expect(linkedIn.searchParams.get("name")).toBe("Safe <Script> Handling");
    expect(linkedIn.searchParams.get("organizationName")).toBe("Pages University");
    expect(linkedIn.searchParams.get("certUrl")).toBe(credential.publicUrl);
    expect(linkedIn.searchParams.get("certId")).toBe(credential.publicUrl.split("/").pop());
    expect(linkedIn.searchParams.get("issueYear")).toBe(String(new Date().getUTCFullYear()));
    expect(await followShare("#share-x")).toContain(`url=${encodeURIComponent(credential.publicUrl)}`);
    expect(await followShare("#share-facebook")).toContain(`u=${encodeURIComponent(credential.publicUrl)}`);

    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: app.server.url });
    await tab.click("#copy-link");
    await tab.waitForFunction(() => document.getElementById("copy-link")!.textContent === "Link copied");
    expect(await tab.evaluate(() => navigator.clipboard.readText())).toBe(credential.publicUrl);

    const download = await Promise.all([tab.waitForEvent("download"), tab.click("#download-json")]).then(([d]) => d);
    const path = await download.path();
    const json = JSON.parse(await (await import("node:fs/promises")).readFile(path!, "utf8"));
    expect(json.id).toBe(credential.publicUrl);
    expect(errors).toEqual([]);
    await context.close();
  });

  it("shows Revoked once revoked, and the browser's verification says so", async () => {
    const credential = await issue("revoked.person@example.test");
    await a.owner.request(RevokeCredentialDocument, { id: credential.id, input: { reason: "Withdrawn" } });
    const tab = await browser.newPage();
    await tab.goto(credential.pageUrl);
    expect(await tab.getByTestId("status").textContent()).toBe("Revoked");
    await tab.click("#verify");
    await tab.waitForSelector("[data-verified]");
    expect(await tab.getAttribute("[data-verified]", "data-verified")).toBe("false");
    expect(await tab.getByTestId("verify-result").textContent()).toContain("revoked");
    await tab.close();
  });
});

describe("the verify page", () => {
  it("verifies a pasted credential and refuses a tampered one", async () => {
    const credential = await issue("pasted@example.test");
    const tab = await browser.newPage();
    await tab.goto(`${app.server.url}/verify`);
    await tab.fill("#input", JSON.stringify(credential.verifiableCredential));
    await tab.click("button[type=submit]");
    await tab.waitForSelector("[data-verified]");
    expect(await tab.getAttribute("[data-verified]", "data-verified")).toBe("true");

    const forged = structuredClone(credential.verifiableCredential) as any;
    forged.name = "Forged";
    await tab.fill("#input", JSON.stringify(forged));
    await tab.click("button[type=submit]");
    await tab.waitForFunction(() => document.querySelector("[data-verified]")?.getAttribute("data-verified") === "false");
    expect(await tab.getByTestId("verify-result").textContent()).toContain("Proof:");
    await tab.close();
  });
});
