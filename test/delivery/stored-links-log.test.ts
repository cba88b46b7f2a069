// The demo outbox (no RESEND_API_KEY) keeps no one-time link readable. In development the send task prints
// each such message's recipient, subject and link to the log instead, so that someone following the
// README can reset a password or accept an invitation; in production it never does, and the database
// never keeps the link either way.
import { afterEach, beforeEach, describe, expect, it, vi, type MockInstance } from "vitest";
import { InviteMemberDocument, RequestPasswordResetDocument } from "../../src/sdk/generated.js";
import { storedLinkLines } from "../../src/modules/delivery/send-emails.js";
import { createLaurelClient } from "../../src/sdk/index.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { signUpTenant, uniqueEmail } from "../helpers/factories.js";
import { waitFor } from "../helpers/worker.js";
import { openedMessages } from "../helpers/sealed.js";

let log: MockInstance<typeof console.log>;
let app: TestApp | undefined;
beforeEach(() => {
  log = vi.spyOn(console, "log");
});
afterEach(async () => {
  log.mockRestore();
  await app?.close();
  app = undefined;
});

const lines = () => log.mock.calls.map((c) => String(c[0]));
const printed = () => lines().filter((line) => line.startsWith("[outbox, stored]"));
// A password link is the platform's, never in an outbox (auth/password-reset.ts): it has its own line.
const resetLines = () => lines().filter((line) => line.startsWith("[password reset"));

/** Waits until every message to `email` is stored, then returns what the database holds of them (sealed fields opened). */
async function storedRows(email: string) {
  return waitFor(async () => {
    const rows = (await openedMessages(app!, { toEmail: email })).map((m) => ({ status: m.status, payload: m.payload, content: m.content, text: m.text, html: m.html }));
    return rows.length && rows.every((r) => r.status === "stored") ? rows : null;
  }, `the messages to ${email} stored`);
}

describe("the stored outbox's one-time links", () => {
  it("are printed to the log in development, one line per message: recipient, subject, link", async () => {
    app = await startTestApp({}, { worker: {} });
    expect(app.config.production).toBe(false);
    const t = await signUpTenant(app, "Dev Loop College");
    await app.client().request(RequestPasswordResetDocument, { email: t.email });
    const reset = await waitFor(async () => resetLines().find((l) => l.includes(t.email)), "the password link's line");
    expect(reset).toMatch(new RegExp(`^\\[password reset, not sent: no RESEND_API_KEY\\] ${t.email}: ${app.config.publicUrl}/password-reset#lrp_[A-Za-z0-9_-]+$`));

    const invitee = uniqueEmail("invitee");
    await t.owner.request(InviteMemberDocument, { input: { email: invitee, role: "viewer" } });
    const invitation = await waitFor(async () => printed().find((l) => l.includes(`invitation to ${invitee}`)), "the invitation's line");
    expect(invitation).toMatch(/\/invitations\/accept#lri_/);

    // The log has it; the database does not.
    expect(JSON.stringify(await storedRows(invitee))).not.toMatch(/lri_/);
    const everything = (await openedMessages(app)).map((m) => ({ payload: m.payload, content: m.content, text: m.text, html: m.html }));
    expect(everything.length).toBeGreaterThan(0);
    expect(JSON.stringify(everything)).not.toMatch(/lrp_|lri_/);
  });

  it("are never printed in production", async () => {
    // Production refuses secrets over plain HTTP (lib/transit.ts): the test server sits behind a trusted
    // proxy that terminated TLS, as a deployment would.
    const started = await startTestApp({ production: true, trustedProxies: ["127.0.0.1"] }, { worker: {} });
    app = started;
    const behindProxy = { ...started, client: (token?: string) => createLaurelClient({ url: started.graphqlUrl, token, headers: { "x-forwarded-proto": "https" } }) };
    const t = await signUpTenant(behindProxy, "Production College");
    await behindProxy.client().request(RequestPasswordResetDocument, { email: t.email });
    const invitee = uniqueEmail("invitee");
    await t.owner.request(InviteMemberDocument, { input: { email: invitee, role: "viewer" } });
    const rows = await storedRows(invitee);
    expect(printed()).toEqual([]);
    expect(JSON.stringify(rows)).not.toMatch(/lri_/);
    const reset = await waitFor(async () => resetLines().find((l) => l.includes(t.email)), "the password line");
    expect(reset).toMatch(/no email provider/);
    expect(reset).not.toMatch(/lrp_/);
  });

  it("leave out messages whose links are no secret", () => {
    const content = { from: "x", replyTo: null, subject: "Hi", html: "", text: "", tags: [] };
    expect(storedLinkLines([
      { kind: "credential_issued", to_email: "a@example.test", payload: { acceptUrl: "https://x.example/nothing" }, content },
      { kind: "privacy_request_link", to_email: "b@example.test", payload: { acceptUrl: "https://x.example/privacy/links/1" }, content },
    ])).toEqual(['[outbox, stored] privacy_request_link to b@example.test ("Hi"): https://x.example/privacy/links/1']);
  });
});
