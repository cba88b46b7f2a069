// Nobody gives anyone a permission they do not hold themselves (issue 8 C): a key scoped admin could
// invite or promote an admin, who then held issue, personal:read and export, which the key never had.
// Every path that grants is tried: invitations, role changes, promotion to owner, new API keys; and
// the database's own owner rule is tried without the application in front of it.
import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AcceptInvitationDocument,
  ChangeMemberRoleDocument,
  CreateApiKeyDocument,
  InviteMemberDocument,
  MembersDocument,
  type ApiKeyScope,
  type MemberRole,
} from "../../src/sdk/generated.js";
import { LaurelRequestError, type LaurelClient } from "../../src/sdk/index.js";
import { withTenantSql } from "../../src/db/tenant-transaction.js";
import { sealInvitationEmail } from "../../src/modules/members/invitation-email.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { createKey, signUpTenant, uniqueEmail, type TestTenant } from "../helpers/factories.js";
import { keysOf, openedInvitations, tokenSentTo } from "../helpers/sealed.js";

let app: TestApp;
let t: TestTenant;
beforeAll(async () => {
  app = await startTestApp();
  t = await signUpTenant(app, "Grant Academy");
});
afterAll(async () => app.close());

const ROLES: MemberRole[] = ["owner", "admin", "issuer", "analyst", "viewer"];

async function forbidden(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error, "expected FORBIDDEN").toBeInstanceOf(LaurelRequestError);
  expect((error as LaurelRequestError).code).toBe("FORBIDDEN");
  return (error as Error).message;
}

/** A member with `role`, through a real invitation accepted as a new account. */
async function member(role: MemberRole): Promise<{ client: LaurelClient; membershipId: string; email: string }> {
  const email = uniqueEmail(role);
  await t.owner.request(InviteMemberDocument, { input: { email, role } });
  const token = await tokenSentTo(app, email, t.tenantId);
  const accepted = await app.client().request(AcceptInvitationDocument, { input: { token, name: role, password: "a long enough password" } });
  if (accepted.acceptInvitation.__typename !== "AcceptInvitationPayload") throw new Error(JSON.stringify(accepted));
  const members = await t.owner.request(MembersDocument, { first: 100 });
  const membershipId = members.tenant.members!.edges.find((e) => e.node.user.email === email)!.node.id;
  return { client: app.client(accepted.acceptInvitation.token!), membershipId, email };
}

// Addresses are sealed: the tenant's invitations are opened with its keys and matched on the opened address.
const invitationsTo = async (email: string) => (await openedInvitations(app, t.tenantId)).filter((i) => i.email === email).map((i) => ({ role: i.role }));
const roleOf = async (membershipId: string) => (await t.owner.request(MembersDocument, { first: 100 })).tenant.members!.edges.find((e) => e.node.id === membershipId)!.node.role;

describe("a key scoped admin", () => {
  it("cannot invite anyone to a role that holds what it lacks: admin, nor any other", async () => {
    const admin = await createKey(app, t.owner, ["admin"]);
    for (const role of ROLES) {
      const email = uniqueEmail(`by-key-${role}`);
      const message = await forbidden(admin.client.request(InviteMemberDocument, { input: { email, role } }));
      if (role === "admin") expect(message).toMatch(/issue.*personal:read|personal:read.*issue/);
      expect(await invitationsTo(email), role).toHaveLength(0);
    }
  });

  it("cannot promote a member to admin, or to any role above what it holds", async () => {
    const admin = await createKey(app, t.owner, ["admin"]);
    const viewer = await member("viewer");
    for (const role of ["admin", "issuer", "analyst", "owner"] as const) {
      await forbidden(admin.client.request(ChangeMemberRoleDocument, { input: { membershipId: viewer.membershipId, role } }));
    }
    expect(await roleOf(viewer.membershipId)).toBe("viewer");
  });

  it("cannot mint a key with a scope beyond its own", async () => {
    const admin = await createKey(app, t.owner, ["admin"]);
    for (const scope of ["issue", "read", "analytics", "export", "privacy"] as ApiKeyScope[]) {
      await forbidden(admin.client.request(CreateApiKeyDocument, { input: { name: "more", scopes: ["admin", scope] } }));
    }
    expect((await admin.client.request(CreateApiKeyDocument, { input: { name: "same", scopes: ["admin"] } })).createApiKey.__typename).toBe(
      "CreateApiKeyPayload",
    );
  });
});

describe("a key holding every scope", () => {
  it("may grant the admin role, whose permissions it holds, but never owner", async () => {
    const full = await createKey(app, t.owner, ["admin", "read", "issue", "analytics", "export", "privacy"]);
    const email = uniqueEmail("by-full-key");
    expect((await full.client.request(InviteMemberDocument, { input: { email, role: "admin" } })).inviteMember.__typename).toBe("Invitation");
    const viewer = await member("viewer");
    const promoted = await full.client.request(ChangeMemberRoleDocument, { input: { membershipId: viewer.membershipId, role: "admin" } });
    expect(promoted.changeMemberRole).toMatchObject({ __typename: "Membership", role: "admin" });
    await forbidden(full.client.request(InviteMemberDocument, { input: { email: uniqueEmail(), role: "owner" } }));
    await forbidden(full.client.request(ChangeMemberRoleDocument, { input: { membershipId: viewer.membershipId, role: "owner" } }));
  });
});

describe("an admin member", () => {
  it("grants up to admin, never owner, and cannot demote an owner", async () => {
    const admin = await member("admin");
    const viewer = await member("viewer");
    expect((await admin.client.request(ChangeMemberRoleDocument, { input: { membershipId: viewer.membershipId, role: "issuer" } })).changeMemberRole).toMatchObject({
      role: "issuer",
    });
    await forbidden(admin.client.request(ChangeMemberRoleDocument, { input: { membershipId: viewer.membershipId, role: "owner" } }));
    await forbidden(admin.client.request(InviteMemberDocument, { input: { email: uniqueEmail(), role: "owner" } }));
    const owner = (await t.owner.request(MembersDocument, { first: 100 })).tenant.members!.edges.find((e) => e.node.role === "owner")!;
    await forbidden(admin.client.request(ChangeMemberRoleDocument, { input: { membershipId: owner.node.id, role: "viewer" } }));
    expect(await roleOf(owner.node.id)).toBe("owner");
  });
});

describe("the database itself", () => {
  it("lets only an owner make or unmake an owner, whatever the caller got past", async () => {
    const admin = await member("admin");
    const viewer = await member("viewer");
    const idOf = async (email: string) =>
      (await app.db.admin`select m.id, m.user_id from memberships m join users u on u.id = m.user_id where u.email = ${email}`)[0]!;
    const [adminRow, viewerRow] = [await idOf(admin.email), await idOf(viewer.email)];
    const [ownerRow] = await app.db.admin`select id from memberships where tenant_id = ${t.tenantId} and role = 'owner'`;
    const asUser = (userId: string | null, statement: string) =>
      withTenantSql(app.database.sql, { dbRole: app.config.roles.member, tenantId: t.tenantId, userId }, (tx) => tx.unsafe(statement));
    const viewerId = viewerRow.id as string;
    // A well-formed sealed invitation (what the app itself would write), so the owner rule is the only thing that can refuse it.
    const keys = await keysOf(app, t.tenantId);
    const hex = (b: Uint8Array) => `'\\x${Buffer.from(b).toString("hex")}'`;
    for (const userId of [adminRow.user_id as string, null]) {
      await expect(asUser(userId, `update memberships set role = 'owner' where id = '${viewerId}'`)).rejects.toMatchObject({ code: "LROWN" });
      await expect(asUser(userId, `update memberships set role = 'viewer' where id = '${ownerRow!.id}'`)).rejects.toMatchObject({ code: "LROWN" });
      const id = randomUUID();
      const sealed = sealInvitationEmail(keys, id, randomBytes(32), "x@example.test");
      await expect(
        asUser(userId, `insert into invitations (tenant_id, id, key_version, email_sealed, email_index, invitee_email_sealed, email_check, role, secret_hash, expires_at)
                        values ('${t.tenantId}', '${id}', ${sealed.keyVersion}, ${hex(sealed.emailSealed)}, ${hex(keys.blindIndex("email", "x@example.test"))},
                                ${hex(sealed.inviteeEmailSealed)}, ${hex(sealed.emailCheck)}, 'owner', '\\x${"00".repeat(32)}', now() + interval '1 day')`),
      ).rejects.toMatchObject({ code: "LROWN" });
    }
    await asUser(t.userId, `update memberships set role = 'owner' where id = '${viewerId}'`);
    expect(await roleOf(viewer.membershipId)).toBe("owner");
  });
});
