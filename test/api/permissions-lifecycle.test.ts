// What a member handed out does not outlive their right to hand it out (README, "Using the API"): when
// a member is removed (or leaves), every API key they created is revoked, their pending invitations are
// revoked, and their sessions no longer reach the tenant. When a member is demoted, their keys and
// pending invitations that hold more than the new role are revoked; the rest keep working. And a tenant
// keeps its owners: an admin cannot remove or demote one, nobody removes or demotes the last.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AcceptInvitationDocument,
  ChangeMemberRoleDocument,
  CreateApiKeyDocument,
  InviteMemberDocument,
  MembersDocument,
  RemoveMemberDocument,
  type ApiKeyScope,
  type MemberRole,
} from "../../src/sdk/generated.js";
import { LaurelRequestError, type LaurelClient } from "../../src/sdk/index.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { createKey, signUpTenant, uniqueEmail, type TestTenant } from "../helpers/factories.js";
import { tokenSentTo } from "../helpers/sealed.js";

let app: TestApp;
let t: TestTenant;
beforeAll(async () => {
  app = await startTestApp();
  t = await signUpTenant(app, "Lifecycle College");
});
afterAll(async () => app?.close());

async function tokenFor(email: string, name: string): Promise<string> {
  const row = { token: await tokenSentTo(app, email) };
  const accepted = await app.client().request(AcceptInvitationDocument, { input: { token: row!.token, name, password: "a long enough password" } });
  if (accepted.acceptInvitation.__typename !== "AcceptInvitationPayload") throw new Error(JSON.stringify(accepted));
  return accepted.acceptInvitation.token!;
}

async function member(role: MemberRole): Promise<{ token: string; client: LaurelClient; membershipId: string }> {
  const email = uniqueEmail(role);
  await t.owner.request(InviteMemberDocument, { input: { email, role } });
  const token = await tokenFor(email, role);
  const members = await t.owner.request(MembersDocument, { first: 100 });
  const membershipId = members.tenant.members!.edges.find((e) => e.node.user.email === email)!.node.id;
  return { token, client: app.client(token), membershipId };
}

/** What a token may do in the tenant now: its tenant's id, or the error code it gets instead. */
async function reach(token: string): Promise<string> {
  const { json } = await app.post({ query: "{ tenant { id } }" }, { authorization: `Bearer ${token}` });
  return json.data?.tenant?.id ? "tenant" : (json.errors?.[0]?.extensions?.code ?? JSON.stringify(json));
}

async function invite(client: LaurelClient, role: MemberRole): Promise<string> {
  const email = uniqueEmail(`by-member-${role}`);
  const res = await client.request(InviteMemberDocument, { input: { email, role } });
  expect(res.inviteMember.__typename).toBe("Invitation");
  return email;
}

async function acceptAs(email: string) {
  const row = { token: await tokenSentTo(app, email) };
  return (await app.client().request(AcceptInvitationDocument, { input: { token: row!.token, name: "Late", password: "a long enough password" } })).acceptInvitation;
}

const key = (client: LaurelClient, scopes: ApiKeyScope[]) => createKey(app, client, scopes, `made by a member: ${scopes.join("+")}`);

async function code(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(() => null, (e: unknown) => e);
  expect(error).toBeInstanceOf(LaurelRequestError);
  return (error as LaurelRequestError).code ?? "";
}

describe("a removed member", () => {
  it("leaves behind no working key, no open invitation and no session that reaches the tenant", async () => {
    const admin = await member("admin");
    const keys = [await key(admin.client, ["read", "issue"]), await key(admin.client, ["analytics"])];
    const ownersKey = await key(t.owner, ["read"]);
    const invitee = await invite(admin.client, "issuer");
    for (const k of keys) expect(await reach(k.secret)).toBe("tenant");

    const removed = await t.owner.request(RemoveMemberDocument, { membershipId: admin.membershipId });
    expect(removed.removeMember.__typename).toBe("RemoveMemberPayload");

    for (const k of keys) expect(await reach(k.secret)).toBe("UNAUTHENTICATED");
    expect(await reach(admin.token)).toBe("FORBIDDEN"); // still a user, of no tenant
    expect(await reach(ownersKey.secret)).toBe("tenant"); // someone else's key is not theirs
    expect(await acceptAs(invitee)).toMatchObject({ __typename: "InvitationError", reason: "INVALID" });
    const audit = await app.db.admin`select action from audit_log where tenant_id = ${t.tenantId} and action in ('api_key.revoked', 'member.invitation_revoked')`;
    expect(audit.map((a) => a.action).sort()).toEqual(["api_key.revoked", "api_key.revoked", "member.invitation_revoked"]);
  });

  it("who leaves by themself leaves nothing working behind either", async () => {
    const admin = await member("admin");
    const k = await key(admin.client, ["issue"]);
    const me = await admin.client.request(MembersDocument, { first: 100 });
    const own = me.tenant.members!.edges.find((e) => e.node.id === admin.membershipId)!;
    expect((await admin.client.request(RemoveMemberDocument, { membershipId: own.node.id })).removeMember.__typename).toBe("RemoveMemberPayload");
    expect(await reach(k.secret)).toBe("UNAUTHENTICATED");
  });
});

describe("a demoted member", () => {
  it("keeps only the keys and invitations the new role could have made", async () => {
    const admin = await member("admin");
    const personal = await key(admin.client, ["read"]);
    const issuing = await key(admin.client, ["issue"]);
    const counting = await key(admin.client, ["analytics"]);
    const viewerInvite = await invite(admin.client, "viewer");
    const analystInvite = await invite(admin.client, "analyst");

    const changed = await t.owner.request(ChangeMemberRoleDocument, { input: { membershipId: admin.membershipId, role: "analyst" } });
    expect(changed.changeMemberRole).toMatchObject({ __typename: "Membership", role: "analyst" });

    expect(await reach(personal.secret)).toBe("UNAUTHENTICATED");
    expect(await reach(issuing.secret)).toBe("UNAUTHENTICATED");
    expect(await reach(counting.secret)).toBe("tenant"); // analytics is an analyst's own
    expect(await acceptAs(viewerInvite)).toMatchObject({ __typename: "InvitationError", reason: "INVALID" });
    expect(await acceptAs(analystInvite)).toMatchObject({ __typename: "AcceptInvitationPayload", role: "analyst" });
    expect(await reach(admin.token)).toBe("tenant");
    expect(await code(admin.client.request(MembersDocument, { first: 5 }))).toBe("FORBIDDEN"); // an analyst's session, now
  });
});

describe("owners", () => {
  it("cannot be removed or demoted by an admin, person or key", async () => {
    const admin = await member("admin");
    const adminKey = await key(t.owner, ["admin"]);
    const members = await t.owner.request(MembersDocument, { first: 100 });
    const owner = members.tenant.members!.edges.find((e) => e.node.role === "owner")!.node.id;
    for (const client of [admin.client, adminKey.client]) {
      expect(await code(client.request(RemoveMemberDocument, { membershipId: owner }))).toBe("FORBIDDEN");
      expect(await code(client.request(ChangeMemberRoleDocument, { input: { membershipId: owner, role: "admin" } }))).toBe("FORBIDDEN");
    }
    expect(await reach(t.token)).toBe("tenant");
  });

  it("the last owner can neither leave nor be demoted: a typed LastOwnerError", async () => {
    const members = await t.owner.request(MembersDocument, { first: 100 });
    const owner = members.tenant.members!.edges.find((e) => e.node.role === "owner")!.node.id;
    expect((await t.owner.request(RemoveMemberDocument, { membershipId: owner })).removeMember.__typename).toBe("LastOwnerError");
    expect((await t.owner.request(ChangeMemberRoleDocument, { input: { membershipId: owner, role: "admin" } })).changeMemberRole.__typename).toBe("LastOwnerError");
  });
});

describe("a key that creates a key", () => {
  it("cannot make one that outlives itself: a typed ValidationError on expiresAt", async () => {
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString();
    const made = await app.post(
      { query: `mutation { createApiKey(input: { name: "expiring", scopes: [admin], expiresAt: ${JSON.stringify(tomorrow)} }) { __typename ... on CreateApiKeyPayload { secret } } }` },
      { authorization: `Bearer ${t.token}` },
    );
    const expiring = app.client(made.json.data.createApiKey.secret);
    const forever = await expiring.request(CreateApiKeyDocument, { input: { name: "forever", scopes: ["admin"] } });
    expect(forever.createApiKey).toMatchObject({ __typename: "ValidationError", fieldErrors: [{ path: ["input", "expiresAt"] }] });
    const later = await expiring.request(CreateApiKeyDocument, { input: { name: "later", scopes: ["admin"], expiresAt: new Date(Date.now() + 2 * 86_400_000).toISOString() } });
    expect(later.createApiKey.__typename).toBe("ValidationError");
    const within = await expiring.request(CreateApiKeyDocument, { input: { name: "within", scopes: ["admin"], expiresAt: new Date(Date.now() + 3_600_000).toISOString() } });
    expect(within.createApiKey.__typename).toBe("CreateApiKeyPayload");
    // A key without an expiry may make keys with any expiry, or none.
    const open = await createKey(app, t.owner, ["admin"]);
    expect((await open.client.request(CreateApiKeyDocument, { input: { name: "open", scopes: ["admin"] } })).createApiKey.__typename).toBe("CreateApiKeyPayload");
  });
});
