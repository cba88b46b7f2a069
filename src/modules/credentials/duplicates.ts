// Awarding twice. A template's duplicate policy (sql/018) says whether one person (one recipient:
// one normalised email per tenant) may hold more than one of its credentials that is not revoked:
// REFUSE (the default) names the credential already held, REPLACE revokes it for the new one, ALLOW
// issues again (repeatable badges). Single issuance and bulk rows share these helpers.
import type { TenantKeys } from "../vault/vault.js";
import type { Db } from "../../db/tenant-transaction.js";
import { boundQuery } from "../../db/request-connection.js";
import type { DuplicatePolicy } from "../../generated/prisma/enums.js";
import { ExpectedError } from "../../errors.js";
import type { Credential } from "../../generated/prisma/client.js";

export interface Award {
  id: string;
  recipientId: string;
  issuedAt: Date;
}

/** Words for "this person already holds it", naming the credential (its UUID, as result CSVs show it). */
export function alreadyAwarded(award: Pick<Award, "id" | "issuedAt">): string {
  return `Already awarded to this person: credential ${award.id}, issued ${award.issuedAt.toISOString().slice(0, 10)}. Revoke it first, or set the template's duplicate policy to REPLACE or ALLOW`;
}

/**
 * The same words without the credential, for callers without personal:read: a credential's id leads to
 * its public page, which names the holder (README, "Using the API").
 */
export const ALREADY_AWARDED_UNNAMED =
  "Already awarded to this person. Revoke the credential first, or set the template's duplicate policy to REPLACE or ALLOW";

/** A row problem as `permissions` may read it: without the credential's id unless they hold personal:read. */
export function problemFor<P extends { message: string; credentialId?: string }>(problem: P, personal: boolean): P {
  if (personal || !problem.credentialId) return problem;
  const { credentialId: _hidden, ...rest } = problem;
  return { ...rest, message: ALREADY_AWARDED_UNNAMED } as P;
}

export class DuplicateCredentialError extends ExpectedError {
  override name = "DuplicateCredentialError";
  /** `named`: the caller holds personal:read, so the message may name the credential. */
  constructor(
    readonly existingCredential: Credential,
    named: boolean,
  ) {
    super(named ? alreadyAwarded(existingCredential) : ALREADY_AWARDED_UNNAMED);
  }
}

/** Whether new credentials of a template under `policy` count in credentials_unique_award. */
export const uniqueAward = (policy: DuplicatePolicy) => policy !== "ALLOW";

/**
 * The credentials of `templateId` that are not revoked, held by these recipients (active, suspended or
 * expired alike), oldest first, by recipient id. What REFUSE refuses and REPLACE revokes.
 */
export async function awardsOf(tenantId: string, templateId: string, recipientIds: string[]): Promise<Map<string, Award[]>> {
  const byRecipient = new Map<string, Award[]>();
  if (!recipientIds.length) return byRecipient;
  const { rows } = await boundQuery<{ id: string; recipient_id: string; issued_at: Date }>(
    `select id, recipient_id, issued_at from credentials
      where tenant_id = $1::uuid and template_id = $2::uuid and recipient_id = any($3::uuid[]) and status <> 'REVOKED'
      order by issued_at, id`,
    [tenantId, templateId, recipientIds],
  );
  for (const r of rows) {
    const list = byRecipient.get(r.recipient_id) ?? [];
    list.push({ id: r.id, recipientId: r.recipient_id, issuedAt: r.issued_at });
    byRecipient.set(r.recipient_id, list);
  }
  return byRecipient;
}

/**
 * The same, found by the recipients' normalised emails (a bulk file before its recipients exist):
 * matched by blind index (sealed rows) or legacy text, keyed by the email asked for.
 */
export async function awardsByEmail(keys: TenantKeys, templateId: string, emails: string[]): Promise<Map<string, Award>> {
  const byEmail = new Map<string, Award>();
  if (!emails.length) return byEmail;
  const emailOf = new Map(emails.map((e) => [Buffer.from(keys.blindIndex("email", e)).toString("hex"), e]));
  const { rows } = await boundQuery<{ id: string; recipient_id: string; issued_at: Date; email_index: Buffer | null; legacy_email: string | null }>(
    `select distinct on (r.id) c.id, c.recipient_id, c.issued_at, r.email_index, r.legacy_email
       from recipients r join credentials c on c.tenant_id = r.tenant_id and c.recipient_id = r.id
      where r.tenant_id = $1::uuid and (r.email_index = any($3::bytea[]) or r.legacy_email = any($4::text[]))
        and c.template_id = $2::uuid and c.status <> 'REVOKED'
      order by r.id, c.issued_at, c.id`,
    [keys.tenantId, templateId, emails.map((e) => Buffer.from(keys.blindIndex("email", e))), emails],
  );
  for (const r of rows) {
    const email = r.email_index ? emailOf.get(r.email_index.toString("hex")) : r.legacy_email;
    if (email) byEmail.set(email, { id: r.id, recipientId: r.recipient_id, issuedAt: r.issued_at });
  }
  return byEmail;
}

/** The full row of an award, for DuplicateCredentialError. */
export async function awardRow(db: Db, tenantId: string, id: string): Promise<Credential> {
  return db.credential.findUniqueOrThrow({ where: { tenantId_id: { tenantId, id } } });
}
