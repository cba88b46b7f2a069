// Forgotten passwords, and accounts that never had one (a tenant import restores members without
// their hashes: tenant-export/catalog.ts). Proof is holding the account's email address: Laurel emails a
// one-time link (1 hour) to it, through the outbox of the account's first tenant, and using the link's
// token sets the password, ends every other session and opens a new one. sql/039 holds both doors.
import { DateTime } from "luxon";
import { pgError } from "../../db/errors.js";
import type { Db } from "../../db/tenant-transaction.js";
import { ExpectedError } from "../../errors.js";
import { zoneOrUtc } from "../../lib/calendar.js";
import { createRateLimiter } from "../../lib/rate-limit.js";
import { recordAudit } from "../audit/service.js";
import { systemCaller } from "../common/caller.js";
import { type MailSettings } from "../delivery/compose.js";
import { enqueueEmail } from "../outbox/service.js";
import { hashPassword } from "./passwords.js";
import { checkPassword, newSession, type SessionGrant, type SessionOptions } from "./service.js";
import { drawSecret, parseToken, tokenOf } from "./tokens.js";

/** How long a reset link works. */
export const PASSWORD_RESET_TTL_MINUTES = 60;

export class PasswordResetError extends ExpectedError {
  override name = "PasswordResetError";
  constructor() {
    super("This password link is invalid, used or expired: ask for a new one");
  }
}

export class TooManyResetRequestsError extends ExpectedError {
  override name = "TooManyResetRequestsError";
  constructor() {
    super("Too many password requests from here: wait a few minutes and try again");
  }
}

// Per instance: 20 asks per client address per 15 minutes. The database caps each account at three
// links an hour whoever asks (sql/039), so no one can fill a member's inbox.
const perClient = createRateLimiter({ perSecond: 20 / 900, burst: 20 });

export interface PasswordResetDeps {
  mail: MailSettings;
  /** Runs work in a transaction of the given tenant, as the system (where the reset's email is queued). */
  inTenant: <T>(tenantId: string, work: (db: Db) => Promise<T>) => Promise<T>;
}

/**
 * Asks for a password link for `email` (any case). The answer is the same whether or not an account
 * has that address, so it tells nobody who has one: `{ expiresInMinutes }`. When there is an account
 * in a tenant and it has had fewer than three links in the last hour, a reset is written (sql/039
 * start_password_reset, in the caller's anonymous transaction `db`) and its email queued in that
 * tenant (a second, tenant transaction: the reset names the tenant only once found), with an audit
 * entry `user.password_reset_requested`. Throws TooManyResetRequestsError past the per-client limit.
 */
export async function requestPasswordReset(db: Db, email: string, client: string | null, deps: PasswordResetDeps): Promise<{ expiresInMinutes: number }> {
  if (client && !perClient.allow(client)) throw new TooManyResetRequestsError();
  const drawn = drawSecret();
  const expiresAt = new Date(Date.now() + PASSWORD_RESET_TTL_MINUTES * 60_000);
  const [found] = await db.$queryRaw<{ tenant_id: string; user_id: string; user_name: string; email: string }[]>`
    select tenant_id::text, user_id::text, user_name, email
      from start_password_reset(${email.trim()}, ${drawn.id}::uuid, ${Buffer.from(drawn.secretHash)}, ${expiresAt})`;
  if (found) {
    const { token } = tokenOf("passwordReset", found.tenant_id, drawn.id, drawn.secret);
    await deps.inTenant(found.tenant_id, async (tx) => {
      const tenant = await tx.tenant.findUniqueOrThrow({ where: { id: found.tenant_id }, select: { timeZone: true } });
      const expires = DateTime.fromJSDate(expiresAt, { zone: zoneOrUtc(tenant.timeZone) }).setLocale("en-GB");
      await enqueueEmail(tx, found.tenant_id, {
        kind: "password_reset",
        toEmail: found.email,
        idempotencyKey: `password_reset:${drawn.id}`,
        payload: {
          // A secret: the send task forgets acceptUrl once the message has left (sql/019).
          acceptUrl: `${deps.mail.publicUrl}/password-reset#${token}`,
          recipientName: found.user_name,
          linkExpiresAt: `${expires.toLocaleString(DateTime.DATETIME_MED)} (${expires.toFormat("ZZZZ")})`,
        },
      }, deps.mail);
      await recordAudit(tx, systemCaller(found.tenant_id), {
        action: "user.password_reset_requested",
        targetType: "User",
        targetId: found.user_id,
        details: { resetId: drawn.id },
      });
    });
  }
  return { expiresInMinutes: PASSWORD_RESET_TTL_MINUTES };
}

export interface PasswordResetResult extends SessionGrant {
  /** Sessions the reset signed out (every other one of the account). */
  sessionsEnded: number;
}

/**
 * Sets a new password with a reset link's token (`lrp_...`): checks the password's length (8-256),
 * hashes it (argon2id), then sql/039 reset_password proves the token's secret, stores the hash, marks
 * the account's every open reset used, ends all its sessions, records `user.password_reset` in the
 * reset's tenant and opens a new session, returned with the number of sessions ended.
 * Throws ValidationError (password) or PasswordResetError (token unknown, used, expired or malformed).
 */
export async function resetPassword(db: Db, input: { token: string; password: string }, session: SessionOptions): Promise<PasswordResetResult> {
  const parsed = parseToken(input.token.trim());
  if (!parsed || parsed.kind !== "passwordReset" || !parsed.tenantId) throw new PasswordResetError();
  checkPassword(input.password, ["input", "password"]);
  const passwordHash = await hashPassword(input.password);
  const next = newSession(session);
  try {
    const [row] = await db.$queryRaw<{ user_id: string; tenant_id: string | null; sessions_ended: number }[]>`
      select user_id::text, tenant_id::text, sessions_ended
        from reset_password(${parsed.tenantId}::uuid, ${parsed.id}::uuid, ${Buffer.from(parsed.secretHash)}, ${passwordHash},
                            ${next.id}::uuid, ${next.secretHash}, ${next.expiresAt}, ${session.userAgent})`;
    return { ...next.grant(row!.user_id, row!.tenant_id), sessionsEnded: row!.sessions_ended };
  } catch (error) {
    if (pgError(error)?.code === "LRRST") throw new PasswordResetError();
    throw error;
  }
}
