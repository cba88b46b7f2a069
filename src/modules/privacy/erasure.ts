// Erasure (GDPR Art. 17): staff carry out a person's erasure request; the worker revokes their
// credentials with a reason, then erase_recipient() (sql/031) blanks them in every table within the
// tenant, and the request is completed. What stays names no one: counts, status bits, an audit entry.
import type { App } from "../../context.js";
import type { Db } from "../../db/tenant-transaction.js";
import { ExpectedError, NotFoundError, ValidationError } from "../../errors.js";
import { recordAudit } from "../audit/service.js";
import { isUuid, type Caller } from "../common/caller.js";
import { revokeCredential } from "../credentials/service.js";
import { mailSettings } from "../delivery/compose.js";
import { enqueueJob } from "../jobs/enqueue.js";
import type { TenantTask } from "../jobs/worker.js";
import { deletePersonExports, isExportKind } from "./export.js";
import { deletePrivacyLinks } from "./links.js";
import { removeTenantExportFiles } from "../tenant-export/task.js";
import { emitRequestClosed } from "./partner-events.js";
import { carryOutChoiceRequest, isChoiceKind } from "./choices.js";
import { erasureNeedles, requestedChangesOf } from "./sealed.js";

export class AlreadyErasedError extends ExpectedError {
  override name = "AlreadyErasedError";
  constructor(message = "This person has already been erased") {
    super(message);
  }
}

/** The reason published with each of their credentials' revocation: nothing about the person. */
export const ERASURE_REVOCATION_REASON = "Withdrawn: the holder's personal data was erased at their request (GDPR Art. 17)";

/**
 * Refuses to act on someone already erased (AlreadyErasedError). Locks the person's row until the caller's
 * transaction ends (erase_recipient() locks it first too), so an erasure running meanwhile is either
 * finished and seen here, or waits until what the caller writes about the person is committed, and then
 * erases that as well: nothing written about a person can slip in behind their erasure.
 */
export async function assertNotErased(db: Db, tenantId: string, recipientId: string | null): Promise<void> {
  if (!recipientId) return;
  const [recipient] = await db.$queryRaw<{ erased_at: Date | null }[]>`
    select erased_at from recipients where tenant_id = ${tenantId}::uuid and id = ${recipientId}::uuid for update`;
  if (recipient?.erased_at) throw new AlreadyErasedError();
}

/**
 * Starts carrying out a request: erasure (erase_person), access / portability (export_person, the
 * person's ZIP, export.ts) or rectification (rectify_person, the correction the request records,
 * rectification.ts; an erased person is AlreadyErasedError); restriction, objection and consent
 * withdrawal are done at once (choices.ts). Moves it to in_progress (if open) and queues the work in the same
 * transaction; the worker completes the request.
 */
export async function carryOutDataSubjectRequest(db: Db, caller: Caller, id: string, config?: App["config"]) {
  const found = isUuid(id) ? await db.dataSubjectRequest.findUnique({ where: { tenantId_id: { tenantId: caller.tenantId, id } } }) : null;
  if (!found) throw new NotFoundError("DataSubjectRequest");
  const exporting = isExportKind(found.kind);
  if (isChoiceKind(found.kind) && !["completed", "refused", "cancelled"].includes(found.state)) {
    await assertNotErased(db, caller.tenantId, found.recipientId);
    return carryOutChoiceRequest(db, caller, found, new Date(), config);
  }
  const rectifying = found.kind === "rectification";
  if (found.kind !== "erasure" && !exporting && !rectifying) {
    throw ValidationError.field(["id"], `Laurel carries out every kind of request but ${found.kind}; do what it asks by hand`);
  }
  if (rectifying && !(await requestedChangesOf(db, caller.tenantId, found))) throw ValidationError.field(["id"], "The request records no correction: use rectifyRecipient with this request's id");
  if (found.state === "completed" || found.state === "refused" || found.state === "cancelled") throw ValidationError.field(["id"], `The request is ${found.state}, which is final`);
  if (exporting) {
    const erased = found.recipientId ? await db.recipient.findUnique({ where: { tenantId_id: { tenantId: caller.tenantId, id: found.recipientId } }, select: { erasedAt: true } }) : null;
    if (erased?.erasedAt) throw ValidationError.field(["id"], "The person has been erased: nothing of theirs is left to export");
  } else await assertNotErased(db, caller.tenantId, found.recipientId);
  if (!found.recipientId) throw ValidationError.field(["id"], "The request names no recipient: nothing of theirs is held");
  if (found.state === "open") {
    const { count } = await db.dataSubjectRequest.updateMany({
      where: { tenantId: caller.tenantId, id: found.id, state: "open" },
      data: { state: "in_progress" },
    });
    if (count !== 1) throw ValidationError.field(["id"], "The request changed meanwhile: read it again");
  }
  // One job per request, however often staff press the button.
  const task = exporting ? "export_person" : rectifying ? "rectify_person" : "erase_person";
  await enqueueJob(db, task, { requestId: found.id }, { jobKey: `${task}:${found.id}` });
  await recordAudit(db, caller, { action: "data_subject_request.carried_out", targetType: "DataSubjectRequest", targetId: found.id, details: { kind: found.kind } });
  return db.dataSubjectRequest.findUniqueOrThrow({ where: { tenantId_id: { tenantId: caller.tenantId, id: found.id } } });
}

/** The worker's half: revoke, erase, complete, in one tenant transaction (all or nothing). */
export const erasePersonTask: TenantTask<{ requestId: string }> = async (app, job) => {
  const settings = mailSettings(app.config);
  await job.inTenant(async (db) => {
    const { tenantId, caller } = job;
    const request = isUuid(job.payload.requestId)
      ? await db.dataSubjectRequest.findUnique({ where: { tenantId_id: { tenantId, id: job.payload.requestId } } })
      : null;
    if (!request || request.kind !== "erasure" || request.state !== "in_progress" || !request.recipientId) return; // cancelled meanwhile
    // The person's row first, as a rectification takes it (for update) before their credentials: the same
    // order on both paths, so the two wait for each other instead of deadlocking.
    await db.$queryRaw`select 1 from recipients where tenant_id = ${tenantId}::uuid and id = ${request.recipientId}::uuid for update`;
    const recipient = await db.recipient.findUniqueOrThrow({ where: { tenantId_id: { tenantId, id: request.recipientId } } });
    const now = new Date();
    if (recipient.erasedAt) {
      await complete(db, caller, request.id, "The person had already been erased", now, {});
      return;
    }
    const credentials = await db.credential.findMany({ where: { tenantId, recipientId: recipient.id, status: { not: "REVOKED" } }, select: { id: true } });
    for (const { id } of credentials) {
      await revokeCredential(db, caller, id, { reason: ERASURE_REVOCATION_REASON, notifyRecipient: false }, settings);
    }
    const exports = await deletePersonExports(db, tenantId, recipient.id);
    const links = await deletePrivacyLinks(db, tenantId, recipient.id);
    // A tenant export taken before now holds the person too: its file goes, and its link ends with it
    // (TenantExport.download is null from now on, instead of a link that would answer 410).
    await removeTenantExportFiles(app.config.exportDir, tenantId);
    await db.tenantExport.updateMany({ where: { tenantId, state: "completed", expiresAt: { gt: now } }, data: { expiresAt: now } });
    // A child's guardians' names and addresses, and the birth date (sql/037), then everything else.
    const [guardians] = await db.$queryRaw<{ n: number }[]>`select erase_guardians(${recipient.id}::uuid) as n`;
    // The database holds their name and addresses sealed: the app opens what could name them (sql/047).
    const { needles, emailIndexes } = await erasureNeedles(db, tenantId, recipient.id);
    const indexes = emailIndexes.map((i) => Buffer.from(i));
    const [row] = await db.$queryRaw<{ counts: Record<string, number> }[]>`
      select erase_recipient(${recipient.id}::uuid, ${needles}::text[], ${indexes}::bytea[]) as counts`;
    const counts: Record<string, number> = { ...row!.counts, guardianConsents: Number(guardians!.n) };
    const outcome = `Erased: ${counts.credentials ?? 0} credential(s) revoked and blanked, ${counts.emails ?? 0} email(s) and ${counts.engagementEvents ?? 0} engagement event(s) made anonymous`;
    const closed = await closeOtherRequests(db, tenantId, recipient.id, request.id, now);
    await complete(db, caller, request.id, outcome, now, { ...counts, revoked: credentials.length, exports, links, otherRequestsClosed: closed });
  });
};

/**
 * The person's other pending requests (an access request filed before the erasure, say) can no longer be
 * carried out: nothing of theirs is left. They are closed as cancelled, saying why, rather than left to
 * go overdue; partners hear of each as of any closed request.
 */
async function closeOtherRequests(db: Db, tenantId: string, recipientId: string, erasureId: string, now: Date): Promise<number> {
  const pending = await db.dataSubjectRequest.findMany({
    where: { tenantId, recipientId, id: { not: erasureId }, state: { in: ["open", "in_progress"] } },
    select: { id: true },
  });
  for (const { id } of pending) {
    const { count } = await db.dataSubjectRequest.updateMany({
      where: { tenantId, id, state: { in: ["open", "in_progress"] } },
      data: { state: "cancelled", completedAt: now, outcome: "Closed by the person's erasure: nothing of theirs is left to act on" },
    });
    if (count === 1) await emitRequestClosed(db, await db.dataSubjectRequest.findUniqueOrThrow({ where: { tenantId_id: { tenantId, id } } }));
  }
  return pending.length;
}

async function complete(db: Db, caller: Caller, id: string, outcome: string, now: Date, counts: Record<string, number>) {
  const { count } = await db.dataSubjectRequest.updateMany({
    where: { tenantId: caller.tenantId, id, state: "in_progress" },
    data: { state: "completed", completedAt: now, outcome },
  });
  if (count === 1) await emitRequestClosed(db, await db.dataSubjectRequest.findUniqueOrThrow({ where: { tenantId_id: { tenantId: caller.tenantId, id } } }));
  // That an erasure happened, and how much it touched: never who.
  await recordAudit(db, caller, { action: "data_subject_request.erased", targetType: "DataSubjectRequest", targetId: id, details: counts });
}
