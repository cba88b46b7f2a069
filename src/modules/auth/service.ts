// Sign-up, log-in and sessions. Callers here are not yet anyone's member, so every step goes through
// the narrow SECURITY DEFINER functions of sql/005 rather than table grants.
import type { Db } from "../../db/tenant-transaction.js";
import { pgError } from "../../db/errors.js";
import { personNameProblem } from "../../lib/text.js";
import { ExpectedError, NotFoundError, ValidationError } from "../../errors.js";
import { deriveHash, hashPassword, MIN_PASSWORD_LENGTH } from "./passwords.js";
import { issueToken } from "./tokens.js";
import { createRateLimiter } from "../../lib/rate-limit.js";

export class InvalidCredentialsError extends ExpectedError {
  override name = "InvalidCredentialsError";
  constructor() {
    super("Email or password is wrong");
  }
}
export class EmailTakenError extends ExpectedError {
  override name = "EmailTakenError";
  constructor() {
    super("An account with this email already exists: sign in instead");
  }
}
export class SlugTakenError extends ExpectedError {
  override name = "SlugTakenError";
  constructor(readonly slug: string) {
    super(`The organization address "${slug}" is taken`);
  }
}

export interface SessionGrant {
  token: string;
  expiresAt: Date;
  userId: string;
  tenantId: string | null;
}

const SLUG = /^[a-z0-9][a-z0-9-]{1,46}[a-z0-9]$/;

export function slugify(name: string): string {
  const base = name
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 40)
    .replace(/-+$/g, "");
  return base.length >= 3 ? base : `org-${base || "new"}`.slice(0, 40);
}

export function checkPassword(password: string, path: string[]): void {
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw ValidationError.field(path, `Password must have at least ${MIN_PASSWORD_LENGTH} characters`);
  }
  if (password.length > 256) throw ValidationError.field(path, "Password must have at most 256 characters");
}

function checkName(value: string, path: string[], label: string): string {
  const trimmed = value.trim();
  if (trimmed.length < 1 || trimmed.length > 200) throw ValidationError.field(path, `${label} must have 1 to 200 characters`);
  // A person's or organisation's name; the latter is the first issuer name, signed: it must show as stored.
  const problem = personNameProblem(trimmed);
  if (problem) throw ValidationError.field(path, problem);
  return trimmed;
}

export function checkSlug(slug: string, path: string[]): string {
  if (!SLUG.test(slug)) {
    throw ValidationError.field(path, "Use 3 to 48 lower-case letters, digits and dashes, not starting or ending with a dash");
  }
  return slug;
}

export interface SignUpInput {
  email: string;
  password: string;
  name: string;
  organizationName: string;
  organizationSlug?: string | null;
}

export async function signUp(db: Db, input: SignUpInput, session: SessionOptions): Promise<SessionGrant> {
  checkPassword(input.password, ["input", "password"]);
  const name = checkName(input.name, ["input", "name"], "Name");
  const orgName = checkName(input.organizationName, ["input", "organizationName"], "Organization name");
  const slug = input.organizationSlug ? checkSlug(input.organizationSlug, ["input", "organizationSlug"]) : slugify(orgName);
  const passwordHash = await hashPassword(input.password);
  const next = newSession(session);
  let created: { user_id: string; tenant_id: string };
  try {
    [created] = (await db.$queryRaw<{ user_id: string; tenant_id: string }[]>`
      select user_id::text, tenant_id::text
        from sign_up(${input.email.toLowerCase()}, ${name}, ${passwordHash}, ${orgName}, ${slug},
                     ${next.id}::uuid, ${next.secretHash}, ${next.expiresAt}, ${session.userAgent})`) as [
      { user_id: string; tenant_id: string },
    ];
  } catch (error) {
    const pg = pgError(error);
    if (pg?.code === "23505" && pg.constraint === "users_email_key") throw new EmailTakenError();
    if (pg?.code === "23505" && pg.constraint === "tenants_slug_key") throw new SlugTakenError(slug);
    throw error;
  }
  return next.grant(created.user_id, created.tenant_id);
}

export interface SessionOptions {
  ttlHours: number;
  userAgent: string | null;
}

/**
 * A session token made before the database call that opens it: the SQL functions that check a proof
 * (log_in, sign_up, accept_invitation) store its id and hash in that same call (sql/017), so nothing
 * opens a session without one.
 */
export function newSession(options: SessionOptions) {
  const issued = issueToken("session", null);
  const expiresAt = new Date(Date.now() + options.ttlHours * 3_600_000);
  return {
    id: issued.id,
    secretHash: issued.secretHash,
    expiresAt,
    grant: (userId: string, tenantId: string | null): SessionGrant => ({ token: issued.token, expiresAt, userId, tenantId }),
  };
}

export interface LogInInput {
  email: string;
  password: string;
  tenantId?: string | null;
}

export class TooManyAttemptsError extends ExpectedError {
  override name = "TooManyAttemptsError";
  constructor() {
    super("Too many sign-in attempts: wait a few minutes and try again");
  }
}

// Password guessing: 10 tries per account and 100 per client address per 15 minutes, per instance.
const perAccount = createRateLimiter({ perSecond: 10 / 900, burst: 10 });
const perClient = createRateLimiter({ perSecond: 100 / 900, burst: 100 });

export function allowLogInAttempt(email: string, client: string | null): boolean {
  const accountOk = perAccount.allow(email.trim().toLowerCase());
  const clientOk = client ? perClient.allow(client) : true;
  return accountOk && clientOk;
}

/**
 * Checks the password inside the database: login_parameters() gives the salt and argon2 parameters of
 * the email's hash (a stable decoy for an unknown email, so both cost the same and answer alike), the
 * raw hash is derived here, and log_in() compares it and opens the session in one call.
 */
export async function logIn(db: Db, input: LogInInput, session: SessionOptions): Promise<SessionGrant> {
  const email = input.email.trim().toLowerCase();
  const [p] = await db.$queryRaw<
    { algorithm: string; version: number; memory_cost: number; time_cost: number; parallelism: number; salt: Uint8Array; output_length: number }[]
  >`select algorithm, version, memory_cost, time_cost, parallelism, salt, output_length from login_parameters(${email})`;
  const derived = p
    ? await deriveHash(input.password, {
        algorithm: p.algorithm,
        version: p.version,
        memoryCost: p.memory_cost,
        timeCost: p.time_cost,
        parallelism: p.parallelism,
        salt: p.salt,
        outputLength: p.output_length,
      })
    : null;
  if (!derived) throw new InvalidCredentialsError();
  const next = newSession(session);
  try {
    const [row] = await db.$queryRaw<{ user_id: string; tenant_id: string | null }[]>`
      select user_id::text, tenant_id::text
        from log_in(${email}, ${derived}, ${input.tenantId ?? null}::uuid, ${next.id}::uuid, ${next.secretHash}, ${next.expiresAt}, ${session.userAgent})`;
    if (!row) throw new InvalidCredentialsError();
    return next.grant(row.user_id, row.tenant_id);
  } catch (error) {
    if (pgError(error)?.code === "LRMBX") throw new NotFoundError("Tenant");
    throw error;
  }
}

export async function logOut(db: Db, sessionId: string): Promise<void> {
  await db.session.updateMany({ where: { id: sessionId, revokedAt: null }, data: { revokedAt: new Date() } });
}

export async function switchTenant(db: Db, sessionId: string, tenantId: string): Promise<void> {
  try {
    await db.$queryRaw`select switch_session_tenant(${sessionId}::uuid, ${tenantId}::uuid)::text`;
  } catch (error) {
    if (pgError(error)?.code === "LRMBX") throw new NotFoundError("Tenant");
    throw error;
  }
}

export async function createTenant(db: Db, input: { name: string; slug?: string | null }): Promise<string> {
  const name = checkName(input.name, ["input", "name"], "Organization name");
  const slug = input.slug ? checkSlug(input.slug, ["input", "slug"]) : slugify(name);
  try {
    const [row] = await db.$queryRaw<{ id: string }[]>`select create_tenant(${name}, ${slug})::text as id`;
    return row!.id;
  } catch (error) {
    const pg = pgError(error);
    if (pg?.code === "23505" && pg.constraint === "tenants_slug_key") throw new SlugTakenError(slug);
    throw error;
  }
}

export interface MembershipSummary {
  membershipId: string;
  tenantId: string;
  tenantName: string;
  tenantSlug: string;
  role: string;
}

export async function myMemberships(db: Db): Promise<MembershipSummary[]> {
  const rows = await db.$queryRaw<{ membership_id: string; tenant_id: string; tenant_name: string; tenant_slug: string; role: string }[]>`
    select membership_id::text, tenant_id::text, tenant_name, tenant_slug, role::text from my_memberships()`;
  return rows.map((r) => ({
    membershipId: r.membership_id,
    tenantId: r.tenant_id,
    tenantName: r.tenant_name,
    tenantSlug: r.tenant_slug,
    role: r.role,
  }));
}
