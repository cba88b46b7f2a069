// Choosing a password by email (sql/039, auth/password-reset.ts): for a forgotten password and for the
// members of an imported tenant, whose accounts arrive without one. Proof is the emailed one-time token.
// The email is the platform's, sent through the real resend SDK to a local fake: no tenant's outbox,
// sender name, reply-to or audit log ever holds it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  LogInDocument,
  RequestPasswordResetDocument,
  ResetPasswordDocument,
  ViewerDocument,
} from "../../src/sdk/generated.js";
import { LaurelRequestError } from "../../src/sdk/index.js";
import { parseToken, tokenOf } from "../../src/modules/auth/tokens.js";
import { withTenantSql } from "../../src/db/tenant-transaction.js";
import { createMailer } from "../../src/modules/delivery/mailer.js";
import { sendPasswordResetEmail } from "../../src/modules/auth/password-reset.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { signUpTenant, uniqueEmail, type TestTenant } from "../helpers/factories.js";
import { startFakeResend, type FakeResend } from "../helpers/fake-resend.js";
import { deliveryConfig, waitFor } from "../helpers/worker.js";
import { UpdateEmailSettingsDocument } from "../../src/sdk/generated.js";

let fake: FakeResend;
let app: TestApp;
let t: TestTenant;
let other: TestTenant;
beforeAll(async () => {
  fake = await startFakeResend();
  app = await startTestApp(deliveryConfig({ resendUrl: fake.url }));
  t = await signUpTenant(app, "Reset Academy");
  other = await signUpTenant(app, "Other College");
});
afterAll(async () => {
  await app.close();
  await fake.close();
});

const ask = (email: string) => app.client().request(RequestPasswordResetDocument, { email });
const reset = (token: string, password: string) => app.client().request(ResetPasswordDocument, { input: { token, password } });

const resetMails = (email: string) => fake.sent.filter((m) => m.to.includes(email) && m.tags.some((t) => t.value === "password_reset"));

/** The token of the newest reset email to `email` (waits for it: it is sent after the answer). */
async function lastLink(email: string, count = 1): Promise<{ token: string; mail: (typeof fake.sent)[number] }> {
  const mails = await waitFor(async () => (resetMails(email).length >= count ? resetMails(email) : null), `reset email ${count} to ${email}`);
  const mail = mails.at(-1)!;
  const url = new RegExp(`${app.config.publicUrl}/password-reset#lrp_[A-Za-z0-9_-]+`).exec(mail.text)![0];
  return { token: url.split("#")[1]!, mail };
}

async function unauthenticated(token: string): Promise<boolean> {
  const error = await app.client(token).request(ViewerDocument).then(() => null, (e: unknown) => e);
  return error instanceof LaurelRequestError && error.code === "UNAUTHENTICATED";
}

describe("asking for a password link", () => {
  it("answers an unknown address exactly as a known one, and emails only the account's holder, as the platform", async () => {
    const stranger = uniqueEmail("nobody");
    // A tenant's branding must not reach an account's security email: this one's sender name and reply-to.
    await t.owner.request(UpdateEmailSettingsDocument, { input: { fromName: "Reset Academy Security", replyTo: "phish@evil.example" } });
    const known = await ask(t.email.toUpperCase());
    const unknown = await ask(stranger);
    expect(unknown).toEqual(known);
    expect(known.requestPasswordReset).toEqual({ __typename: "RequestPasswordResetPayload", expiresInMinutes: 60 });
    const { mail } = await lastLink(t.email);
    expect(mail.from).toBe(app.config.email.defaultFrom);
    expect(mail.replyTo).toBeNull();
    expect(mail.text).toContain("Hello Olive Owner");
    expect(resetMails(stranger)).toEqual([]);
    // No tenant's outbox or audit log holds it.
    expect(await app.db.admin`select 1 from email_outbox where kind = 'password_reset'`).toEqual([]);
    expect(await app.db.admin`select 1 from audit_log where action like 'user.password_reset%'`).toEqual([]);
  });

  it("sends at most three links an hour to one account, however often it is asked", async () => {
    const { owner, email } = await signUpTenant(app, "Quiet Inbox Ltd");
    void owner;
    for (let i = 0; i < 5; i++) expect((await ask(email)).requestPasswordReset.__typename).toBe("RequestPasswordResetPayload");
    await lastLink(email, 3);
    await new Promise((r) => setTimeout(r, 300));
    expect(resetMails(email)).toHaveLength(3);
  });
});

describe("using the link", () => {
  it("sets the password, signs the account out everywhere, and works once", async () => {
    const member = await signUpTenant(app, "Forgetful Institute");
    const otherSession = (await app.client().request(LogInDocument, { input: { email: member.email, password: member.password } })).logIn;
    if (otherSession.__typename !== "SessionPayload") throw new Error("log-in failed");
    await ask(member.email);
    const { token } = await lastLink(member.email);

    const done = await reset(token, "a brand new password");
    if (done.resetPassword.__typename !== "ResetPasswordPayload") throw new Error(JSON.stringify(done));
    expect(done.resetPassword).toMatchObject({ userId: member.userId, tenantId: member.tenantId, sessionsEnded: 2 });
    expect(await unauthenticated(member.token)).toBe(true);
    expect(await unauthenticated(otherSession.token)).toBe(true);
    const viewer = await app.client(done.resetPassword.token).request(ViewerDocument);
    expect(viewer.viewer.user?.email).toBe(member.email);

    const oldPassword = await app.client().request(LogInDocument, { input: { email: member.email, password: member.password } });
    expect(oldPassword.logIn.__typename).toBe("InvalidCredentialsError");
    const newPassword = await app.client().request(LogInDocument, { input: { email: member.email, password: "a brand new password" } });
    expect(newPassword.logIn.__typename).toBe("SessionPayload");

    const again = await reset(token, "yet another password");
    expect(again.resetPassword.__typename).toBe("PasswordResetError");
    const [row] = await app.db.admin`select used_at from password_resets where user_id = ${member.userId}`;
    expect(row!.used_at).toBeInstanceOf(Date);
  });

  it("refuses a too-short password without using up the link", async () => {
    const member = await signUpTenant(app, "Short Words Ltd");
    await ask(member.email);
    const { token } = await lastLink(member.email);
    const short = await reset(token, "short");
    expect(short.resetPassword).toMatchObject({ __typename: "ValidationError", fieldErrors: [{ path: ["input", "password"] }] });
    expect((await reset(token, "long enough now")).resetPassword.__typename).toBe("ResetPasswordPayload");
  });

  it("ends every open link of the account when one is used", async () => {
    const member = await signUpTenant(app, "Two Links College");
    await ask(member.email);
    const first = await lastLink(member.email);
    await ask(member.email);
    const second = await lastLink(member.email, 2);
    expect(second.token).not.toBe(first.token);
    expect((await reset(second.token, "the second link's password")).resetPassword.__typename).toBe("ResetPasswordPayload");
    expect((await reset(first.token, "the first link's password")).resetPassword.__typename).toBe("PasswordResetError");
  });

  it("refuses an expired, altered, re-spelt or mistyped token alike, and no reset token signs anyone in", async () => {
    const member = await signUpTenant(app, "Careful Academy");
    await ask(member.email);
    const { token } = await lastLink(member.email);
    const parsed = parseToken(token)!;
    const body = Buffer.from(token.slice(4), "base64url");
    const secret = body.subarray(16);
    // base64url of 48 bytes uses every bit of its 64 characters; a token of 49 bytes has two unused bits.
    const respelt = token.slice(0, -1) + (token.at(-1) === "A" ? "B" : "A");
    const tries = [
      tokenOf("passwordReset", null, parsed.id, Buffer.alloc(32, 7)).token, // wrong secret
      tokenOf("invitation", other.tenantId, parsed.id, secret).token, // the right secret as another kind
      tokenOf("session", null, parsed.id, secret).token.replace(/^lrs_/, "lrp_") + "A", // one character too many
      respelt,
      token.slice(0, -2),
      "lrp_not-a-token",
    ];
    for (const bad of tries) expect((await reset(bad, "a fine password")).resetPassword.__typename, bad).toBe("PasswordResetError");
    expect(await unauthenticated(token)).toBe(true);

    await app.db.admin`update password_resets set created_at = now() - interval '2 hours', expires_at = now() - interval '1 hour' where id = ${parsed.id}`;
    expect((await reset(token, "a fine password")).resetPassword.__typename).toBe("PasswordResetError");
    const stillOld = await app.client().request(LogInDocument, { input: { email: member.email, password: member.password } });
    expect(stillOld.logIn.__typename).toBe("SessionPayload");
  });

  it("keeps resets out of every tenant's reach: no member reads one, not even their own", async () => {
    await ask(t.email);
    await lastLink(t.email, 2);
    const claims = { dbRole: app.config.roles.member, tenantId: t.tenantId, userId: t.userId };
    const error = await withTenantSql(app.database.sql, claims, (tx) => tx`select id from password_resets`).catch((e: Error) => e);
    expect(String(error)).toMatch(/permission denied/);
  });

  it("reaches an account that belongs to no tenant any more", async () => {
    // As when a member is removed from their only tenant (or it closes): the account stays, in no tenant.
    const email = uniqueEmail("tenantless");
    await app.db.admin`insert into users (email, name) values (${email}, 'Nomad Member')`;
    await ask(email);
    const { token } = await lastLink(email);
    const done = await reset(token, "a password for no tenant");
    expect(done.resetPassword).toMatchObject({ __typename: "ResetPasswordPayload", tenantId: null });
  });

describe("without an email provider", () => {
  it("prints the link to the developer's log, and in production only that it could not be sent", async () => {
    const lines: string[] = [];
    const mailer = createMailer({ ...app.config.email, resendApiKey: undefined });
    const email = { resetId: "0190a3f0-0000-7000-8000-000000000001", to: "dev@example.test", name: "Dev", url: "https://laurel.example/password-reset#lrp_secretpart", expiresAt: new Date() };
    await sendPasswordResetEmail(mailer, { email: app.config.email, production: false }, email, (l) => lines.push(l));
    await sendPasswordResetEmail(mailer, { email: app.config.email, production: true }, email, (l) => lines.push(l));
    expect(lines[0]).toContain("https://laurel.example/password-reset#lrp_secretpart");
    expect(lines[1]).toMatch(/no email provider/);
    expect(lines[1]).not.toContain("lrp_secretpart");
  });
});
});
