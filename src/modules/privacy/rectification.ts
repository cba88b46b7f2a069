// Rectification (GDPR Art. 16): correcting a recipient's name or email updates their record, re-signs
// each of their current credentials with the corrected data at the same URL, keeps every document a
// credential had and every correction made (who, when, through which request), and tells the person.
// One service for every way in: the rectifyRecipient mutation, a rectification request carried out by
// the worker (rectify_person), and nothing else: updateRecipient refuses name and email changes.
import type { Db } from "../../db/tenant-transaction.js";
import { pgError } from "../../db/errors.js";
import { ExpectedError, NotFoundError, ValidationError, type FieldProblem } from "../../errors.js";
import { normaliseEmail } from "../../lib/email-address.js";
import { nfc, personNameProblem, textProblem } from "../../lib/text.js";
import { recordAudit } from "../audit/service.js";
import { isUuid, type Caller } from "../common/caller.js";
import { correctedDocument, urls } from "../credentials/document.js";
import { allocatorFor, bumpListVersion, statusAllocatorFor } from "../credentials/status-lists.js";
import { signCredential } from "../credentials/vc/proofs.js";
import { createDocumentLoader } from "../credentials/vc/document-loader.js";
import { mailSettings, type MailSettings } from "../delivery/compose.js";
import type { TenantTask } from "../jobs/worker.js";
import { activeSigningKey, type IssuerSettings } from "../issuers/service.js";
import { enqueueEmail } from "../outbox/service.js";
import { RecipientExistsError, checkRecipient } from "../recipients/service.js";
import { AlreadyErasedError } from "./erasure.js";
import { randomUUID } from "node:crypto";
import { openDocument, sealDocument } from "../credentials/sealed-document.js";
import { byEmail, LEGACY_CLEARED, openRecipient, sealRecipient } from "../recipients/personal.js";
import { tenantKeys } from "../vault/vault.js";
import { requestedChangesOf, sealRectification } from "./sealed.js";
import { assertMayIssue } from "./processing.js";
import { tenantTimeZone } from "../tenants/service.js";
import { emitRequestClosed } from "./partner-events.js";

const contextsOnly = createDocumentLoader();

/** Published with a superseded document (its history row); says nothing about the person. */
export const SUPERSEDED_REASON = "Superseded: re-issued with the holder's corrected details (GDPR Art. 16); the current document is at the credential's id";

export const MAX_NAME = 200;

/** A correction as asked: either or both of name and email; absent fields stay as they are. */
export interface CorrectionInput {
  name?: string | null;
  email?: string | null;
}

/** A correction checked and normalised: the fields given, exactly as they will be stored. */
export interface Correction {
  name?: string;
  email?: string;
}

/**
 * Checks a correction as recipients are checked (recipients/service.ts checkRecipient): a name is text
 * (lib/text), NFC, trimmed, 1 to 200 characters, and a person's name (lib/text personNameProblem: one
 * line, no bidi controls or tag characters, something visible); an email is normalised by
 * lib/email-address. At least one must be given; a name may be corrected, not removed. Throws
 * ValidationError with one problem per field under `base`.
 */
export function checkCorrection(input: CorrectionInput, base: string[] = ["input"]): Correction {
  const problems: FieldProblem[] = [];
  const out: Correction = {};
  if (input.name != null) {
    const problem = textProblem(input.name);
    const name = problem ? "" : nfc(input.name).trim();
    if (problem) problems.push({ path: [...base, "name"], message: problem });
    else if (!name) problems.push({ path: [...base, "name"], message: "A corrected name cannot be empty" });
    else if (name.length > MAX_NAME) problems.push({ path: [...base, "name"], message: `At most ${MAX_NAME} characters` });
    else {
      const nameProblem = personNameProblem(name);
      if (nameProblem) problems.push({ path: [...base, "name"], message: nameProblem });
      else out.name = name;
    }
  }
  if (input.email != null) {
    const checked = normaliseEmail(input.email);
    if (checked.ok) out.email = checked.email;
    else problems.push({ path: [...base, "email"], message: `Not a valid email address: ${checked.reason}` });
  }
  if (input.name == null && input.email == null) problems.push({ path: base, message: "Give the corrected name, email, or both" });
  if (problems.length) throw new ValidationError(problems[0]!.message, problems);
  return out;
}

export interface RectifyInput extends CorrectionInput {
  /** The recipient's id (UUID, decoded from its global id). */
  recipientId: string;
  /** A rectification request of theirs this correction answers; completed by it. */
  requestId?: string | null;
}

/**
 * Corrects a recipient's name and/or email (GDPR Art. 16) in the caller's transaction, all or nothing:
 *
 * 1. The record: checked by checkCorrection, then stored; another recipient holding the address is
 *    RecipientExistsError, an erased person AlreadyErasedError, another tenant's NotFoundError, a
 *    correction that changes nothing ValidationError.
 * 2. Each current credential (ACTIVE or SUSPENDED, not expired, not erased) is re-issued: the signed
 *    document as published is kept in credential_documents with when it was signed, when and why it was
 *    superseded; the new document (credentials/document.ts correctedDocument) takes a fresh entry in
 *    the tenant's revocation list and is signed with the active key; the old entry is then published as
 *    set (sql/036 public_status_list). Revoked and expired credentials keep their document: they state
 *    what was true while they counted, and re-signing them would make a dead claim look fresh.
 *
 *    The new document keeps the credential's `id`, its public URL. VC 2.0 (§4.4) makes `id` the one
 *    identifier of the claim, and the claim (this award, to this person) is unchanged: only how the
 *    holder is named was wrong. Holders have shared that URL (LinkedIn, CVs, emails); keeping it makes
 *    every shared link, page, JSON endpoint, baked badge and certificate (all rendered from the current
 *    document) show the corrected one, while a copy of the old document still verifies its proof but
 *    reports revoked, since Bitstring Status List has no "superseded" purpose (its purposes are
 *    revocation, suspension, refresh, message) and OB 3.0's schema allows one credentialStatus entry.
 *    Our verifier says which (verify.ts: superseded, with the current document's URL). A new id would
 *    have broken every shared link for a correction the person asked for.
 * 3. The correction is recorded (recipient_rectifications: before and after, who, when, which request,
 *    how many credentials), audited without the values, and the person is told: an email to the
 *    (corrected) address with a link to each re-issued credential, and, when the address changed, a
 *    short notice to the old one that names no new address (so a hijacked change does not go unseen).
 * 4. A given request (rectification, of this person, not final) is completed, with the partner event.
 *
 * Returns the rectification row. Units: times are instants (UTC); `now` is when it happens.
 */
export async function rectifyRecipient(db: Db, caller: Caller, input: RectifyInput, settings: IssuerSettings & MailSettings, now = new Date()) {
  const { tenantId } = caller;
  const found = isUuid(input.recipientId) ? await db.recipient.findUnique({ where: { tenantId_id: { tenantId, id: input.recipientId } } }) : null;
  if (!found) throw new NotFoundError("Recipient");
  // One correction at a time per person: a second waits here and then sees the first's result.
  await db.$queryRaw`select 1 from recipients where tenant_id = ${tenantId}::uuid and id = ${found.id}::uuid for update`;
  const keys = await tenantKeys(db, tenantId);
  const stored = await db.recipient.findUniqueOrThrow({ where: { tenantId_id: { tenantId, id: found.id } } });
  const recipient = { ...stored, ...openRecipient(keys, stored) };
  if (recipient.erasedAt) throw new AlreadyErasedError();
  // An erasure under way wins: correcting (and re-signing, and emailing) what is about to go helps no one.
  const erasing = await db.dataSubjectRequest.findFirst({ where: { tenantId, recipientId: recipient.id, kind: "erasure", state: "in_progress" }, select: { id: true } });
  if (erasing) throw new AlreadyErasedError("This person's erasure is under way: nothing of theirs is corrected any more");
  // Re-signing is issuing: a child without a guardian's recorded consent gets nothing new (Art. 8).
  await assertMayIssue(db, tenantId, recipient.id, await tenantTimeZone(db, tenantId), now);
  const correction = checkCorrection(input);
  const request = input.requestId ? await findOpenRequest(db, tenantId, input.requestId, recipient.id) : null;

  const name = correction.name ?? recipient.name;
  const email = correction.email ?? recipient.email;
  const changed = [...(name !== recipient.name ? ["name"] : []), ...(email !== recipient.email ? ["email"] : [])];
  if (!changed.length) throw ValidationError.field(["input"], "Nothing to correct: the recipient already has this name and email");
  // The stored record passes the same check as any recipient's.
  checkRecipient({ email, name, externalId: recipient.externalId, locale: recipient.locale, attributes: recipient.attributes });
  if (email !== recipient.email) {
    const holder = await db.recipient.findFirst({ where: { tenantId, id: { not: recipient.id }, ...byEmail(keys, email) }, select: { id: true } });
    if (holder) throw new RecipientExistsError("email");
  }
  // Sealed afresh (a legacy row's plain text goes with it); the blind index keeps the address unique.
  const personal = sealRecipient(keys, recipient.id, { email, name, attributes: recipient.attributes });
  await db.recipient.update({ where: { tenantId_id: { tenantId, id: recipient.id } }, data: { ...personal, ...LEGACY_CLEARED } }).catch((error: unknown) => {
    if (pgError(error)?.code === "23505") throw new RecipientExistsError("email");
    throw error;
  });
  const rectificationId = randomUUID();
  const rectification = await db.recipientRectification.create({
    data: {
      id: rectificationId,
      tenantId,
      recipientId: recipient.id,
      requestId: request?.id ?? null,
      changed,
      ...sealRectification(keys, rectificationId, { oldName: recipient.name, newName: name, oldEmail: recipient.email, newEmail: email }),
      actorKind: caller.actor.kind,
      actorId: caller.actor.id,
      rectifiedAt: now,
    },
  });

  const reissued = await reissueCredentials(db, caller, recipient.id, { email, name }, rectification.id, settings, now);
  const row = await db.recipientRectification.update({
    where: { tenantId_id: { tenantId, id: rectification.id } },
    data: { credentialsReissued: reissued.length },
  });
  // What changed and how much it touched; never the values (the history row holds them, for erasure to blank).
  await recordAudit(db, caller, {
    action: "recipient.rectified",
    targetType: "Recipient",
    targetId: recipient.id,
    details: { changed, rectificationId: rectification.id, requestId: request?.id ?? null, credentialsReissued: reissued.length },
  });
  await tellThePerson(db, tenantId, recipient, email, changed, reissued, rectification.id, settings);
  if (request) await completeRequest(db, caller, request.id, changed, reissued.length, now);
  return row;
}

async function findOpenRequest(db: Db, tenantId: string, id: string, recipientId: string) {
  const request = isUuid(id) ? await db.dataSubjectRequest.findUnique({ where: { tenantId_id: { tenantId, id } } }) : null;
  if (!request) throw new NotFoundError("DataSubjectRequest");
  const path = ["input", "requestId"];
  if (request.kind !== "rectification") throw ValidationError.field(path, `This is a ${request.kind} request, not a rectification`);
  if (request.recipientId !== recipientId) throw ValidationError.field(path, "This request is about another person");
  if (request.state !== "open" && request.state !== "in_progress") throw ValidationError.field(path, `The request is ${request.state}, which is final`);
  return request;
}

interface Reissued {
  id: string;
  name: string;
  url: string;
}

/** Re-signs each current credential of the person (see rectifyRecipient, step 2); returns them. */
async function reissueCredentials(db: Db, caller: Caller, recipientId: string, holder: { email: string; name: string | null }, rectificationId: string, settings: IssuerSettings & MailSettings, now: Date): Promise<Reissued[]> {
  const { tenantId } = caller;
  const keys = await tenantKeys(db, tenantId);
  // Locked before they are read, so a revocation or suspension committed meanwhile is seen, not undone.
  await db.$queryRaw`select 1 from credentials where tenant_id = ${tenantId}::uuid and recipient_id = ${recipientId}::uuid for update`;
  const credentials = await db.credential.findMany({
    where: { tenantId, recipientId, status: { in: ["ACTIVE", "SUSPENDED"] }, erasedAt: null, OR: [{ validUntil: null }, { validUntil: { gt: now } }] },
    include: { templateVersionRow: { select: { name: true, credentialDescription: true } } },
    orderBy: [{ issuedAt: "asc" }, { id: "asc" }],
  });
  if (!credentials.length) return [];
  const slots = await allocatorFor(db, settings.allocateStatus)(tenantId, "revocation", credentials.length);
  const key = await activeSigningKey(db, tenantId, settings);
  const oldLists = new Set<string>();
  const out: Reissued[] = [];
  for (const [i, c] of credentials.entries()) {
    const slot = slots[i]!;
    // Read by hand: the sealed columns (sql/048) are not yet in the Prisma model of credentials.
    const [sealed] = await db.$queryRaw<{ key_version: number | null; document_sealed: Uint8Array | null; legacy_document: unknown }[]>`
      select key_version, document_sealed, legacy_document from credentials where tenant_id = ${tenantId}::uuid and id = ${c.id}::uuid`;
    const current = sealed ? openDocument(keys, "credentials", { id: c.id, keyVersion: sealed.key_version, documentSealed: sealed.document_sealed, legacyDocument: sealed.legacy_document }) : null;
    if (!current) continue; // erased meanwhile: nothing to re-sign
    const unsigned = correctedDocument(current, {
      recipientEmail: holder.email,
      recipientName: holder.name,
      credentialDescription: c.templateVersionRow.credentialDescription,
      fieldValues: c.fieldValues as Record<string, string>,
      revocation: slot,
      publicUrl: settings.publicUrl,
      tenantId,
    });
    const signed = await signCredential(unsigned, key, contextsOnly);
    // The document as published, byte for byte, with the entry it carried; signed when the one before it was superseded.
    const previous = await db.credentialDocument.aggregate({ where: { tenantId, credentialId: c.id }, _max: { supersededAt: true } });
    const documentId = randomUUID();
    await db.credentialDocument.create({
      data: {
        id: documentId, tenantId, credentialId: c.id,
        ...sealDocument(keys, "credential_documents", documentId, current),
        statusListId: c.statusListId, statusIndex: c.statusIndex,
        signedAt: previous._max.supersededAt ?? c.issuedAt, supersededAt: now, supersededReason: SUPERSEDED_REASON, rectificationId,
      },
    });
    const next = sealDocument(keys, "credentials", c.id, signed as object);
    await db.$executeRaw`
      update credentials set key_version = ${next.keyVersion}, document_sealed = ${Buffer.from(next.documentSealed)}, legacy_document = null,
                             status_list_id = ${slot.listId}::uuid, status_index = ${slot.index}
       where tenant_id = ${tenantId}::uuid and id = ${c.id}::uuid`;
    oldLists.add(c.statusListId);
    await recordAudit(db, caller, {
      action: "credential.reissued",
      targetType: "Credential",
      targetId: c.id,
      details: { reason: "rectification", rectificationId, supersededEntry: { listId: c.statusListId, index: c.statusIndex } },
    });
    out.push({ id: c.id, name: c.templateVersionRow.name, url: urls.credential(settings.publicUrl, tenantId, c.id) });
  }
  // The old entries are now set: the signed lists cached per version must be signed again.
  for (const listId of oldLists) await bumpListVersion(db, tenantId, listId);
  return out;
}

async function tellThePerson(
  db: Db,
  tenantId: string,
  before: { id: string; email: string; locale: string },
  email: string,
  changed: string[],
  reissued: Reissued[],
  rectificationId: string,
  settings: MailSettings,
) {
  await enqueueEmail(db, tenantId, {
    kind: "recipient_rectified",
    toEmail: email,
    locale: before.locale,
    recipientId: before.id,
    idempotencyKey: `recipient_rectified:${rectificationId}`,
    payload: {
      changedName: changed.includes("name") ? "yes" : "",
      changedEmail: changed.includes("email") ? "yes" : "",
      credentials: reissued.map((r) => ({ name: r.name, url: r.url })),
    },
  }, settings);
  if (changed.includes("email")) {
    // Account-takeover safety: the old address learns of the change, never the new address.
    await enqueueEmail(db, tenantId, {
      kind: "recipient_email_changed",
      toEmail: before.email,
      locale: before.locale,
      recipientId: before.id,
      idempotencyKey: `recipient_email_changed:${rectificationId}`,
      payload: {},
    }, settings);
  }
}

async function completeRequest(db: Db, caller: Caller, id: string, changed: string[], reissued: number, now: Date) {
  const outcome = `Rectified: ${changed.join(" and ")} corrected; ${reissued} credential(s) re-issued at the same address, the person notified`;
  const { count } = await db.dataSubjectRequest.updateMany({
    where: { tenantId: caller.tenantId, id, state: { in: ["open", "in_progress"] } },
    data: { state: "completed", completedAt: now, outcome },
  });
  if (count !== 1) throw ValidationError.field(["input", "requestId"], "The request changed meanwhile: read it again");
  await recordAudit(db, caller, { action: "data_subject_request.rectified", targetType: "DataSubjectRequest", targetId: id, details: { changed, credentialsReissued: reissued } });
  await emitRequestClosed(db, await db.dataSubjectRequest.findUniqueOrThrow({ where: { tenantId_id: { tenantId: caller.tenantId, id } } }));
}

/** What a rectification request asks for, as stored (requested_changes), or null. */
export function requestedCorrection(value: unknown): Correction | null {
  if (!value || typeof value !== "object") return null;
  const v = value as Record<string, unknown>;
  const out: Correction = {};
  if (typeof v.name === "string") out.name = v.name;
  if (typeof v.email === "string") out.email = v.email;
  return out.name === undefined && out.email === undefined ? null : out;
}

/**
 * The worker's half of a rectification request (carryOutDataSubjectRequest queued it): applies the
 * correction the request records through rectifyRecipient, which completes the request, in one tenant
 * transaction. A correction that can no longer be made (the address taken meanwhile, the person erased)
 * leaves the request in progress with the reason as its outcome, for staff to answer; it is not retried.
 */
export const rectifyPersonTask: TenantTask<{ requestId: string }> = async (app, job) => {
  const settings = { ...mailSettings(app.config), allocateStatus: statusAllocatorFor(app) };
  const { tenantId, caller } = job;
  const id = job.payload.requestId;
  try {
    await job.inTenant(async (db) => {
      const request = isUuid(id) ? await db.dataSubjectRequest.findUnique({ where: { tenantId_id: { tenantId, id } } }) : null;
      if (!request || request.kind !== "rectification" || request.state !== "in_progress" || !request.recipientId) return; // closed meanwhile
      const asked = requestedCorrection(await requestedChangesOf(db, tenantId, request));
      if (!asked) throw ValidationError.field(["requestedChanges"], "The request records no correction");
      await rectifyRecipient(db, caller, { recipientId: request.recipientId, ...asked, requestId: request.id }, settings);
    });
  } catch (error) {
    if (!(error instanceof ExpectedError)) throw error;
    const outcome = `Not carried out: ${error.message}`.slice(0, 2000);
    await job.inTenant(async (db) => {
      const { count } = await db.dataSubjectRequest.updateMany({ where: { tenantId, id, state: "in_progress" }, data: { outcome } });
      if (count) await recordAudit(db, caller, { action: "data_subject_request.not_carried_out", targetType: "DataSubjectRequest", targetId: id, details: { error: error.name } });
    });
  }
};
