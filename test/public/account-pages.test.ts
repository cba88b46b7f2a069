// Where the account emails lead (public/account-routes.ts): the password link's page and the invitation's,
// in a browser. The token travels in the URL's fragment, so it never reaches a server's log but by the
// form; the page says what happened and what to do next, and never shows a session token.
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InviteMemberDocument, LogInDocument } from "../../src/sdk/generated.js";
import { MIN_PASSWORD_LENGTH } from "../../src/modules/auth/passwords.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { startFakeResend, type FakeResend } from "../helpers/fake-resend.js";
import { deliveryConfig, waitFor } from "../helpers/worker.js";
import { launchBrowser, shot, visibleText } from "../helpers/browser.js";
import { signUpTenant, uniqueEmail, type TestTenant } from "../helpers/factories.js";
import { openedMessages } from "../helpers/sealed.js";

let app: TestApp;
let fake: FakeResend;
let t: TestTenant;
let browser: Browser;
beforeAll(async () => {
  // Password emails are the platform's, sent at once through the mailer (here a local fake Resend);
  // invitations stay in the outbox, where no worker runs in this file.
  fake = await startFakeResend();
  app = await startTestApp(deliveryConfig({ resendUrl: fake.url }));
  t = await signUpTenant(app, "Account Pages College");
  browser = await launchBrowser();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await app?.close();
  await fake?.close();
});

const local = (url: string) => url.replace(app.config.publicUrl, app.server.url);

/** The newest link of this kind sent (a password email) or queued (an invitation: no worker runs here) to `email`. */
async function queuedLink(kind: "password_reset" | "invitation", email: string): Promise<string> {
  if (kind === "password_reset") {
    const mail = await waitFor(async () => fake.sent.filter((m) => m.to.includes(email) && m.tags.some((t) => t.value === "password_reset")).at(-1), `a password email to ${email}`);
    return local(/https?:\/\/\S+\/password-reset#lrp_[A-Za-z0-9_-]+/.exec(mail.text)![0]);
  }
  const row = (await openedMessages(app, { kind, toEmail: email })).at(-1);
  expect(row, `a ${kind} email to ${email}`).toBeDefined();
  return local(row!.payload.acceptUrl as string);
}

const logIn = (email: string, password: string) => app.client().request(LogInDocument, { input: { email, password } }).then((r) => r.logIn.__typename);

const post = (path: string, body: Record<string, string>, json = false) =>
  fetch(`${app.server.url}${path}`, {
    method: "POST",
    headers: json ? { accept: "application/json", "content-type": "application/json" } : { "content-type": "application/x-www-form-urlencoded" },
    body: json ? JSON.stringify(body) : new URLSearchParams(body).toString(),
  });

describe("the password link's page", () => {
  it("takes a person from the ask form to a new password, and never shows a session", async () => {
    const member = await signUpTenant(app, "Forgetful Polytechnic");
    const tab = await browser.newPage();
    const errors: string[] = [];
    tab.on("pageerror", (e) => errors.push(e.message));
    const asked = await tab.goto(`${app.server.url}/password-reset/ask`);
    expect(asked!.headers()["referrer-policy"]).toBe("no-referrer");
    await shot(tab, "password-ask");
    await tab.fill("#email", member.email.toUpperCase());
    await Promise.all([tab.waitForNavigation(), tab.click("#submit")]);
    expect(await visibleText(tab)).toContain("If a Laurel account has this address, we have emailed it a link");
    await shot(tab, "password-ask-sent");

    const link = await queuedLink("password_reset", member.email);
    expect(link).toMatch(/\/password-reset#lrp_/);
    const opened = await tab.goto(link);
    expect(opened!.status()).toBe(200);
    expect(opened!.headers()["content-security-policy"]).toContain("script-src 'nonce-");
    // The script took the token from the fragment into the form, and out of the address bar.
    expect(await tab.isHidden("#token-field")).toBe(true);
    expect(await tab.inputValue("#token")).toBe(link.split("#")[1]);
    expect(tab.url()).not.toContain("#");
    await shot(tab, "password-form");

    // Too short: the form again with the problem, the token kept.
    await tab.fill("#password", "short");
    await tab.fill("#again", "short");
    await tab.evaluate(() => document.getElementById("form")!.setAttribute("novalidate", "")); // past the browser's own check
    const [tooShort] = await Promise.all([tab.waitForNavigation(), tab.click("#submit")]);
    expect(tooShort!.status()).toBe(400);
    expect(await tab.textContent("#problem")).toContain(`at least ${MIN_PASSWORD_LENGTH} characters`);
    expect(await tab.inputValue("#token")).toBe(link.split("#")[1]);
    await shot(tab, "password-form-too-short");

    await tab.fill("#password", "a much better password");
    await tab.fill("#again", "a much better password");
    const [set] = await Promise.all([tab.waitForNavigation(), tab.click("#submit")]);
    expect(set!.status()).toBe(200);
    expect(await visibleText(tab)).toContain("Your password is set: sign in with it.");
    expect(await tab.content()).not.toMatch(/lrs_/);
    await shot(tab, "password-set");
    expect(await logIn(member.email, "a much better password")).toBe("SessionPayload");
    expect(await logIn(member.email, member.password)).toBe("InvalidCredentialsError");

    // The same link again: a clear page, with the way to a new one.
    await tab.goto("about:blank");
    await tab.goto(link);
    await tab.fill("#password", "yet another password");
    await tab.fill("#again", "yet another password");
    const [used] = await Promise.all([tab.waitForNavigation(), tab.click("#submit")]);
    expect(used!.status()).toBe(410);
    expect(await tab.textContent("h1")).toBe("This password link no longer works");
    expect(await tab.getAttribute("a.primary", "href")).toBe("/password-reset/ask");
    await shot(tab, "password-link-used");
    expect(errors).toEqual([]);
    await tab.close();
  });

  it("works without JavaScript: the token is pasted into a field the page shows", async () => {
    const member = await signUpTenant(app, "No Script Academy");
    await post("/password-reset/ask", { email: member.email });
    const link = await queuedLink("password_reset", member.email);
    const context = await browser.newContext({ javaScriptEnabled: false });
    const tab = await context.newPage();
    await tab.goto(link.split("#")[0]!);
    expect(await tab.isVisible("#token")).toBe(true);
    await shot(tab, "password-form-no-script");
    await tab.fill("#token", link.split("#")[1]!);
    await tab.fill("#password", "typed without scripts");
    await tab.fill("#again", "typed without scripts");
    const [set] = await Promise.all([tab.waitForNavigation(), tab.click("#submit")]);
    expect(set!.status()).toBe(200);
    expect(await logIn(member.email, "typed without scripts")).toBe("SessionPayload");
    await context.close();
  });

  it("answers programs in JSON: ok and the sessions ended, never the new session", async () => {
    const member = await signUpTenant(app, "Json Institute");
    const ask = await post("/password-reset/ask", { email: member.email }, true);
    expect(ask.status).toBe(202);
    const unknown = await post("/password-reset/ask", { email: uniqueEmail("nobody") }, true);
    // The same answer whether or not an account has the address.
    expect(await unknown.json()).toEqual(await ask.json());
    const token = (await queuedLink("password_reset", member.email)).split("#")[1]!;

    const short = await post("/password-reset", { token, password: "short" }, true);
    expect(short.status).toBe(400);
    expect(await short.json()).toMatchObject({ error: { code: "BAD_REQUEST", message: expect.stringContaining(`at least ${MIN_PASSWORD_LENGTH}`) } });
    const done = await post("/password-reset", { token, password: "chosen by a program" }, true);
    expect(done.status).toBe(200);
    expect(done.headers.get("referrer-policy")).toBe("no-referrer");
    expect(await done.json()).toEqual({ ok: true, sessionsEnded: 1 });
    const again = await post("/password-reset", { token, password: "chosen by a program" }, true);
    expect(again.status).toBe(410);
    expect(await again.json()).toMatchObject({ error: { code: "LINK_UNUSABLE" } });
    const big = await post("/password-reset", { token, password: "x".repeat(9_000) }, true);
    expect(big.status).toBe(413);
    expect(await big.json()).toMatchObject({ error: { code: "PAYLOAD_TOO_LARGE" } });
  });
});

describe("the invitation's page", () => {
  it("creates the invited account with a name and a password, and says where it now belongs", async () => {
    const email = uniqueEmail("invitee");
    const { inviteMember } = await t.owner.request(InviteMemberDocument, { input: { email, role: "issuer" } });
    expect(inviteMember.__typename).toBe("Invitation");
    const link = await queuedLink("invitation", email);
    expect(link).toMatch(/\/invitations\/accept#lri_/);
    const tab = await browser.newPage();
    await tab.goto(link);
    expect(await tab.isHidden("#token-field")).toBe(true);
    await shot(tab, "invitation-form");
    await tab.fill("#name", "Ines Invitee");
    await tab.fill("#password", "my first password");
    await tab.fill("#again", "my first password");
    const [joined] = await Promise.all([tab.waitForNavigation(), tab.click("#submit")]);
    expect(joined!.status()).toBe(200);
    expect(await tab.textContent("h1")).toBe("Welcome to Account Pages College");
    expect(await visibleText(tab)).toContain("You have joined Account Pages College as issuer");
    expect(await tab.content()).not.toMatch(/lrs_/);
    await shot(tab, "invitation-accepted");
    expect(await logIn(email, "my first password")).toBe("SessionPayload");

    await tab.goto("about:blank");
    await tab.goto(link);
    await tab.fill("#name", "Ines Invitee");
    await tab.fill("#password", "my first password");
    await tab.fill("#again", "my first password");
    const [used] = await Promise.all([tab.waitForNavigation(), tab.click("#submit")]);
    expect(used!.status()).toBe(410);
    expect(await tab.textContent("h1")).toBe("This invitation no longer works");
    await shot(tab, "invitation-used");
    await tab.close();
  });

  it("tells someone who already has an account to sign in, with the way to a password", async () => {
    const other = await signUpTenant(app, "Elsewhere University");
    await t.owner.request(InviteMemberDocument, { input: { email: other.email, role: "viewer" } });
    const link = await queuedLink("invitation", other.email);
    const res = await post("/invitations/accept", { token: link.split("#")[1]!, name: "Olive", password: "whatever it is", passwordAgain: "whatever it is" });
    expect(res.status).toBe(409);
    const html = await res.text();
    expect(html).toContain("You already have an account");
    expect(html).toContain('href="/password-reset/ask"');
    const json = await post("/invitations/accept", { token: link.split("#")[1]!, name: "Olive", password: "whatever it is" }, true);
    expect(await json.json()).toMatchObject({ error: { code: "LOGIN_REQUIRED" } });
  });

  it("limits each client's pace", async () => {
    const answers = await Promise.all(Array.from({ length: 80 }, () => fetch(`${app.server.url}/password-reset`).then((r) => r.status)));
    expect(answers).toContain(429);
    const slowDown = await fetch(`${app.server.url}/password-reset`, { headers: { accept: "application/json" } });
    expect(slowDown.status).toBe(429);
    expect(slowDown.headers.get("retry-after")).toBe("2");
    expect(await slowDown.json()).toMatchObject({ error: { code: "RATE_LIMITED" } });
  });
});
