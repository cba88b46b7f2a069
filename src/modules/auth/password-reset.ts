// Forgotten passwords, and accounts that never had one (a tenant import restores members without
// their hashes: tenant-export/catalog.ts). Proof is holding the account's email address: Laurel emails a
// one-time link (1 hour) to it, and using the link's token sets the password, ends every other session
// and opens a new one. sql/039 holds both doors.
//
// An account belongs to no tenant, so neither does its reset: the email goes out as the platform's
// (config.email.defaultFrom, no reply-to), straight through the mailer once the transaction has
// committed, never through a tenant's outbox, sender name or audit log. That also keeps the answer's
// timing alike for known and unknown addresses: nothing is sent while the caller waits.
import { pgError } from "../../db/errors.js";
import type { Db } from "../../db/tenant-transaction.js";
import type { Config } from "../../config.js";
import { ExpectedError } from "../../errors.js";
import { createRateLimiter } from "../../lib/rate-limit.js";
import { builtInContent, render } from "../delivery/content.js";
import type { Mailer } from "../delivery/mailer.js";
import { hashPassword } from "./passwords.js";
import { checkPassword, newSession, type SessionGrant, type SessionOptions } from "./service.js";
import { issueToken, parseToken } from "./tokens.js";

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

/** The email to send once the reset is committed: to whom, and the link (a secret: kept in memory only). */
export interface PendingResetEmail {
  /** The reset's id: the email's reference and idempotency key (never a piece of the token's secret). */
  resetId: string;
  to: string;
  name: string;
  url: string;
  expiresAt: Date;
}

/**
 * Asks for a password link for `email` (any case). The answer is the same whether or not an account
 * has that address, so it tells nobody who has one: `{ expiresInMinutes, email }`, where `email` is the
 * message to send after commit (sendPasswordResetEmail) or null. An account that had three links in the
 * last hour gets no fourth (null too). Throws TooManyResetRequestsError past the per-client limit.
 */
export async function requestPasswordReset(db: Db, email: string, client: string | null, publicUrl: string): Promise<{ expiresInMinutes: number; email: PendingResetEmail | null }> {
  if (client && !perClient.allow(client)) throw new TooManyResetRequestsError();
  const issued = issueToken("passwordReset", null);
  const expiresAt = new Date(Date.now() + PASSWORD_RESET_TTL_MINUTES * 60_000);
  const [found] = await db.$queryRaw<{ user_id: string; user_name: string; email: string }[]>`
    select user_id::text, user_name, email
      from start_password_reset(${email.trim()}, ${issued.id}::uuid, ${Buffer.from(issued.secretHash)}, ${expiresAt})`;
  const pending = found ? { resetId: issued.id, to: found.email, name: found.user_name, url: `${publicUrl}/password-reset#${issued.token}`, expiresAt } : null;
  return { expiresInMinutes: PASSWORD_RESET_TTL_MINUTES, email: pending };
}

/**
 * Sends a reset's email as the platform (config.email.defaultFrom), in English, with the link. Without an
 * email provider (no RESEND_API_KEY) nothing can leave: outside production the link is printed to the
 * server's log for the developer; in production a warning without the link is. A failed send is logged
 * and dropped: the person asks again. Never throws.
 */
export async function sendPasswordResetEmail(mailer: Mailer, config: Pick<Config, "email" | "production">, email: PendingResetEmail, log: (line: string) => void = console.log): Promise<void> {
  const { content } = builtInContent("password_reset", "en");
  const expires = `${email.expiresAt.toISOString().slice(0, 16).replace("T", " ")} UTC`;
  const message = render(content, {
    recipient: { name: email.name, email: email.to },
    links: { accept: email.url },
    link: { expiresAt: expires },
    tenant: { name: "Laurel" },
  });
  if (mailer.provider === "log") {
    log(config.production
      ? `[password reset] no email provider (RESEND_API_KEY) is configured: the link for ${email.to} could not be sent`
      : `[password reset, not sent: no RESEND_API_KEY] ${email.to}: ${email.url}`);
    return;
  }
  try {
    await mailer.send(
      { ref: email.resetId, from: config.email.defaultFrom, to: email.to, subject: message.subject, html: message.html, text: message.text, tags: [{ name: "kind", value: "password_reset" }] },
      `password_reset:${email.resetId}`,
    );
  } catch (error) {
    log(`[password reset] the email to ${email.to} was not sent: ${(error as Error).message}`);
  }
}

export interface PasswordResetResult extends SessionGrant {
  /** Sessions the reset signed out (every other one of the account). */
  sessionsEnded: number;
}

/**
 * Sets a new password with a reset link's token (`lrp_...`): checks the password's length (8-256),
 * hashes it (argon2id), then sql/039 reset_password proves the token's secret, stores the hash, marks
 * the account's every open reset used, ends all its sessions and opens a new session, returned with the
 * number of sessions ended. Throws ValidationError (password) or PasswordResetError (token unknown,
 * used, expired or malformed); a refused password leaves the link usable.
 */
export async function resetPassword(db: Db, input: { token: string; password: string }, session: SessionOptions): Promise<PasswordResetResult> {
  const parsed = parseToken(input.token.trim());
  if (!parsed || parsed.kind !== "passwordReset") throw new PasswordResetError();
  checkPassword(input.password, ["input", "password"]);
  const passwordHash = await hashPassword(input.password);
  const next = newSession(session);
  try {
    const [row] = await db.$queryRaw<{ user_id: string; tenant_id: string | null; sessions_ended: number }[]>`
      select user_id::text, tenant_id::text, sessions_ended
        from reset_password(${parsed.id}::uuid, ${Buffer.from(parsed.secretHash)}, ${passwordHash},
                            ${next.id}::uuid, ${next.secretHash}, ${next.expiresAt}, ${session.userAgent})`;
    return { ...next.grant(row!.user_id, row!.tenant_id), sessionsEnded: row!.sessions_ended };
  } catch (error) {
    if (pgError(error)?.code === "LRRST") throw new PasswordResetError();
    throw error;
  }
}
