// Who belongs to a tenant and with which role: invitations, role changes, removals. A tenant always
// keeps an owner: owner rows are locked before any change that could remove one (the trigger in
// sql/002 is the backstop).
import { tenantKeys } from "../vault/vault.js";
import { openInviteeEmail, sealInvitationEmail } from "./invitation-email.js";
import type { Db } from "../../db/tenant-transaction.js";
import type { MemberRole } from "../../generated/prisma/enums.js";
import { pgError } from "../../db/errors.js";
import { ExpectedError, NotFoundError, ValidationError, forbidden } from "../../errors.js";
import { recordAudit } from "../audit/service.js";
import { enqueueEmail } from "../outbox/service.js";
import type { MailSettings } from "../delivery/compose.js";
import { isUuid, type Caller } from "../common/caller.js";
import { issueToken, parseToken } from "../auth/tokens.js";
import { checkPassword, newSession, type SessionGrant, type SessionOptions } from "../auth/service.js";
import { hashPassword } from "../auth/passwords.js";
import { assertMayGrant, missingPermissions, permissionsForScopes, ROLE_PERMISSIONS, type Permission } from "../auth/permissions.js";

export class LastOwnerError extends ExpectedError {
  override name = "LastOwnerError";
  constructor() {
    super("A tenant must keep at least one owner: make someone else owner first");
  }
}
export class AlreadyMemberError extends ExpectedError {
  override name = "AlreadyMemberError";
  constructor() {
    super("This person is already a member of the tenant");
  }
}
export type InvitationProblem = "INVALID" | "LOGIN_REQUIRED" | "WRONG_ACCOUNT" | "ACCOUNT_DETAILS_REQUIRED";
export class InvitationError extends ExpectedError {
  override name = "InvitationError";
  constructor(
    readonly reason: InvitationProblem,
    message: string,
  ) {
    super(message);
  }
}

function requireOwnerRights(caller: Caller, ...roles: (MemberRole | undefined)[]) {
  if (roles.includes("owner") && !caller.permissions.has("owners:manage")) {
    throw forbidden("Only an owner can grant, change or remove the owner role");
  }
}

/** A caller hands out a role only if it holds every permission of that role itself (issue 8 C). */
function requireMayGrantRole(caller: Caller, role: MemberRole) {
  requireOwnerRights(caller, role);
  assertMayGrant(caller.permissions, ROLE_PERMISSIONS[role], `the ${role} role`);
}

/** The database's own owner rule (sql/017) holds even where the check above was passed. */
function refuseOwnerChange(error: unknown): never {
  if (pgError(error)?.code === "LROWN") throw forbidden("Only an owner can grant, change or remove the owner role");
  throw error;
}

export interface InviteInput {
  email: string;
  role: MemberRole;
}

export async function inviteMember(db: Db, caller: Caller, input: InviteInput, opts: { publicUrl: string; ttlHours: number; mail: MailSettings }) {
  requireMayGrantRole(caller, input.role);
  const email = input.email.toLowerCase();
  const existing = await db.membership.findFirst({
    where: { tenantId: caller.tenantId, user: { email } },
    select: { id: true },
  });
  if (existing) throw new AlreadyMemberError();
  // A new invitation replaces an open one: the old link stops working.
  const keys = await tenantKeys(db, caller.tenantId);
  const emailIndex = keys.blindIndex("email", email);
  await db.invitation.updateMany({
    where: { tenantId: caller.tenantId, OR: [{ emailIndex }, { legacyEmail: email }], acceptedAt: null, revokedAt: null },
    data: { revokedAt: new Date() },
  });
  const issued = issueToken("invitation", caller.tenantId);
  const invitation = await db.invitation
    .create({
      data: {
        tenantId: caller.tenantId,
        id: issued.id,
        ...sealInvitationEmail(keys, issued.id, issued.secret, email),
        emailIndex,
        role: input.role,
        secretHash: issued.secretHash,
        invitedByUserId: caller.actor.kind === "user" ? caller.actor.id : null,
        expiresAt: new Date(Date.now() + opts.ttlHours * 3_600_000),
      },
    })
    .catch(refuseOwnerChange);
  const tenant = await db.tenant.findUniqueOrThrow({ where: { id: caller.tenantId }, select: { name: true } });
  await enqueueEmail(db, caller.tenantId, {
    kind: "invitation",
    toEmail: email,
    idempotencyKey: `invitation:${invitation.id}`,
    payload: {
      tenantName: tenant.name,
      role: input.role,
      acceptUrl: `${opts.publicUrl}/invitations/accept#${issued.token}`,
      token: issued.token,
      expiresAt: invitation.expiresAt.toISOString(),
    },
  }, opts.mail);
  await recordAudit(db, caller, {
    action: "member.invited",
    targetType: "Invitation",
    targetId: invitation.id,
    // Ids only: an address in the audit log would outlive its sealing (and the invitee's erasure).
    details: { role: input.role },
  });
  return invitation;
}

export async function revokeInvitation(db: Db, caller: Caller, id: string) {
  const invitation = isUuid(id) ? await db.invitation.findUnique({ where: { tenantId_id: { tenantId: caller.tenantId, id } } }) : null;
  if (!invitation) throw new NotFoundError("Invitation");
  if (invitation.acceptedAt || invitation.revokedAt) return invitation;
  const revoked = await db.invitation.update({
    where: { tenantId_id: { tenantId: caller.tenantId, id } },
    data: { revokedAt: new Date() },
  });
  await recordAudit(db, caller, { action: "member.invitation_revoked", targetType: "Invitation", targetId: id });
  return revoked;
}

export interface AcceptInput {
  token: string;
  name?: string | null;
  password?: string | null;
}

export interface Accepted {
  userId: string;
  tenantId: string;
  membershipId: string;
  role: MemberRole;
  /** A session for the account the invitation created; null when a signed-in user accepted. */
  session: SessionGrant | null;
}

/**
 * Accepts as the signed-in user (tenant unset) or creates the invited account (anonymous caller), which
 * then gets its first session from the same database call: the invitation's secret is its proof.
 */
export async function acceptInvitation(db: Db, input: AcceptInput, session: SessionOptions): Promise<Accepted> {
  const parsed = parseToken(input.token);
  if (!parsed || parsed.kind !== "invitation") {
    throw new InvitationError("INVALID", "This invitation link is invalid, used, revoked or expired");
  }
  if (input.password != null) checkPassword(input.password, ["input", "password"]);
  if (input.name != null && (input.name.trim().length < 1 || input.name.length > 200)) {
    throw ValidationError.field(["input", "name"], "Name must have 1 to 200 characters");
  }
  const passwordHash = input.password != null ? await hashPassword(input.password) : null;
  const next = newSession(session);
  try {
    // The address, sealed for whoever holds the secret (null: unusable or a legacy invitation, whose address the database still knows).
    const [sealed] = await db.$queryRaw<{ sealed: Uint8Array | null }[]>`
      select invitation_invitee_email(${parsed.tenantId}::uuid, ${parsed.id}::uuid, ${parsed.secretHash}) as sealed`;
    const email = sealed?.sealed ? openInviteeEmail(parsed.secret, parsed.id, sealed.sealed) : null;
    const [row] = await db.$queryRaw<{ user_id: string; tenant_id: string; membership_id: string; role: MemberRole; session_opened: boolean }[]>`
      select user_id::text, tenant_id::text, membership_id::text, role::text, session_opened
        from accept_invitation(${parsed.tenantId}::uuid, ${parsed.id}::uuid, ${Buffer.from(parsed.secret)}, ${email}, ${input.name?.trim() ?? null}, ${passwordHash},
                               ${next.id}::uuid, ${next.secretHash}, ${next.expiresAt}, ${session.userAgent})`;
    return {
      userId: row!.user_id,
      tenantId: row!.tenant_id,
      membershipId: row!.membership_id,
      role: row!.role,
      session: row!.session_opened ? next.grant(row!.user_id, row!.tenant_id) : null,
    };
  } catch (error) {
    switch (pgError(error)?.code) {
      case "LRINV":
        throw new InvitationError("INVALID", "This invitation link is invalid, used, revoked or expired");
      case "LRLGN":
        throw new InvitationError("LOGIN_REQUIRED", "An account exists for this email: sign in, then accept the invitation");
      case "LREML":
        throw new InvitationError("WRONG_ACCOUNT", "This invitation was sent to another email address than your account's");
      case "LRPWD":
        throw new InvitationError("ACCOUNT_DETAILS_REQUIRED", "Give a name and a password to create your account");
      case "LRMBR":
        throw new AlreadyMemberError();
    }
    throw error;
  }
}

async function lockOwners(db: Db, tenantId: string): Promise<number> {
  const rows = await db.$queryRaw<{ id: string }[]>`
    select id::text from memberships where tenant_id = ${tenantId}::uuid and role = 'owner' for update`;
  return rows.length;
}

async function findMembership(db: Db, caller: Caller, id: string) {
  const membership = isUuid(id) ? await db.membership.findUnique({ where: { tenantId_id: { tenantId: caller.tenantId, id } } }) : null;
  if (!membership) throw new NotFoundError("Membership");
  return membership;
}

/**
 * What a member handed out does not outlive their right to hand it out. `held`: what the member holds
 * now (null: no longer a member). Revokes, in the caller's transaction, every API key the member
 * created and every pending invitation they sent that holds more than `held` (all of them when null),
 * writing one audit entry each. Keys made by other keys are not the member's and stay.
 * Returns the numbers revoked: { apiKeys, invitations }.
 */
async function retireGrantsOf(db: Db, caller: Caller, userId: string, held: ReadonlySet<Permission> | null) {
  const exceeds = (wanted: Iterable<Permission>) => held === null || missingPermissions(held, wanted).length > 0;
  const keys = await db.apiKey.findMany({ where: { tenantId: caller.tenantId, createdByUserId: userId, revokedAt: null }, select: { id: true, name: true, scopes: true } });
  const invitations = await db.invitation.findMany({
    where: { tenantId: caller.tenantId, invitedByUserId: userId, acceptedAt: null, revokedAt: null },
    select: { id: true, role: true },
  });
  const keysToRevoke = keys.filter((k) => exceeds(permissionsForScopes(k.scopes)));
  const invitationsToRevoke = invitations.filter((i) => exceeds(ROLE_PERMISSIONS[i.role]));
  const now = new Date();
  const reason = held === null ? "its creator left the tenant" : "its creator no longer holds its permissions";
  for (const k of keysToRevoke) {
    await db.apiKey.update({ where: { tenantId_id: { tenantId: caller.tenantId, id: k.id } }, data: { revokedAt: now } });
    await recordAudit(db, caller, { action: "api_key.revoked", targetType: "ApiKey", targetId: k.id, details: { name: k.name, reason } });
  }
  for (const i of invitationsToRevoke) {
    await db.invitation.update({ where: { tenantId_id: { tenantId: caller.tenantId, id: i.id } }, data: { revokedAt: now } });
    const why = held === null ? "its sender left the tenant" : "its sender no longer holds its role's permissions";
    await recordAudit(db, caller, { action: "member.invitation_revoked", targetType: "Invitation", targetId: i.id, details: { reason: why } });
  }
  return { apiKeys: keysToRevoke.length, invitations: invitationsToRevoke.length };
}

export async function changeMemberRole(db: Db, caller: Caller, id: string, role: MemberRole) {
  const owners = await lockOwners(db, caller.tenantId);
  const membership = await findMembership(db, caller, id);
  // Changing a role both takes one set of permissions away and hands another out: the caller must hold both.
  requireMayGrantRole(caller, membership.role);
  requireMayGrantRole(caller, role);
  if (membership.role === role) return membership;
  if (membership.role === "owner" && owners <= 1) throw new LastOwnerError();
  const updated = await db.membership
    .update({ where: { tenantId_id: { tenantId: caller.tenantId, id } }, data: { role } })
    .catch(refuseOwnerChange);
  await recordAudit(db, caller, {
    action: "member.role_changed",
    targetType: "Membership",
    targetId: id,
    details: { userId: membership.userId, from: membership.role, to: role },
  });
  await retireGrantsOf(db, caller, membership.userId, ROLE_PERMISSIONS[role]);
  return updated;
}

export async function removeMember(db: Db, caller: Caller, id: string) {
  const owners = await lockOwners(db, caller.tenantId);
  const membership = await findMembership(db, caller, id);
  const leavingSelf = caller.actor.kind === "user" && caller.actor.id === membership.userId;
  if (!leavingSelf) requireOwnerRights(caller, membership.role);
  if (membership.role === "owner" && owners <= 1) throw new LastOwnerError();
  try {
    await db.membership.delete({ where: { tenantId_id: { tenantId: caller.tenantId, id } } });
  } catch (error) {
    if (pgError(error)?.code === "P0001") throw new LastOwnerError();
    throw error;
  }
  await recordAudit(db, caller, {
    action: leavingSelf ? "member.left" : "member.removed",
    targetType: "Membership",
    targetId: id,
    details: { userId: membership.userId, role: membership.role },
  });
  // Their sessions stop reaching the tenant by themselves (authenticate_session joins the membership).
  await retireGrantsOf(db, caller, membership.userId, null);
  return membership;
}
