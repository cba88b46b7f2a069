// Through the whole server and the SDK: tenant B holds valid credentials and tenant A's ids, and tries
// every door. Another tenant's row must look exactly like a row that does not exist.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ApiKeysDocument,
  AuditLogDocument,
  ChangeMemberRoleDocument,
  InviteMemberDocument,
  MembersDocument,
  NodeDocument,
  RemoveMemberDocument,
  RevokeApiKeyDocument,
  RevokeInvitationDocument,
  SwitchTenantDocument,
  TenantDocument,
  LogInDocument,
} from "../../src/sdk/generated.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { createKey, signUpTenant, type TestTenant } from "../helpers/factories.js";

let app: TestApp;
let a: TestTenant;
let b: TestTenant;
let aKeyId: string;
let aInvitationId: string;
let aMembershipId: string;

beforeAll(async () => {
  app = await startTestApp();
  [a, b] = await Promise.all([signUpTenant(app, "Alpha"), signUpTenant(app, "Beta")]);
  aKeyId = (await createKey(app, a.owner, ["read"])).id;
  const invite = await a.owner.request(InviteMemberDocument, { input: { email: "newcomer@alpha.test", role: "issuer" } });
  if (invite.inviteMember.__typename !== "Invitation") throw new Error("invite failed");
  aInvitationId = invite.inviteMember.id;
  const members = await a.owner.request(MembersDocument, { first: 10 });
  aMembershipId = members.tenant.members!.edges[0]!.node.id;
});
afterAll(async () => app.close());

describe("tenant B, holding tenant A's ids", () => {
  it("reads null through node() for each of A's objects, as for ids that never existed", async () => {
    for (const id of [aKeyId, aInvitationId, aMembershipId]) {
      expect((await a.owner.request(NodeDocument, { id })).node, "A sees its own").not.toBeNull();
      expect((await b.owner.request(NodeDocument, { id })).node).toBeNull();
    }
  });

  it("sees only its own rows in lists, nested relations and the audit log", async () => {
    const tenant = await b.owner.request(TenantDocument);
    expect(tenant.tenant.uuid).toBe(b.tenantId);
    const members = await b.owner.request(MembersDocument, { first: 100 });
    expect(members.tenant.members!.totalCount).toBe(1);
    expect(members.tenant.members!.edges.map((e) => e.node.user.email)).toEqual([b.email]);
    const keys = await b.owner.request(ApiKeysDocument, { first: 100, includeRevoked: true });
    expect(keys.tenant.apiKeys!.edges.map((e) => e.node.id)).not.toContain(aKeyId);
    const audit = await b.owner.request(AuditLogDocument, { first: 100 });
    const actions = audit.tenant.auditLog!.edges.map((e) => e.node);
    expect(actions.length).toBeGreaterThan(0);
    expect(actions.some((e) => e.targetId === a.tenantId || e.actorId === a.userId)).toBe(false);
    expect(actions.map((e) => e.action)).not.toContain("api_key.created");
  });

  it("gets NotFound, and changes nothing, when it revokes, re-roles or removes A's rows", async () => {
    const revoke = await b.owner.request(RevokeApiKeyDocument, { id: aKeyId });
    expect(revoke.revokeApiKey.__typename).toBe("NotFoundError");
    const revokeInvite = await b.owner.request(RevokeInvitationDocument, { id: aInvitationId });
    expect(revokeInvite.revokeInvitation.__typename).toBe("NotFoundError");
    const role = await b.owner.request(ChangeMemberRoleDocument, { input: { membershipId: aMembershipId, role: "viewer" } });
    expect(role.changeMemberRole.__typename).toBe("NotFoundError");
    const remove = await b.owner.request(RemoveMemberDocument, { membershipId: aMembershipId });
    expect(remove.removeMember.__typename).toBe("NotFoundError");

    const node = await a.owner.request(NodeDocument, { id: aKeyId });
    expect(node.node).toMatchObject({ __typename: "ApiKey", revokedAt: null });
    const members = await a.owner.request(MembersDocument, { first: 10 });
    expect(members.tenant.members!.edges.map((e) => e.node.role)).toEqual(["owner"]);
  });

  it("cannot switch its session into A or log in to A", async () => {
    const sw = await b.owner.request(SwitchTenantDocument, { tenantId: a.tenantId });
    expect(sw.switchTenant.__typename).toBe("NotFoundError");
    const login = await app.client().request(LogInDocument, { input: { email: b.email, password: b.password, tenantId: a.tenantId } });
    expect(login.logIn.__typename).toBe("NotFoundError");
    const tenant = await b.owner.request(TenantDocument);
    expect(tenant.tenant.uuid).toBe(b.tenantId);
  });

  it("with an API key of its own, still sees only itself", async () => {
    const key = await createKey(app, b.owner, ["read", "admin"]);
    const keys = await key.client.request(ApiKeysDocument, { first: 100, includeRevoked: true });
    expect(keys.tenant.apiKeys!.edges.every((e) => e.node.id !== aKeyId)).toBe(true);
    expect((await key.client.request(NodeDocument, { id: aKeyId })).node).toBeNull();
  });

  it("leaves A's audit log without a trace of B's attempts", async () => {
    const audit = await a.owner.request(AuditLogDocument, { first: 100 });
    const actors = new Set(audit.tenant.auditLog!.edges.map((e) => e.node.actorId));
    expect(actors.has(b.userId)).toBe(false);
  });
});
