// Members, their user profiles and invitations, with the mutations that change them.
import { builder } from "../../builder.js";
import { MemberRole } from "../../generated/prisma/enums.js";
import { NotFoundError, ValidationError } from "../../errors.js";
import { callerOf } from "../common/caller.js";
import { connectionComplexity, tenantKey, uuidKey } from "../common/nodes.js";
import { ErrorInterface, errorType } from "../common/schema.js";
import { encodeGlobalID } from "@pothos/plugin-relay";
import { TenantRef } from "../tenants/schema.js";
import {
  AlreadyMemberError,
  InvitationError,
  LastOwnerError,
  acceptInvitation,
  changeMemberRole,
  inviteMember,
  removeMember,
  revokeInvitation,
} from "./service.js";
import { switchTenant } from "../auth/service.js";
import { requireWayInAlone, type Context } from "../../context.js";
import { forgetCallersAfterCommit } from "../auth/auth-cache.js";
import { mailSettings } from "../delivery/compose.js";

export const MemberRoleEnum = builder.enumType(MemberRole, { name: "MemberRole" });

export const UserRef = builder.prismaNode("User", {
  id: { field: "id" },
  findUnique: (id) => uuidKey(id),
  nullable: true,
  fields: (t) => ({
    uuid: t.exposeString("id"),
    name: t.exposeString("name"),
    email: t.exposeString("email", {
      nullable: true,
      description: "Visible to the user themself and to members who may read the member list.",
      authScopes: (user, _args, ctx) =>
        (ctx.viewer.kind === "user" && ctx.viewer.userId === user.id) || ctx.permissions.has("members:read"),
    }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
  }),
});

builder.prismaNode("Membership", {
  id: { resolve: (m) => m.id },
  nullable: true, // node(id) of a row this tenant cannot see is null, exactly as for an unknown id
  findUnique: (id, ctx) => tenantKey(id, ctx),
  authScopes: { permission: "members:read" },
  fields: (t) => ({
    role: t.expose("role", { type: MemberRoleEnum }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    user: t.relation("user"),
  }),
});

const InvitationStatus = builder.enumType("InvitationStatus", { values: ["PENDING", "ACCEPTED", "REVOKED", "EXPIRED"] as const });

import { tenantKeys } from "../vault/vault.js";
import { openInvitationEmail } from "./invitation-email.js";

export const InvitationRef = builder.prismaNode("Invitation", {
  id: { resolve: (i) => i.id },
  nullable: true, // node(id) of a row this tenant cannot see is null, exactly as for an unknown id
  findUnique: (id, ctx) => tenantKey(id, ctx),
  authScopes: { permission: "members:manage" },
  fields: (t) => ({
    email: t.string({
      select: { tenantId: true, id: true, keyVersion: true, emailSealed: true, legacyEmail: true },
      resolve: async (i, _a, ctx) => openInvitationEmail(await tenantKeys(ctx.db, i.tenantId), i),
    }),
    role: t.expose("role", { type: MemberRoleEnum }),
    status: t.field({
      type: InvitationStatus,
      select: { acceptedAt: true, revokedAt: true, expiresAt: true },
      resolve: (i) => (i.acceptedAt ? "ACCEPTED" : i.revokedAt ? "REVOKED" : i.expiresAt <= new Date() ? "EXPIRED" : "PENDING"),
    }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    expiresAt: t.expose("expiresAt", { type: "DateTime" }),
    acceptedAt: t.expose("acceptedAt", { type: "DateTime", nullable: true }),
    revokedAt: t.expose("revokedAt", { type: "DateTime", nullable: true }),
    invitedBy: t.relation("invitedBy", { nullable: true }),
  }),
});

builder.prismaObjectField(TenantRef, "invitations", (t) =>
  t.relatedConnection("invitations", {
    cursor: "tenantId_id",
    nullable: true,
    authScopes: { permission: "members:manage" },
    totalCount: true,
    complexity: connectionComplexity,
    args: { pendingOnly: t.arg.boolean({ defaultValue: false }) },
    query: (args) => ({
      where: args.pendingOnly ? { acceptedAt: null, revokedAt: null, expiresAt: { gt: new Date() } } : {},
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    }),
  }),
);

errorType(LastOwnerError, "LastOwnerError", "The change would leave the tenant without an owner.");
errorType(AlreadyMemberError, "AlreadyMemberError", "The person already belongs to this tenant.");
const InvitationProblemEnum = builder.enumType("InvitationProblem", {
  values: ["INVALID", "LOGIN_REQUIRED", "WRONG_ACCOUNT", "ACCOUNT_DETAILS_REQUIRED"] as const,
});
builder.objectType(InvitationError, {
  name: "InvitationError",
  interfaces: [ErrorInterface],
  fields: (t) => ({ reason: t.expose("reason", { type: InvitationProblemEnum }) }),
});

const InviteMemberInput = builder.inputType("InviteMemberInput", {
  fields: (t) => ({
    email: t.field({ type: "EmailAddress", required: true }),
    role: t.field({ type: MemberRoleEnum, required: true }),
  }),
});

builder.mutationField("inviteMember", (t) =>
  t.prismaField({
    type: "Invitation",
    description: "Invites a person by email; the email (with the accept link) goes out through the outbox.",
    authScopes: { permission: "members:manage" },
    errors: { types: [ValidationError, AlreadyMemberError] },
    args: { input: t.arg({ type: InviteMemberInput, required: true }) },
    resolve: (_query, _root, { input }, ctx) =>
      inviteMember(ctx.db, callerOf(ctx), input, { publicUrl: ctx.app.config.publicUrl, ttlHours: ctx.app.config.invitationTtlHours, mail: mailSettings(ctx.app.config) }),
  }),
);

builder.mutationField("revokeInvitation", (t) =>
  t.prismaField({
    type: "Invitation",
    authScopes: { permission: "members:manage" },
    errors: { types: [NotFoundError] },
    args: { id: t.arg.globalID({ required: true, for: InvitationRef }) },
    resolve: (_query, _root, { id }, ctx) => revokeInvitation(ctx.db, callerOf(ctx), id.id),
  }),
);

const AcceptInvitationInput = builder.inputType("AcceptInvitationInput", {
  fields: (t) => ({
    token: t.string({ required: true }),
    name: t.string({ description: "Needed when the invitation creates a new account" }),
    password: t.string({ description: "Needed when the invitation creates a new account" }),
  }),
});

const AcceptInvitationPayload = builder.simpleObject("AcceptInvitationPayload", {
  fields: (t) => ({
    tenantId: t.id(),
    role: t.field({ type: MemberRoleEnum }),
    token: t.string({ nullable: true, description: "A new session token, when the invitation created the account" }),
    expiresAt: t.field({ type: "DateTime", nullable: true }),
  }),
});

builder.mutationField("acceptInvitation", (t) =>
  t.field({
    type: AcceptInvitationPayload,
    description: "Joins the tenant: as the signed-in user the invitation was sent to, or by creating that account.",
    errors: { types: [ValidationError, InvitationError, AlreadyMemberError] },
    args: { input: t.arg({ type: AcceptInvitationInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      if (ctx.viewer.kind !== "user") requireWayInAlone(ctx, "acceptInvitation");
      const accepted = await acceptInvitation(ctx.db, input, { ttlHours: ctx.app.config.sessionTtlHours, userAgent: ctx.userAgent });
      if (ctx.viewer.kind === "user") {
        const sessionId = ctx.viewer.sessionId;
        await switchTenant(ctx.db, sessionId, accepted.tenantId);
        forgetCallersAfterCommit(ctx, (v) => v.kind === "user" && v.sessionId === sessionId);
      }
      const session = accepted.session;
      return { tenantId: accepted.tenantId, role: accepted.role, token: session?.token ?? null, expiresAt: session?.expiresAt ?? null };
    },
  }),
);

const ChangeMemberRoleInput = builder.inputType("ChangeMemberRoleInput", {
  fields: (t) => ({
    membershipId: t.globalID({ required: true }),
    role: t.field({ type: MemberRoleEnum, required: true }),
  }),
});

builder.mutationField("changeMemberRole", (t) =>
  t.prismaField({
    type: "Membership",
    authScopes: { permission: "members:manage" },
    errors: { types: [NotFoundError, LastOwnerError] },
    args: { input: t.arg({ type: ChangeMemberRoleInput, required: true }) },
    resolve: (_query, _root, { input }, ctx) => {
      if (input.membershipId.typename !== "Membership") throw new NotFoundError("Membership");
      forgetTenantCallers(ctx);
      return changeMemberRole(ctx.db, callerOf(ctx), input.membershipId.id, input.role);
    },
  }),
);

/** A role change or removal narrows the member's sessions and may revoke keys they made: this process forgets the tenant's callers. */
const forgetTenantCallers = (ctx: Context) => forgetCallersAfterCommit(ctx, (v) => v.tenantId === ctx.tenantId);

const RemoveMemberPayload = builder.simpleObject("RemoveMemberPayload", {
  fields: (t) => ({ removedMembershipId: t.id() }),
});

builder.mutationField("removeMember", (t) =>
  t.field({
    type: RemoveMemberPayload,
    authScopes: { permission: "members:manage" },
    errors: { types: [NotFoundError, LastOwnerError] },
    args: { membershipId: t.arg.globalID({ required: true }) },
    resolve: async (_root, { membershipId }, ctx) => {
      if (membershipId.typename !== "Membership") throw new NotFoundError("Membership");
      forgetTenantCallers(ctx);
      await removeMember(ctx.db, callerOf(ctx), membershipId.id);
      return { removedMembershipId: encodeGlobalID("Membership", membershipId.id) };
    },
  }),
);
