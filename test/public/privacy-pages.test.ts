// The self-service privacy pages as a person meets them, in a browser (public/privacy-routes.ts): one
// language per page (the holder's when French, else English), the organisation named, and a way back to
// the form (with what was typed) from every problem.
import { randomUUID } from "node:crypto";
import { randomBytes } from "node:crypto";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IssueCredentialDocument } from "../../src/sdk/generated.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { launchBrowser, shot, visibleText } from "../helpers/browser.js";
import { activeBadge, signUpTenant, type TestTenant } from "../helpers/factories.js";
import { openedMessages } from "../helpers/sealed.js";

const ORGANISATION = "Lycée Molière";
let app: TestApp;
let t: TestTenant;
let templateId: string;
let browser: Browser;
beforeAll(async () => {
  app = await startTestApp();
  t = await signUpTenant(app, ORGANISATION);
  templateId = await activeBadge(t.owner, { name: "Natation", description: "Nagé.", criteriaNarrative: "25 m." });
  browser = await launchBrowser();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await app?.close();
});

const uuidOf = (globalId: string) => Buffer.from(globalId, "base64").toString("utf8").split(":")[1]!;
const local = (url: string) => url.replace(app.config.publicUrl, app.server.url);

async function issue(locale: string) {
  const email = `holder.${randomBytes(4).toString("hex")}@example.test`;
  const { issueCredential } = await t.owner.request(IssueCredentialDocument, { input: { templateId, recipient: { email, name: "Camille Martin", locale } } });
  if (issueCredential.__typename !== "Credential") throw new Error(JSON.stringify(issueCredential));
  return { email, ask: `${app.server.url}/privacy/ask/${t.tenantId}/${uuidOf(issueCredential.id)}` };
}

/** The newest one-time link queued to `email` (no worker here: the outbox still holds it). */
async function queuedLink(email: string): Promise<string> {
  const row = (await openedMessages(app, { kind: "privacy_request_link", toEmail: email })).at(-1);
  expect(row, `a link to ${email}`).toBeDefined();
  return local(row!.payload.acceptUrl as string);
}

// Words that give a language away, whatever the page says.
const ENGLISH = /\b(the|your|you|this|link|request|will|organization)\b/i;
const FRENCH = /\b(vous|votre|vos|le lien|demande|données|l'organisation)\b/i;

async function speaks(tab: Page, language: "en" | "fr") {
  expect(await tab.getAttribute("html", "lang")).toBe(language);
  const text = (await visibleText(tab)).replaceAll(ORGANISATION, "");
  if (language === "fr") expect(text).not.toMatch(ENGLISH);
  else expect(text).not.toMatch(FRENCH);
}

const submit = (tab: Page, selector = "button[type=submit]") => Promise.all([tab.waitForNavigation(), tab.click(selector)]).then(([r]) => r!);

describe("a French holder", () => {
  it("reads every page in French, from the form to the confirmation, with the organisation named", async () => {
    const holder = await issue("fr-CA");
    const tab = await browser.newPage();
    await tab.goto(holder.ask);
    await speaks(tab, "fr");
    expect(await visibleText(tab)).toContain(`Choisissez ce que vous demandez à ${ORGANISATION}.`);
    await shot(tab, "privacy-ask-fr");

    // A correction asked without saying what is right: the form again, in French, the choice kept.
    await tab.check('input[value="rectification"]');
    const missing = await submit(tab);
    expect(missing.status()).toBe(400);
    await speaks(tab, "fr");
    expect(await tab.textContent("#problem")).toContain("Dites ce qui est faux");
    expect(await tab.isChecked('input[value="rectification"]')).toBe(true);
    await shot(tab, "privacy-ask-fr-problem");

    await tab.check('input[value="access"]');
    expect((await submit(tab)).status()).toBe(202);
    await speaks(tab, "fr");
    expect(await tab.textContent("h1")).toBe("Consultez votre messagerie");
    await shot(tab, "privacy-ask-fr-sent");

    const link = await queuedLink(holder.email);
    await tab.goto(link);
    await speaks(tab, "fr");
    expect(await visibleText(tab)).toContain(`Vous demandez à ${ORGANISATION} de vous envoyer une copie des données personnelles`);
    await shot(tab, "privacy-confirm-fr");
    expect((await submit(tab, "#confirm")).status()).toBe(200);
    await speaks(tab, "fr");
    expect(await tab.textContent("h1")).toBe("Votre demande est enregistrée");
    await shot(tab, "privacy-done-fr");

    // The link again: used, said in French, with the way back to the form.
    const used = await tab.goto(link);
    expect(used!.status()).toBe(410);
    await speaks(tab, "fr");
    expect(await tab.textContent("h1")).toBe("Ce lien a déjà été utilisé");
    expect(await tab.getAttribute("a.primary", "href")).toBe(new URL(holder.ask).pathname);
    await shot(tab, "privacy-link-used-fr");
    await tab.close();
  });

  it("answers a forged link in the browser's language, knowing no holder", async () => {
    const holder = await issue("fr");
    await fetch(holder.ask, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "kind=objection" });
    const forged = (await queuedLink(holder.email)).replace(/sig=([A-Za-z0-9_-])/, (_m, c: string) => `sig=${c === "A" ? "B" : "A"}`);
    const context = await browser.newContext({ locale: "fr-FR" });
    const tab = await context.newPage();
    expect((await tab.goto(forged))!.status()).toBe(403);
    await speaks(tab, "fr");
    expect(await tab.textContent("h1")).toBe("Ce lien n'est pas valide");
    await context.close();
  });
});

describe("an English holder", () => {
  it("is led back to the form, with what was typed, from each problem", async () => {
    const holder = await issue("en");
    const tab = await browser.newPage();
    await tab.goto(holder.ask);
    await speaks(tab, "en");
    expect(await visibleText(tab)).toContain(`Choose what you want ${ORGANISATION} to do.`);
    expect(await visibleText(tab)).not.toContain("the organisation that issued this credential");
    await shot(tab, "privacy-ask-en");

    // A name that would display otherwise than it is stored: refused, the form again with it.
    await tab.check('input[value="rectification"]');
    await tab.fill('input[name="correctName"]', "Camille\u202EnitraM");
    expect((await submit(tab)).status()).toBe(400);
    await speaks(tab, "en");
    expect(await tab.isVisible("#problem")).toBe(true);
    expect(await tab.inputValue('input[name="correctName"]')).toBe("Camille\u202EnitraM");
    expect(await tab.isChecked('input[value="rectification"]')).toBe(true);
    await shot(tab, "privacy-ask-en-problem");

    await tab.check('input[value="objection"]');
    await tab.fill('input[name="correctName"]', "");
    expect((await submit(tab)).status()).toBe(202);
    const link = await queuedLink(holder.email);
    const linkId = /\/privacy\/links\/[0-9a-f-]{36}\/([0-9a-f-]{36})/.exec(link)![1]!;
    await app.db.admin`update privacy_links set created_at = now() - interval '2 days', expires_at = now() - interval '1 day' where id = ${linkId}`;
    expect((await tab.goto(link))!.status()).toBe(410);
    await speaks(tab, "en");
    expect(await tab.textContent("h1")).toBe("This link has expired");
    expect(await tab.textContent("a.primary")).toBe("Ask again");
    await shot(tab, "privacy-link-expired-en");
    await submit(tab, "a.primary");
    expect(new URL(tab.url()).pathname).toBe(new URL(holder.ask).pathname);
    await tab.close();
  });

  it("finds out at once that a credential is unknown, in a page or in JSON", async () => {
    const unknown = `${app.server.url}/privacy/ask/${t.tenantId}/01890000-0000-7000-8000-000000000000`;
    const page = await fetch(unknown, { headers: { accept: "text/html" } });
    expect(page.status).toBe(404);
    expect(await page.text()).toContain("There is no credential at this address");
    const json = await fetch(unknown, { headers: { accept: "application/json" } });
    expect(json.status).toBe(404);
    expect(await json.json()).toEqual({ error: { code: "NOT_FOUND", message: "Not found" } });
  });
});

describe("one client asking too often", () => {
  it("is slowed down with 429 RATE_LIMITED past the burst (60, then 2 a second), and told when to retry", async () => {
    const path = `${app.server.url}/privacy/ask/${randomUUID()}/${randomUUID()}`;
    const statuses: number[] = [];
    let limited: Response | null = null;
    for (let i = 0; i < 70 && !limited; i++) {
      const res = await fetch(path, { headers: { accept: "application/json" } });
      statuses.push(res.status);
      if (res.status === 429) limited = res;
      else await res.arrayBuffer();
    }
    // The pages above spent some of this client's burst already; what is left is answered, then no more.
    expect(statuses[0]).toBe(404);
    expect(limited, "a 429 within 70 quick asks").not.toBeNull();
    expect(limited!.headers.get("retry-after")).toBe("2");
    expect(await limited!.json()).toMatchObject({ error: { code: "RATE_LIMITED" } });
  });
});

