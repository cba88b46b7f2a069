// Delivery settings and actions: the tenant's sender, its sender domains (verified with Resend), email
// content per template and language, re-sending a credential's email, and the tenant's failed jobs.
import { setPrivacyChoices, type PrivacyChoicesInput } from "../privacy/choices.js";
import { Resend } from "resend";
import { withPersonal } from "../recipients/personal.js";
import type { Db } from "../../db/tenant-transaction.js";
import { pgError } from "../../db/errors.js";
import type { Config } from "../../config.js";
import { NotFoundError, ValidationError } from "../../errors.js";
import { isUuid, type Caller } from "../common/caller.js";
import { recordAudit } from "../audit/service.js";
import { queueEmails } from "../outbox/service.js";
import { mailSettings } from "./compose.js";
import { checkTemplate, EMAIL_KINDS, type Content } from "./content.js";
import { urls } from "../credentials/document.js";
import { normaliseDomain } from "../../lib/email-address.js";

const LOCALE = /^[a-z]{2,3}(-[a-z0-9]{2,8})*$/;
const DOMAIN = /^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

function resendClient(config: Config): Resend | null {
  const { resendApiKey, resendBaseUrl } = config.email;
  return resendApiKey ? new Resend(resendApiKey, resendBaseUrl ? { baseUrl: resendBaseUrl } : undefined) : null;
}

export interface EmailSettingsInput {
  fromName?: string | null;
  fromAddress?: string | null;
  replyTo?: string | null;
  defaultLocale?: string | null;
}

export async function emailSettings(db: Db, tenantId: string) {
  return (await db.emailSettings.findUnique({ where: { tenantId } })) ?? { tenantId, fromName: null, fromAddress: null, replyTo: null, defaultLocale: "en", updatedAt: new Date(0) };
}

export async function updateEmailSettings(db: Db, caller: Caller, input: EmailSettingsInput) {
  const fromAddress = input.fromAddress?.trim().toLowerCase() || null;
  const fromName = input.fromName?.trim() || null;
  if (fromName && (fromName.length > 100 || /[\r\n<>"]/.test(fromName))) {
    throw ValidationError.field(["input", "fromName"], "Up to 100 characters, without quotes, angle brackets or line breaks");
  }
  if (fromAddress) {
    const domain = fromAddress.split("@")[1] ?? "";
    const verified = await db.senderDomain.findFirst({ where: { tenantId: caller.tenantId, domain, status: "verified" } });
    if (!verified) throw ValidationError.field(["input", "fromAddress"], `Verify ${domain || "the domain"} first (addSenderDomain, then verifySenderDomain)`);
  }
  if (input.defaultLocale && !LOCALE.test(input.defaultLocale)) throw ValidationError.field(["input", "defaultLocale"], "A language tag such as en or fr-ca");
  const data = { fromName, fromAddress, replyTo: input.replyTo?.trim().toLowerCase() || null, defaultLocale: input.defaultLocale ?? "en" };
  const settings = await db.emailSettings.upsert({ where: { tenantId: caller.tenantId }, create: { tenantId: caller.tenantId, ...data }, update: data });
  await recordAudit(db, caller, { action: "email.settings_updated", targetType: "Tenant", targetId: caller.tenantId, details: data });
  return settings;
}

/** Registers a sending domain with Resend (which answers with the DNS records to publish). */
export async function addSenderDomain(db: Db, caller: Caller, config: Config, rawDomain: string) {
  // The A-label form, as sender addresses are normalised (lib/email-address.ts): "bücher.example" is one domain.
  const domain = normaliseDomain(rawDomain.trim()) ?? rawDomain.trim().toLowerCase();
  if (!DOMAIN.test(domain)) throw ValidationError.field(["domain"], "A domain name such as mail.example.edu");
  if (await db.senderDomain.findFirst({ where: { tenantId: caller.tenantId, domain } })) throw ValidationError.field(["domain"], "This domain is already added");
  const [elsewhere] = await db.$queryRaw<{ taken: boolean }[]>`select sender_domain_claimed_elsewhere(${domain}) as taken`;
  if (elsewhere?.taken) throw ValidationError.field(["domain"], "Another organisation already sends from this domain");
  const resend = resendClient(config);
  let providerDomainId: string | null = null;
  let dnsRecords: object[] = [];
  if (resend) {
    const created = await resend.domains.create({ name: domain });
    if (created.error) throw ValidationError.field(["domain"], `Resend refused the domain: ${created.error.message}`);
    providerDomainId = created.data.id;
    dnsRecords = (created.data.records ?? []) as object[];
  }
  const row = await db.senderDomain.create({ data: { tenantId: caller.tenantId, domain, providerDomainId, dnsRecords } });
  await recordAudit(db, caller, { action: "email.domain_added", targetType: "SenderDomain", targetId: row.id, details: { domain } });
  return row;
}

/**
 * Asks Resend whether the DNS records are in place. Without an API key nothing is ever sent (the
 * demo outbox), so there is nothing to verify and the domain is accepted as is.
 */
export async function verifySenderDomain(db: Db, caller: Caller, config: Config, id: string) {
  const row = isUuid(id) ? await db.senderDomain.findUnique({ where: { tenantId_id: { tenantId: caller.tenantId, id } } }) : null;
  if (!row) throw new NotFoundError("SenderDomain");
  const resend = resendClient(config);
  let status: "pending" | "verified" | "failed" = "verified";
  if (resend && row.providerDomainId) {
    await resend.domains.verify(row.providerDomainId);
    const current = await resend.domains.get(row.providerDomainId);
    const answer = current.data?.status ?? "pending";
    status = answer === "verified" ? "verified" : answer === "failed" ? "failed" : "pending";
  }
  const taken = () => ValidationError.field(["id"], "Another organisation already sends from this domain");
  if (status === "verified") {
    const [elsewhere] = await db.$queryRaw<{ taken: boolean }[]>`select sender_domain_claimed_elsewhere(${row.domain}) as taken`;
    if (elsewhere?.taken) throw taken();
  }
  // Two tenants verifying at once: the unique index of sql/017 lets one win.
  return db.senderDomain
    .update({ where: { tenantId_id: { tenantId: caller.tenantId, id } }, data: { status, verifiedAt: status === "verified" ? new Date() : null } })
    .catch((error: unknown) => {
      if (pgError(error)?.constraint === "sender_domains_verified_once" || (error as { code?: string }).code === "P2002") throw taken();
      throw error;
    });
}

export interface EmailTemplateInput extends Content {
  templateId?: string | null;
  kind: string;
  locale: string;
}

export async function setEmailTemplate(db: Db, caller: Caller, input: EmailTemplateInput) {
  const problems: { path: string[]; message: string }[] = [];
  if (!(EMAIL_KINDS as readonly string[]).includes(input.kind)) problems.push({ path: ["input", "kind"], message: `One of ${EMAIL_KINDS.join(", ")}` });
  const locale = input.locale.trim().toLowerCase();
  if (!LOCALE.test(locale)) problems.push({ path: ["input", "locale"], message: "A language tag such as en or fr-ca" });
  for (const field of ["subject", "html", "text"] as const) {
    const max = field === "subject" ? 300 : field === "html" ? 100_000 : 50_000;
    if (!input[field].trim() || input[field].length > max) problems.push({ path: ["input", field], message: `Required, up to ${max} characters` });
  }
  for (const p of checkTemplate(input)) problems.push({ path: ["input", p.field], message: p.message });
  const templateId = input.templateId ?? null;
  if (templateId && !(isUuid(templateId) && (await db.template.findUnique({ where: { tenantId_id: { tenantId: caller.tenantId, id: templateId } } })))) {
    problems.push({ path: ["input", "templateId"], message: "No such template" });
  }
  if (problems.length) throw new ValidationError(problems[0]!.message, problems);
  const existing = await db.emailTemplate.findFirst({ where: { tenantId: caller.tenantId, templateId, kind: input.kind, locale } });
  const content = { subject: input.subject, html: input.html, text: input.text };
  const row = existing
    ? await db.emailTemplate.update({ where: { tenantId_id: { tenantId: caller.tenantId, id: existing.id } }, data: content })
    : await db.emailTemplate.create({ data: { tenantId: caller.tenantId, templateId, kind: input.kind, locale, ...content } });
  await recordAudit(db, caller, { action: "email.template_saved", targetType: "EmailTemplate", targetId: row.id, details: { templateId, kind: input.kind, locale } });
  return row;
}

/** Deletes a content override; `query` (what the result selects) is read before the row goes. */
export async function deleteEmailTemplate(db: Db, caller: Caller, id: string, query: object = {}) {
  const row = isUuid(id) ? await db.emailTemplate.findUnique({ ...query, where: { tenantId_id: { tenantId: caller.tenantId, id } } }) : null;
  if (!row) throw new NotFoundError("EmailTemplate");
  await db.emailTemplate.delete({ where: { tenantId_id: { tenantId: caller.tenantId, id } } });
  return row;
}

/** A fresh copy of the credential's email (its own message, idempotency key and job). */
export async function resendCredentialEmail(db: Db, caller: Caller, config: Config, credentialId: string) {
  const credential = isUuid(credentialId) ? await db.credential.findUnique({ where: { tenantId_id: { tenantId: caller.tenantId, id: credentialId } }, include: { recipient: true } }) : null;
  if (!credential) throw new NotFoundError("Credential");
  if (credential.status === "REVOKED") throw ValidationError.field(["credentialId"], "This credential is revoked: there is nothing to resend");
  const previous = await db.emailOutbox.count({ where: { tenantId: caller.tenantId, credentialId, kind: "credential_issued" } });
  const data = {
    kind: "credential_issued",
    toEmail: (await withPersonal(db, caller.tenantId, [credential.recipient]))[0]!.email,
    locale: credential.recipient.locale,
    idempotencyKey: `credential_issued:${credentialId}:resend:${previous}`,
    credentialId,
    recipientId: credential.recipientId,
    payload: { credentialId, credentialUrl: urls.credential(config.publicUrl, caller.tenantId, credentialId) },
  };
  // Today's content, fixed now: a fresh copy is a new message, not a replay of the first.
  const [id] = await queueEmails(db, mailSettings(config), caller.tenantId, [data]);
  const message = await db.emailOutbox.findUniqueOrThrow({ where: { tenantId_id: { tenantId: caller.tenantId, id: id! } } });
  await recordAudit(db, caller, { action: "email.resent", targetType: "Credential", targetId: credentialId, details: { messageId: message.id } });
  return message;
}

export interface RecipientPrivacyInput extends Omit<PrivacyChoicesInput, "objects"> {
  /** Objection (GDPR Art. 21): named for its first use; it stops tracking, partner events and analytics by person too. */
  objectsToReminders?: boolean | null;
}

/** Staff record a person's choices on their behalf; the flags and their history are privacy/choices.ts's. */
export async function updateRecipientPrivacy(db: Db, caller: Caller, recipientId: string, input: RecipientPrivacyInput) {
  const { objectsToReminders, ...rest } = input;
  return setPrivacyChoices(db, caller, recipientId, { ...rest, objects: objectsToReminders });
}

export interface BackgroundJob {
  id: string;
  task: string;
  attempts: number;
  maxAttempts: number;
  lastError: string | null;
  runAt: Date;
  createdAt: Date;
  payload: unknown;
  failed: boolean;
}

export async function tenantJobs(db: Db, failedOnly: boolean): Promise<BackgroundJob[]> {
  const rows = await db.$queryRaw<{ id: bigint; task: string; attempts: number; max_attempts: number; last_error: string | null; run_at: Date; created_at: Date; payload: unknown }[]>`
    select * from tenant_jobs(${failedOnly})`;
  return rows.map((r) => ({
    id: String(r.id),
    task: r.task,
    attempts: r.attempts,
    maxAttempts: r.max_attempts,
    lastError: r.last_error,
    runAt: r.run_at,
    createdAt: r.created_at,
    payload: r.payload,
    failed: r.attempts >= r.max_attempts,
  }));
}

export async function retryJob(db: Db, caller: Caller, id: string): Promise<boolean> {
  if (!/^\d{1,18}$/.test(id)) throw new NotFoundError("Job");
  const [row] = await db.$queryRaw<{ retried: boolean }[]>`select retry_tenant_job(${BigInt(id)}) as retried`;
  if (!row?.retried) throw new NotFoundError("Job");
  await recordAudit(db, caller, { action: "job.retried", targetType: "Job", targetId: id });
  return true;
}
