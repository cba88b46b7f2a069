// Laurel's promise for children under 13: never shared or retargeted. A child's credential email carries
// no LinkedIn "add to profile" link, and its public page no LinkedIn, X or Facebook buttons and no Open
// Graph share tags, while verifying and downloading it keep working; an adult's keep them all.
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CreateRecipientDocument,
  IssueCredentialDocument,
  RequestGuardianConsentDocument,
  UpdateRecipientPrivacyDocument,
} from "../../src/sdk/generated.js";
import { withTenantTransaction } from "../../src/db/tenant-transaction.js";
import { giveGuardianConsent } from "../../src/modules/privacy/guardian.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { launchBrowser, shot } from "../helpers/browser.js";
import { activeBadge, signUpTenant, type TestTenant } from "../helpers/factories.js";
import { openedMessages } from "../helpers/sealed.js";

let app: TestApp;
let t: TestTenant;
let templateId: string;
let browser: Browser;
beforeAll(async () => {
  app = await startTestApp();
  t = await signUpTenant(app, "Little Swimmers Club");
  templateId = await activeBadge(t.owner, { name: "First Length", description: "Swam a length.", criteriaNarrative: "25 m." });
  browser = await launchBrowser();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await app?.close();
});

const rawId = (globalId: string) => Buffer.from(globalId, "base64").toString("utf8").split(":")[1]!;
const yearsAgo = (n: number) => `${new Date().getUTCFullYear() - n}-06-15`;

/** A credential for an adult, or for a child of eight whose guardian has consented. */
async function issue(email: string, child: boolean) {
  const { createRecipient } = await t.owner.request(CreateRecipientDocument, { input: { email, name: child ? "Mia Small" : "Maya Grown" } });
  if (createRecipient.__typename !== "Recipient") throw new Error(JSON.stringify(createRecipient));
  if (child) {
    await t.owner.request(UpdateRecipientPrivacyDocument, { id: createRecipient.id, input: { birthDate: yearsAgo(8) } });
    const { requestGuardianConsent } = await t.owner.request(RequestGuardianConsentDocument, {
      input: { recipientId: createRecipient.id, guardianEmail: `parent.${email}`, guardianName: "Pat Small" },
    });
    if (requestGuardianConsent.__typename !== "GuardianConsent") throw new Error(JSON.stringify(requestGuardianConsent));
    const caller = { tenantId: t.tenantId, actor: { kind: "user" as const, id: t.userId }, permissions: new Set<never>(), requestId: null };
    await withTenantTransaction(app.database, { dbRole: app.config.roles.member, tenantId: t.tenantId, userId: t.userId }, (db) =>
      giveGuardianConsent(db, caller, rawId(requestGuardianConsent.id), { wording: requestGuardianConsent.wording, via: "email_link" }));
  }
  const { issueCredential } = await t.owner.request(IssueCredentialDocument, { input: { templateId, recipientId: createRecipient.id } });
  if (issueCredential.__typename !== "Credential") throw new Error(JSON.stringify(issueCredential));
  const id = rawId(issueCredential.id);
  return { id, page: `${app.server.url}/issuers/${t.tenantId}/credentials/${id}` };
}

/** The credential email as queued: its content is fixed at enqueue. */
async function credentialEmail(credentialId: string) {
  // The content is sealed under the tenant's keys (sql/047): opened as the worker would.
  const [message] = (await openedMessages(app, { kind: "credential_issued" })).filter((m) => m.credentialId === credentialId);
  expect(message?.content ?? undefined, "the credential email and its fixed content").toBeDefined();
  return { html: message!.content!.html, text: message!.content!.text };
}

const SOCIAL = ["#share-linkedin", "#share-linkedin-post", "#share-x", "#share-facebook"];

describe("a child's credential", () => {
  it("is emailed without a LinkedIn link, and an adult's with one", async () => {
    const child = await issue("mia.small@example.test", true);
    const adult = await issue("maya.grown@example.test", false);
    const childEmail = await credentialEmail(child.id);
    expect(childEmail.html).not.toMatch(/linkedin/i);
    expect(childEmail.text).not.toMatch(/linkedin/i);
    expect(childEmail.text).toContain(child.page.replace(app.server.url, app.config.publicUrl)); // still its view link
    const adultEmail = await credentialEmail(adult.id);
    expect(adultEmail.html).toContain("Add it to your LinkedIn profile");
    expect(adultEmail.text).toContain("https://www.linkedin.com/profile/add?");
  });

  it("has a page without social share buttons or share tags, that still verifies", async () => {
    const child = await issue("leo.small@example.test", true);
    const adult = await issue("leona.grown@example.test", false);
    const tab = await browser.newPage();
    await tab.goto(child.page);
    for (const button of SOCIAL) expect(await tab.locator(button).count(), button).toBe(0);
    expect(await tab.locator('meta[property^="og:"], meta[name^="twitter:"]').count()).toBe(0);
    for (const kept of ["#verify", "#download-json", "#download-pdf", "#your-data"]) expect(await tab.locator(kept).count(), kept).toBe(1);
    await tab.click("#verify");
    await tab.waitForSelector("[data-verified]");
    expect(await tab.getAttribute("[data-verified]", "data-verified")).toBe("true");
    await shot(tab, "credential-child");

    await tab.goto(adult.page);
    for (const button of SOCIAL) expect(await tab.locator(button).count(), button).toBe(1);
    await shot(tab, "credential-adult");
    await tab.close();
  });

  it("is never redirected to a social network by the share endpoint", async () => {
    const child = await issue("ada.small@example.test", true);
    for (const network of ["linkedin-add", "linkedin", "x", "facebook"]) {
      const res = await fetch(`${child.page}/share/${network}`, { redirect: "manual" });
      expect(res.status, network).toBe(404);
    }
    // Sharing it by hand stays the holder's business: copying the link or sending it by email.
    expect((await fetch(`${child.page}/share/email`, { redirect: "manual" })).status).toBe(302);
    expect((await fetch(`${child.page}/share/copy`, { redirect: "manual" })).status).toBe(302);
  });
});
