// Authentication and authorization as a caller meets them: sessions, API keys, roles, scopes,
// invitations and the owner rule.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AcceptInvitationDocument,
  ApiKeysDocument,
  AuditLogDocument,
  ChangeMemberRoleDocument,
  CreateApiKeyDocument,
  CreateTenantDocument,
  InviteMemberDocument,
  InvitationsDocument,
  LogInDocument,
  LogOutDocument,
  MembersDocument,
  RemoveMemberDocument,
  RevokeApiKeyDocument,
  SignUpDocument,
  SwitchTenantDocument,
  TenantDocument,
  ViewerDocument,
} from "../../src/sdk/generated.js";
import { LaurelRequestError, type LaurelClient } from "../../src/sdk/index.js";
import { parseToken } from "../../src/modules/auth/tokens.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { createKey, signUpTenant, uniqueEmail, type TestTenant } from "../helpers/factories.js";
import { openedMessages, tokenSentTo } from "../helpers/sealed.js";

let app: TestApp;
let t: TestTenant;
beforeAll(async () => {
  app = await startTestApp();
  t = await signUpTenant(app, "Auth Academy");
});
afterAll(async () => app.close());

async function errorCode(promise: Promise<unknown>): Promise<string | undefined> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error, "expected the request to fail").toBeInstanceOf(LaurelRequestError);
  return (error as LaurelRequestError).code;
}

/** Invites `email` with `role` and accepts as a new account; returns a client signed in as them. */
async function addMember(role: "admin" | "issuer" | "analyst" | "viewer" | "owner", email = uniqueEmail(role)): Promise<LaurelClient> {
  const invited = await t.owner.request(InviteMemberDocument, { input: { email, role } });
  expect(invited.inviteMember.__typename).toBe("Invitation");
  const row = { token: await tokenSentTo(app, email) };
  const accepted = await app.client().request(AcceptInvitationDocument, {
    input: { token: row!.token, name: `The ${role}`, password: "a long enough password" },
  });
  if (accepted.acceptInvitation.__typename !== "AcceptInvitationPayload") throw new Error(JSON.stringify(accepted));
  return app.client(accepted.acceptInvitation.token!);
}

describe("sessions", () => {
  it("log in with the right password, and not with a wrong one or an unknown email", async () => {
    const ok = await app.client().request(LogInDocument, { input: { email: t.email.toUpperCase(), password: t.password } });
    expect(ok.logIn.__typename).toBe("SessionPayload");
    const wrong = await app.client().request(LogInDocument, { input: { email: t.email, password: "not the password" } });
    expect(wrong.logIn.__typename).toBe("InvalidCredentialsError");
    const unknown = await app.client().request(LogInDocument, { input: { email: "nobody@example.test", password: "whatever123" } });
    expect(unknown.logIn).toEqual(wrong.logIn);
  });

  it("slow password guessing down: after 10 wrong tries the account refuses even the right password for a while", async () => {
    const victim = await signUpTenant(app, "Guessed Org");
    for (let i = 0; i < 10; i++) {
      const wrong = await app.client().request(LogInDocument, { input: { email: victim.email, password: `guess-${i}-wrong` } });
      expect(wrong.logIn.__typename).toBe("InvalidCredentialsError");
    }
    const locked = await app.client().request(LogInDocument, { input: { email: victim.email, password: victim.password } });
    expect(locked.logIn).toMatchObject({ __typename: "TooManyAttemptsError", message: expect.stringMatching(/wait/) });
    const other = await app.client().request(LogInDocument, { input: { email: t.email, password: t.password } });
    expect(other.logIn.__typename).toBe("SessionPayload");
  });

  it("end at log-out: the token is refused afterwards", async () => {
    const login = await app.client().request(LogInDocument, { input: { email: t.email, password: t.password } });
    if (login.logIn.__typename !== "SessionPayload") throw new Error("login failed");
    const client = app.client(login.logIn.token);
    expect((await client.request(ViewerDocument)).viewer.user?.email).toBe(t.email);
    expect((await client.request(LogOutDocument)).logOut).toBe(true);
    expect(await errorCode(client.request(ViewerDocument))).toBe("UNAUTHENTICATED");
  });

  it("expire", async () => {
    const login = await app.client().request(LogInDocument, { input: { email: t.email, password: t.password } });
    if (login.logIn.__typename !== "SessionPayload") throw new Error("login failed");
    expect(new Date(login.logIn.expiresAt).getTime()).toBeGreaterThan(Date.now());
    const session = parseToken(login.logIn.token)!;
    await app.db.admin`update sessions set expires_at = now() - interval '1 second' where id = ${session.id}`;
    expect(await errorCode(app.client(login.logIn.token).request(ViewerDocument))).toBe("UNAUTHENTICATED");
  });

  it("store only a hash of the token", async () => {
    const [row] = await app.db.admin`select encode(secret_hash, 'hex') as h from sessions limit 1`;
    expect(row!.h).toMatch(/^[0-9a-f]{64}$/);
    const tokens = await app.db.admin`select count(*)::int as n from sessions where position(${t.token} in secret_hash::text) > 0`;
    expect(tokens[0]!.n).toBe(0);
  });

  it("are refused when malformed, forged or of the wrong kind, with a clear UNAUTHENTICATED", async () => {
    const forged = t.token.slice(0, -4) + (t.token.endsWith("AAAA") ? "BBBB" : "AAAA");
    for (const token of ["garbage", "lrs_short", forged, "lri_" + t.token.slice(4)]) {
      expect(await errorCode(app.client(token).request(ViewerDocument)), token).toBe("UNAUTHENTICATED");
    }
    const raw = await app.post({ query: "{ viewer { kind } }" }, { authorization: "Basic abc" });
    expect(raw.status).toBe(401);
    expect(raw.json.errors[0].extensions.code).toBe("UNAUTHENTICATED");
  });
});

describe("API keys", () => {
  it("show the secret once, keep only a hash, and work as bearer tokens", async () => {
    const key = await createKey(app, t.owner, ["read"]);
    expect(key.secret).toMatch(/^lrk_[A-Za-z0-9_-]{86}$/);
    const viewer = await key.client.request(ViewerDocument);
    expect(viewer.viewer).toMatchObject({ kind: "API_KEY", user: null, tenant: { uuid: t.tenantId } });
    const stored = await app.db.admin`select secret_hash, prefix from api_keys where prefix = ${key.secret.slice(0, 12)}`;
    expect(stored).toHaveLength(1);
    expect(Buffer.from(stored[0]!.secret_hash).toString("utf8")).not.toContain(key.secret.slice(12, 30));
    const listed = await t.owner.request(ApiKeysDocument, { first: 10 });
    expect(JSON.stringify(listed)).not.toContain(key.secret);
  });

  it("are refused once revoked or expired", async () => {
    const key = await createKey(app, t.owner, ["read"]);
    expect((await t.owner.request(RevokeApiKeyDocument, { id: key.id })).revokeApiKey.__typename).toBe("ApiKey");
    expect(await errorCode(key.client.request(TenantDocument))).toBe("UNAUTHENTICATED");

    const expiring = await createKey(app, t.owner, ["read"]);
    await app.db.admin`update api_keys set expires_at = now() - interval '1 second' where prefix = ${expiring.secret.slice(0, 12)}`;
    expect(await errorCode(expiring.client.request(TenantDocument))).toBe("UNAUTHENTICATED");
  });

  it("record when they were last used", async () => {
    const key = await createKey(app, t.owner, ["read"]);
    await key.client.request(TenantDocument);
    const [row] = await app.db.admin`select last_used_at from api_keys where prefix = ${key.secret.slice(0, 12)}`;
    expect(row!.last_used_at).toBeInstanceOf(Date);
  });

  it("can do only what their scopes allow, with a clear FORBIDDEN", async () => {
    const reader = await createKey(app, t.owner, ["read"]);
    expect((await reader.client.request(MembersDocument, { first: 5 })).tenant.members!.totalCount).toBeGreaterThan(0);
    expect(await errorCode(reader.client.request(CreateApiKeyDocument, { input: { name: "x", scopes: ["read"] } }))).toBe("FORBIDDEN");
    expect(await errorCode(reader.client.request(AuditLogDocument, { first: 5 }))).toBe("FORBIDDEN");
    const analytics = await createKey(app, t.owner, ["analytics"]);
    expect(await errorCode(analytics.client.request(MembersDocument, { first: 5 }))).toBe("FORBIDDEN");
  });

  it("cannot mint a key with more power than their own", async () => {
    const admin = await createKey(app, t.owner, ["admin"]);
    const ok = await admin.client.request(CreateApiKeyDocument, { input: { name: "ok", scopes: ["admin"] } });
    expect(ok.createApiKey.__typename).toBe("CreateApiKeyPayload");
    expect(await errorCode(admin.client.request(CreateApiKeyDocument, { input: { name: "more", scopes: ["issue"] } }))).toBe("FORBIDDEN");
  });

  it("reject an empty scope list, an unknown scope and a past expiry", async () => {
    const empty = await t.owner.request(CreateApiKeyDocument, { input: { name: "k", scopes: [] } });
    expect(empty.createApiKey).toMatchObject({ __typename: "ValidationError", fieldErrors: [{ path: ["input", "scopes"] }] });
    const past = await t.owner.request(CreateApiKeyDocument, { input: { name: "k", scopes: ["read"], expiresAt: "2001-01-01T00:00:00Z" } });
    expect(past.createApiKey.__typename).toBe("ValidationError");
    const unknown = await app.post(
      { query: "mutation { createApiKey(input: {name: \"k\", scopes: [superuser]}) { __typename } }" },
      { authorization: `Bearer ${t.token}` },
    );
    expect(unknown.json.errors[0].message).toMatch(/superuser/);
  });
});

describe("roles", () => {
  it("let an analyst read the tenant but never members' personal data", async () => {
    const analyst = await addMember("analyst");
    expect((await analyst.request(TenantDocument)).tenant.uuid).toBe(t.tenantId);
    expect(await errorCode(analyst.request(MembersDocument, { first: 5 }))).toBe("FORBIDDEN");
    const viewer = await analyst.request(ViewerDocument);
    expect(viewer.viewer.permissions).not.toContain("PERSONAL_READ");
  });

  it("let a viewer see members but not manage them", async () => {
    const viewer = await addMember("viewer");
    expect((await viewer.request(MembersDocument, { first: 50 })).tenant.members!.totalCount).toBeGreaterThan(1);
    expect(await errorCode(viewer.request(InviteMemberDocument, { input: { email: uniqueEmail(), role: "viewer" } }))).toBe("FORBIDDEN");
    expect(await errorCode(viewer.request(CreateApiKeyDocument, { input: { name: "k", scopes: ["read"] } }))).toBe("FORBIDDEN");
  });

  it("let an admin manage members but not owners", async () => {
    const admin = await addMember("admin");
    const members = await admin.request(MembersDocument, { first: 50 });
    const owner = members.tenant.members!.edges.find((e) => e.node.role === "owner")!;
    expect(await errorCode(admin.request(ChangeMemberRoleDocument, { input: { membershipId: owner.node.id, role: "viewer" } }))).toBe("FORBIDDEN");
    expect(await errorCode(admin.request(InviteMemberDocument, { input: { email: uniqueEmail(), role: "owner" } }))).toBe("FORBIDDEN");
    const invited = await admin.request(InviteMemberDocument, { input: { email: uniqueEmail(), role: "issuer" } });
    expect(invited.inviteMember.__typename).toBe("Invitation");
  });
});

describe("the last owner", () => {
  it("cannot be demoted or removed; with a second owner, can", async () => {
    const solo = await signUpTenant(app, "Solo Org");
    const members = await solo.owner.request(MembersDocument, { first: 5 });
    const me = members.tenant.members!.edges[0]!.node.id;
    expect((await solo.owner.request(ChangeMemberRoleDocument, { input: { membershipId: me, role: "admin" } })).changeMemberRole.__typename).toBe(
      "LastOwnerError",
    );
    expect((await solo.owner.request(RemoveMemberDocument, { membershipId: me })).removeMember.__typename).toBe("LastOwnerError");
    const [row] = await app.db.admin`select role from memberships where tenant_id = ${solo.tenantId}`;
    expect(row!.role).toBe("owner");
  });

  it("survives two owners demoting each other at the same moment", async () => {
    const org = await signUpTenant(app, "Two Owners");
    const email = uniqueEmail("second");
    await org.owner.request(InviteMemberDocument, { input: { email, role: "owner" } });
    const row = { token: await tokenSentTo(app, email) };
    const accepted = await app.client().request(AcceptInvitationDocument, { input: { token: row!.token, name: "Second", password: "a long enough password" } });
    if (accepted.acceptInvitation.__typename !== "AcceptInvitationPayload") throw new Error("accept failed");
    const second = app.client(accepted.acceptInvitation.token!);
    const edges = (await org.owner.request(MembersDocument, { first: 5 })).tenant.members!.edges;
    expect(edges.filter((e) => e.node.role === "owner")).toHaveLength(2);
    const firstId = edges.find((e) => e.node.user.email === org.email)!.node.id;
    const secondId = edges.find((e) => e.node.user.email === email)!.node.id;
    const results = await Promise.allSettled([
      org.owner.request(ChangeMemberRoleDocument, { input: { membershipId: secondId, role: "viewer" } }),
      second.request(ChangeMemberRoleDocument, { input: { membershipId: firstId, role: "viewer" } }),
    ]);
    const [owners] = await app.db.admin`select count(*)::int as n from memberships where tenant_id = ${org.tenantId} and role = 'owner'`;
    expect(owners!.n).toBe(1);
    // One demotion wins. The other is refused: as LastOwnerError if it ran second on the lock, or as
    // FORBIDDEN if its caller was already demoted when it authenticated.
    const outcomes = results.map((r) =>
      r.status === "fulfilled" ? r.value.changeMemberRole.__typename : (r.reason as LaurelRequestError).code,
    );
    expect(outcomes.filter((o) => o === "Membership")).toHaveLength(1);
    expect(outcomes.filter((o) => o === "LastOwnerError" || o === "FORBIDDEN")).toHaveLength(1);
  });
});

describe("invitations", () => {
  it("put an email with the accept link in the outbox, in the same transaction", async () => {
    const email = uniqueEmail("invitee");
    const invited = await t.owner.request(InviteMemberDocument, { input: { email, role: "issuer" } });
    expect(invited.inviteMember).toMatchObject({ __typename: "Invitation", email, role: "issuer", status: "PENDING" });
    const rows = await openedMessages(app, { toEmail: email });
    expect(rows).toHaveLength(1);
    expect(rows[0]!).toMatchObject({ kind: "invitation", status: "queued" });
    expect(rows[0]!.payload.acceptUrl).toContain("/invitations/accept#lri_");
    // Stored sealed: the row itself holds no plain address.
    expect(rows[0]!.raw.legacy_to_email).toBeNull();
    expect(Buffer.from(rows[0]!.raw.to_email_sealed as Uint8Array).toString("latin1")).not.toContain(email);
  });

  it("can be accepted once, by a new account, which then acts in the tenant", async () => {
    const email = uniqueEmail("joiner");
    await t.owner.request(InviteMemberDocument, { input: { email, role: "issuer" } });
    const row = { token: await tokenSentTo(app, email) };
    const accept = (input: { name?: string; password?: string }) =>
      app.client().request(AcceptInvitationDocument, { input: { token: row!.token, ...input } });
    const missing = await accept({});
    expect(missing.acceptInvitation).toMatchObject({ __typename: "InvitationError", reason: "ACCOUNT_DETAILS_REQUIRED" });
    const ok = await accept({ name: "Joiner", password: "a long enough password" });
    if (ok.acceptInvitation.__typename !== "AcceptInvitationPayload") throw new Error(JSON.stringify(ok));
    expect(ok.acceptInvitation).toMatchObject({ tenantId: t.tenantId, role: "issuer" });
    const viewer = await app.client(ok.acceptInvitation.token!).request(ViewerDocument);
    expect(viewer.viewer).toMatchObject({ role: "issuer", tenant: { uuid: t.tenantId } });
    const again = await accept({ name: "Joiner", password: "a long enough password" });
    expect(again.acceptInvitation).toMatchObject({ __typename: "InvitationError", reason: "INVALID" });
  });

  it("join an existing account to a second tenant, which it can switch to", async () => {
    const other = await signUpTenant(app, "Other Org");
    await other.owner.request(InviteMemberDocument, { input: { email: t.email, role: "viewer" } });
    const row = { token: await tokenSentTo(app, t.email, other.tenantId) };
    const anonymous = await app.client().request(AcceptInvitationDocument, { input: { token: row!.token, name: "x", password: "a long enough password" } });
    expect(anonymous.acceptInvitation).toMatchObject({ __typename: "InvitationError", reason: "LOGIN_REQUIRED" });
    const login = await app.client().request(LogInDocument, { input: { email: t.email, password: t.password } });
    if (login.logIn.__typename !== "SessionPayload") throw new Error("login failed");
    const me = app.client(login.logIn.token);
    const accepted = await me.request(AcceptInvitationDocument, { input: { token: row!.token } });
    expect(accepted.acceptInvitation.__typename).toBe("AcceptInvitationPayload");
    let viewer = await me.request(ViewerDocument);
    expect(viewer.viewer.tenant?.uuid).toBe(other.tenantId);
    expect(viewer.viewer.memberships.map((m) => m.tenantId).sort()).toEqual([t.tenantId, other.tenantId].sort());
    await me.request(SwitchTenantDocument, { tenantId: t.tenantId });
    viewer = await me.request(ViewerDocument);
    expect(viewer.viewer).toMatchObject({ role: "owner", tenant: { uuid: t.tenantId } });
  });

  it("are refused to a signed-in account with another email", async () => {
    const email = uniqueEmail("someone-else");
    await t.owner.request(InviteMemberDocument, { input: { email, role: "viewer" } });
    const row = { token: await tokenSentTo(app, email) };
    const stranger = await signUpTenant(app, "Stranger Org");
    const result = await stranger.owner.request(AcceptInvitationDocument, { input: { token: row!.token } });
    expect(result.acceptInvitation).toMatchObject({ __typename: "InvitationError", reason: "WRONG_ACCOUNT" });
  });

  it("stop working when revoked or replaced", async () => {
    const email = uniqueEmail("revoked");
    const first = await t.owner.request(InviteMemberDocument, { input: { email, role: "viewer" } });
    const firstRow = { token: await tokenSentTo(app, email) };
    await t.owner.request(InviteMemberDocument, { input: { email, role: "admin" } });
    const replaced = await app.client().request(AcceptInvitationDocument, { input: { token: firstRow!.token, name: "R", password: "a long enough password" } });
    expect(replaced.acceptInvitation).toMatchObject({ __typename: "InvitationError", reason: "INVALID" });
    const pending = await t.owner.request(InvitationsDocument, { first: 50, pendingOnly: true });
    const open = pending.tenant.invitations!.edges.filter((e) => e.node.email === email);
    expect(open.map((e) => e.node.role)).toEqual(["admin"]);
    if (first.inviteMember.__typename !== "Invitation") throw new Error("invite failed");
  });
});

describe("sign-up", () => {
  it("refuses a taken email or slug, a short password and an invalid email, and writes nothing", async () => {
    const base = { password: "a long enough password", name: "N", organizationName: "Org" };
    const taken = await app.client().request(SignUpDocument, { input: { ...base, email: t.email } });
    expect(taken.signUp.__typename).toBe("EmailTakenError");
    const short = await app.client().request(SignUpDocument, { input: { ...base, email: uniqueEmail(), password: "short" } });
    expect(short.signUp).toMatchObject({ __typename: "ValidationError", fieldErrors: [{ path: ["input", "password"] }] });
    const slug = await app.client().request(SignUpDocument, { input: { ...base, email: uniqueEmail(), organizationSlug: "Bad Slug!" } });
    expect(slug.signUp.__typename).toBe("ValidationError");
    const before = await app.db.admin`select count(*)::int as n from users`;
    const invalid = await app.post({
      query: "mutation($i: SignUpInput!) { signUp(input: $i) { __typename } }",
      variables: { i: { ...base, email: "not-an-email" } },
    });
    expect(invalid.json.errors[0].message).toMatch(/email/i);
    const after = await app.db.admin`select count(*)::int as n from users`;
    expect(after[0]!.n).toBe(before[0]!.n);
  });

  it("lets a signed-in user open another tenant", async () => {
    const created = await t.owner.request(CreateTenantDocument, { input: { name: "Second Campus" } });
    if (created.createTenant.__typename !== "CreateTenantPayload") throw new Error("create failed");
    const viewer = await t.owner.request(ViewerDocument);
    expect(viewer.viewer.memberships.map((m) => m.tenantId)).toContain(created.createTenant.tenantId);
  });
});
