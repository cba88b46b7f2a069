// Choosing a password by email (sql/039, auth/password-reset.ts): for a forgotten password and for the
// members of an imported tenant, whose accounts arrive without one. Proof is the emailed one-time token.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AuditLogDocument,
  LogInDocument,
  RequestPasswordResetDocument,
  ResetPasswordDocument,
  ViewerDocument,
} from "../../src/sdk/generated.js";
import { LaurelRequestError } from "../../src/sdk/index.js";
import { parseToken, tokenOf } from "../../src/modules/auth/tokens.js";
import { withTenantSql } from "../../src/db/tenant-transaction.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { signUpTenant, uniqueEmail, type TestTenant } from "../helpers/factories.js";

let app: TestApp;
let t: TestTenant;
let other: TestTenant;
beforeAll(async () => {
  app = await startTestApp();
  t = await signUpTenant(app, "Reset Academy");
  other = await signUpTenant(app, "Other College");
});
afterAll(async () => app.close());

const ask = (email: string) => app.client().request(RequestPasswordResetDocument, { email });
const reset = (token: string, password: string) => app.client().request(ResetPasswordDocument, { input: { token, password } });

/** The token of the newest reset email to `email`, and the tenant whose outbox holds it. */
async function lastLink(email: string): Promise<{ token: string; tenantId: string }> {
  const [row] = await app.db.admin`select tenant_id::text, payload->>'acceptUrl' as url from email_outbox
                                    where kind = 'password_reset' and to_email = ${email} order by created_at desc, id desc limit 1`;
  expect(row, `a password_reset email to ${email}`).toBeDefined();
  expect(row!.url).toMatch(new RegExp(`^${app.config.publicUrl}/password-reset#lrp_[A-Za-z0-9_-]+$`));
  return { token: row!.url.split("#")[1], tenantId: row!.tenant_id };
}

async function unauthenticated(token: string): Promise<boolean> {
  const error = await app.client(token).request(ViewerDocument).then(() => null, (e: unknown) => e);
  return error instanceof LaurelRequestError && error.code === "UNAUTHENTICATED";
}

describe("asking for a password link", () => {
  it("answers an unknown address exactly as a known one, and emails only the account's owner", async () => {
    const stranger = uniqueEmail("nobody");
    const known = await ask(t.email.toUpperCase());
    const unknown = await ask(stranger);
    expect(unknown).toEqual(known);
    expect(known.requestPasswordReset).toEqual({ __typename: "RequestPasswordResetPayload", expiresInMinutes: 60 });
    expect(await app.db.admin`select 1 from email_outbox where to_email = ${stranger}`).toEqual([]);
    const link = await lastLink(t.email);
    expect(link.tenantId).toBe(t.tenantId);
    // The email greets the account's holder and lives in the tenant's outbox, with its audit entry.
    const [queued] = await app.db.admin`select payload->>'recipientName' as name from email_outbox where kind = 'password_reset' and to_email = ${t.email}`;
    expect(queued!.name).toBe("Olive Owner");
    const audit = await t.owner.request(AuditLogDocument, { first: 20, filter: { action: "user.password_reset_requested" } });
    expect(audit.tenant.auditLog!.edges.map((e) => e.node.targetId)).toContain(t.userId);
  });

  it("sends at most three links an hour to one account, however often it is asked", async () => {
    const { owner, email } = await signUpTenant(app, "Quiet Inbox Ltd");
    void owner;
    for (let i = 0; i < 5; i++) expect((await ask(email)).requestPasswordReset.__typename).toBe("RequestPasswordResetPayload");
    const [sent] = await app.db.admin`select count(*)::int as n from email_outbox where kind = 'password_reset' and to_email = ${email}`;
    expect(sent!.n).toBe(3);
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
    const audit = await app.client(done.resetPassword.token).request(AuditLogDocument, { first: 5, filter: { action: "user.password_reset" } });
    expect(audit.tenant.auditLog!.edges[0]!.node).toMatchObject({ actorId: member.userId, targetId: member.userId, details: { sessionsEnded: 2 } });
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
    const second = await lastLink(member.email);
    expect(second.token).not.toBe(first.token);
    expect((await reset(second.token, "the second link's password")).resetPassword.__typename).toBe("ResetPasswordPayload");
    expect((await reset(first.token, "the first link's password")).resetPassword.__typename).toBe("PasswordResetError");
  });

  it("refuses an expired, altered, mistyped or other-tenant token alike, and no reset token signs anyone in", async () => {
    const member = await signUpTenant(app, "Careful Academy");
    await ask(member.email);
    const { token } = await lastLink(member.email);
    const parsed = parseToken(token)!;
    const body = Buffer.from(token.slice(4), "base64url");
    const secret = body.subarray(32);
    const tries = [
      tokenOf("passwordReset", parsed.tenantId, parsed.id, Buffer.alloc(32, 7)).token, // wrong secret
      tokenOf("passwordReset", other.tenantId, parsed.id, secret).token, // same secret, another tenant
      tokenOf("invitation", parsed.tenantId, parsed.id, secret).token, // the right secret as another kind
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

  it("keeps resets behind the tenant wall: another tenant's staff see none of them", async () => {
    await ask(t.email);
    const seen = await app.db.admin`select count(*)::int as n from password_resets where tenant_id = ${t.tenantId}`;
    expect(seen[0]!.n).toBeGreaterThan(0);
    const claims = { dbRole: app.config.roles.member, tenantId: other.tenantId, userId: other.userId };
    const asOther = await withTenantSql(app.database.sql, claims, (tx) => tx<{ n: number }[]>`select count(*)::int as n from password_resets`);
    expect(asOther[0]!.n).toBe(0);
    // Members never read a secret's hash, even of their own tenant's resets.
    const hashes = await withTenantSql(app.database.sql, { ...claims, tenantId: t.tenantId, userId: t.userId }, (tx) => tx`select secret_hash from password_resets`).catch((e: Error) => e);
    expect(String(hashes)).toMatch(/permission denied/);
  });
});
