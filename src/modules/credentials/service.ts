// Issuing, revoking and suspending credentials. Issuance signs the OB 3.0 credential with the
// tenant's active key, records it, audits it and queues its email, all in the caller's transaction.
import type { Db } from "../../db/tenant-transaction.js";
import { ExpectedError, NotFoundError, ValidationError, type FieldProblem } from "../../errors.js";
import { recordAudit } from "../audit/service.js";
import { enqueueEmail } from "../outbox/service.js";
import type { MailSettings } from "../delivery/compose.js";
import { emitPartnerEvents } from "../jobs/enqueue.js";
import { assertMayIssue } from "../privacy/processing.js";
import { isUuid, type Caller } from "../common/caller.js";
import { checkSharedTexts, findTemplate, TemplateNotIssuableError, type CustomField } from "../templates/service.js";
import { tenantTimeZone } from "../tenants/service.js";
import { addCalendarDays, issueDateProblem, parseCalendarDate, rangeProblem } from "../../lib/calendar.js";
import { findRecipient, upsertRecipient, type RecipientInput } from "../recipients/service.js";
import { activeSigningKey, getProfile, type IssuerSettings } from "../issuers/service.js";
import { issuerDid } from "../issuers/identity.js";
import { buildCredential, urls, type EvidenceInput } from "./document.js";
import { sealDocument } from "./sealed-document.js";
import { tenantKeys } from "../vault/vault.js";
import { allocatorFor, bumpListVersion } from "./status-lists.js";
import { signCredential } from "./vc/proofs.js";
import { createDocumentLoader } from "./vc/document-loader.js";
import { nfc, signedTextProblem, storableText, textProblem } from "../../lib/text.js";
import { awardRow, awardsOf, DuplicateCredentialError, uniqueAward, type Award } from "./duplicates.js";

const contextsOnly = createDocumentLoader();

export class CredentialStateError extends ExpectedError {
  override name = "CredentialStateError";
  constructor(message: string) {
    super(message);
  }
}

export interface IssueInput {
  templateId: string;
  recipientId?: string | null;
  recipient?: RecipientInput | null;
  fieldValues?: Record<string, unknown> | null;
  issuedAt?: Date | null;
  validUntil?: Date | null;
  evidence?: EvidenceInput[] | null;
  idempotencyKey?: string | null;
}

/**
 * Checks values for a template's custom fields (by name) and returns them as signed: strings in NFC,
 * trimmed, empty ones left out. Throws ValidationError naming each field under `base`.
 */
export function checkFieldValues(fields: CustomField[], values: Record<string, unknown>, base: string[]): Record<string, string> {
  const problems: FieldProblem[] = [];
  const out: Record<string, string> = {};
  const known = new Set(fields.map((f) => f.name));
  for (const name of Object.keys(values)) if (!known.has(name)) problems.push({ path: [...base, storableText(name)], message: `Unknown field "${storableText(name)}"` });
  for (const f of fields) {
    const raw = values[f.name];
    if (raw !== null && typeof raw === "object") {
      problems.push({ path: [...base, f.name], message: "Must be a text, a number or a date, not a list or an object" });
      continue;
    }
    const notText = typeof raw === "string" ? (textProblem(raw) ?? signedTextProblem(raw)) : null;
    if (notText) {
      problems.push({ path: [...base, f.name], message: notText });
      continue;
    }
    const text = raw === undefined || raw === null ? "" : nfc(String(raw)).trim();
    if (!text) {
      if (f.required) problems.push({ path: [...base, f.name], message: `"${f.label ?? f.name}" is required` });
      continue;
    }
    if (text.length > 1000) problems.push({ path: [...base, f.name], message: "At most 1,000 characters" });
    else if (f.type === "NUMBER" && !Number.isFinite(Number(text))) problems.push({ path: [...base, f.name], message: "Must be a number" });
    else if (f.type === "URL" && !/^https?:\/\/\S+$/.test(text)) problems.push({ path: [...base, f.name], message: "Must be an http(s) URL" });
    else if (f.type === "DATE") {
      const day = parseCalendarDate(text);
      if (!day.ok) problems.push({ path: [...base, f.name], message: day.message });
    }
    out[f.name] = text;
  }
  if (problems.length) throw new ValidationError(problems[0]!.message, problems);
  return out;
}

export async function issueCredential(db: Db, caller: Caller, input: IssueInput, settings: IssuerSettings & MailSettings) {
  const key = input.idempotencyKey?.trim() || null;
  if (key && key.length > 200) throw ValidationError.field(["input", "idempotencyKey"], "At most 200 characters");
  if (key) {
    // Same-key requests queue here, so the second finds what the first committed.
    await db.$queryRaw`select pg_advisory_xact_lock(hashtextextended(${`${caller.tenantId}:${key}`}, 7420113))::text`;
    const existing = await db.credential.findUnique({ where: { tenantId_idempotencyKey: { tenantId: caller.tenantId, idempotencyKey: key } } });
    if (existing) {
      if (existing.templateId !== input.templateId) {
        throw ValidationError.field(["input", "idempotencyKey"], "This idempotency key was used for another template");
      }
      return existing;
    }
  }
  const template = await findTemplate(db, caller, input.templateId);
  if (template.status !== "ACTIVE") throw new TemplateNotIssuableError(template.status);
  const version = await db.templateVersion.findUniqueOrThrow({
    where: { tenantId_templateId_version: { tenantId: caller.tenantId, templateId: template.id, version: template.currentVersion } },
  });
  checkSharedTexts(version);
  if (!input.recipientId === !input.recipient) throw ValidationError.field(["input", "recipient"], "Give either recipientId or recipient");
  const fieldValues = checkFieldValues(version.customFields as unknown as CustomField[], input.fieldValues ?? {}, ["input", "fieldValues"]);
  const recipient = input.recipientId ? await findRecipient(db, caller, input.recipientId) : await upsertRecipient(db, caller, input.recipient!);
  // A child without a guardian's consent gets nothing (GDPR Art. 8; the rule is privacy/processing.ts).
  await assertMayIssue(db, caller.tenantId, recipient.id, await tenantTimeZone(db, caller.tenantId));
  const policy = template.duplicatePolicy;
  const held = policy === "ALLOW" ? [] : ((await awardsOf(caller.tenantId, template.id, [recipient.id])).get(recipient.id) ?? []);
  if (held.length && policy === "REFUSE") throw new DuplicateCredentialError(await awardRow(db, caller.tenantId, held[0]!.id), caller.permissions.has("personal:read"));

  const validFrom = input.issuedAt ?? new Date();
  const issueProblem = issueDateProblem(validFrom);
  if (issueProblem) throw ValidationError.field(["input", "issuedAt"], issueProblem);
  const validUntil =
    input.validUntil ??
    (version.validity === "DAYS_AFTER_ISSUE" ? addCalendarDays(validFrom, version.validityDays!, await tenantTimeZone(db, caller.tenantId)) : null) ??
    (version.validity === "FIXED_DATE" ? version.validUntil : null);
  if (input.validUntil && rangeProblem(input.validUntil)) throw ValidationError.field(["input", "validUntil"], rangeProblem(input.validUntil)!);
  if (validUntil && validUntil <= validFrom) throw ValidationError.field(["input", "validUntil"], "Must be after the issue date");
  for (const [i, e] of (input.evidence ?? []).entries()) {
    if (e.id && !/^https?:\/\/\S+$/.test(e.id)) throw ValidationError.field(["input", "evidence", String(i), "id"], "Must be an http(s) URL");
  }

  const allocate = allocatorFor(db, settings.allocateStatus);
  const [revocation] = await allocate(caller.tenantId, "revocation", 1);
  const [suspension] = await allocate(caller.tenantId, "suspension", 1);
  const credentialId = crypto.randomUUID();
  const signingKey = await activeSigningKey(db, caller.tenantId, settings);
  const profile = await getProfile(db, caller.tenantId);
  const unsigned = buildCredential({
    credentialId,
    tenantId: caller.tenantId,
    publicUrl: settings.publicUrl,
    did: issuerDid(settings.publicUrl, caller.tenantId),
    profile,
    achievement: { ...version, kind: template.kind },
    recipientEmail: recipient.email,
    recipientName: recipient.name,
    fieldValues,
    validFrom,
    validUntil,
    evidence: input.evidence ?? [],
    revocation: revocation!,
  });
  const document = await signCredential(unsigned, signingKey, contextsOnly);
  await replaceAwards(db, caller, held, credentialId, settings);
  // On conflict nothing is written: another issuance for this person committed first (credentials_unique_award).
  const { count } = await db.credential.createMany({
    skipDuplicates: true,
    data: {
      tenantId: caller.tenantId,
      id: credentialId,
      templateId: template.id,
      templateVersion: version.version,
      recipientId: recipient.id,
      statusListId: revocation!.listId,
      statusIndex: revocation!.index,
      suspensionListId: suspension!.listId,
      suspensionIndex: suspension!.index,
      validFrom,
      validUntil,
      fieldValues,
      evidence: (input.evidence ?? []) as object,
      ...sealDocument(await tenantKeys(db, caller.tenantId), "credentials", credentialId, document as object),
      idempotencyKey: key,
      uniqueAward: uniqueAward(policy),
    },
  });
  if (count === 0) {
    const [first] = (await awardsOf(caller.tenantId, template.id, [recipient.id])).get(recipient.id) ?? [];
    if (!first) throw new Error("credential insert skipped without a conflicting award");
    throw new DuplicateCredentialError(await awardRow(db, caller.tenantId, first.id), caller.permissions.has("personal:read"));
  }
  const credential = await db.credential.findUniqueOrThrow({ where: { tenantId_id: { tenantId: caller.tenantId, id: credentialId } } });
  await recordAudit(db, caller, {
    action: "credential.issued",
    targetType: "Credential",
    targetId: credentialId,
    details: { templateId: template.id, version: version.version, recipientId: recipient.id },
  });
  await enqueueEmail(db, caller.tenantId, {
    kind: "credential_issued",
    toEmail: recipient.email,
    locale: recipient.locale,
    idempotencyKey: `credential_issued:${credentialId}`,
    credentialId,
    recipientId: recipient.id,
    payload: { credentialId, credentialUrl: urls.credential(settings.publicUrl, caller.tenantId, credentialId), name: version.name },
  }, settings);
  await emitPartnerEvents(db, "credential.issued", [{ credentialId, recipientId: recipient.id, templateId: template.id }]);
  return credential;
}

/**
 * REPLACE: revokes the credentials a new award supersedes, each with a reason naming its successor.
 * One already revoked meanwhile (a concurrent replacement) is left as it is.
 */
export async function replaceAwards(db: Db, caller: Caller, awards: Award[], successorId: string, settings: IssuerSettings & MailSettings) {
  for (const award of awards) {
    try {
      await revokeCredential(db, caller, award.id, { reason: `Replaced by credential ${successorId}` }, settings);
    } catch (error) {
      if (!(error instanceof CredentialStateError)) throw error;
    }
  }
}

async function findCredential(db: Db, caller: Caller, id: string) {
  const credential = isUuid(id) ? await db.credential.findUnique({ where: { tenantId_id: { tenantId: caller.tenantId, id } } }) : null;
  if (!credential) throw new NotFoundError("Credential");
  await db.$queryRaw`select 1 from credentials where tenant_id = ${caller.tenantId}::uuid and id = ${id}::uuid for update`;
  return credential;
}

export async function revokeCredential(db: Db, caller: Caller, id: string, input: { reason: string; notifyRecipient?: boolean | null }, settings: IssuerSettings & MailSettings) {
  const credential = await findCredential(db, caller, id);
  if (credential.status === "REVOKED") throw new CredentialStateError("This credential is already revoked");
  const reason = input.reason.trim();
  if (!reason || reason.length > 1000) throw ValidationError.field(["input", "reason"], "Give a reason of up to 1,000 characters");
  const updated = await db.credential.update({
    where: { tenantId_id: { tenantId: caller.tenantId, id } },
    data: { status: "REVOKED", revokedAt: new Date(), revocationReason: reason },
  });
  await bumpListVersion(db, caller.tenantId, credential.statusListId);
  if (credential.status === "SUSPENDED") await bumpListVersion(db, caller.tenantId, credential.suspensionListId);
  await recordAudit(db, caller, { action: "credential.revoked", targetType: "Credential", targetId: id, details: { reason } });
  await emitPartnerEvents(db, "credential.revoked", [{ credentialId: id, reason }]);
  if (input.notifyRecipient) {
    const recipient = await findRecipient(db, caller, credential.recipientId);
    await enqueueEmail(db, caller.tenantId, {
      kind: "credential_revoked",
      toEmail: recipient.email,
      locale: recipient.locale,
      idempotencyKey: `credential_revoked:${id}`,
      credentialId: id,
      recipientId: recipient.id,
      payload: { credentialId: id, reason, credentialUrl: urls.credential(settings.publicUrl, caller.tenantId, id) },
    }, settings);
  }
  return updated;
}

export async function setSuspended(db: Db, caller: Caller, id: string, suspended: boolean, settings: MailSettings) {
  const credential = await findCredential(db, caller, id);
  if (credential.status === "REVOKED") throw new CredentialStateError("A revoked credential cannot be suspended or reinstated");
  if ((credential.status === "SUSPENDED") === suspended) {
    throw new CredentialStateError(suspended ? "This credential is already suspended" : "This credential is not suspended");
  }
  const updated = await db.credential.update({
    where: { tenantId_id: { tenantId: caller.tenantId, id } },
    data: { status: suspended ? "SUSPENDED" : "ACTIVE", suspendedAt: suspended ? new Date() : null },
  });
  await bumpListVersion(db, caller.tenantId, credential.suspensionListId);
  await recordAudit(db, caller, { action: suspended ? "credential.suspended" : "credential.unsuspended", targetType: "Credential", targetId: id });
  const recipient = await findRecipient(db, caller, credential.recipientId);
  const kind = suspended ? "credential_suspended" : "credential_reinstated";
  await emitPartnerEvents(db, suspended ? "credential.suspended" : "credential.reinstated", [{ credentialId: id }]);
  await enqueueEmail(db, caller.tenantId, {
    kind,
    toEmail: recipient.email,
    locale: recipient.locale,
    credentialId: id,
    recipientId: recipient.id,
    // One notice per change: the list version is unique to this flip of the suspension bit.
    idempotencyKey: `${kind}:${id}:${(updated.suspendedAt ?? new Date()).getTime()}`,
    payload: { credentialId: id, credentialUrl: urls.credential(settings.publicUrl, caller.tenantId, id) },
  }, settings);
  return updated;
}
