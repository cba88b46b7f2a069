// Telling a person what became of their request (GDPR Art. 12(3) and (4)): an email to the address on
// record, or a child's guardian on record; nobody for an erased person or a child without a guardian,
// whom staff answer by other means. One path for every such notice, so none forgets the child rule.
import type { App } from "../../context.js";
import { SEALED_RECIPIENT, withPersonal } from "../recipients/personal.js";
import type { Db } from "../../db/tenant-transaction.js";
import type { DataSubjectRequestKind } from "../../generated/prisma/enums.js";
import { mailSettings } from "../delivery/compose.js";
import type { EmailKind } from "../delivery/content.js";
import { queueEmails } from "../outbox/service.js";
import { tenantTimeZone } from "../tenants/service.js";
import { rightsAddress } from "./guardian.js";

export type RequestNotice = Extract<EmailKind, "data_subject_request_refused" | "data_subject_request_extended" | "data_subject_request_completed">;

/**
 * Queues `kind` about `request` to the person (once per request and kind: the idempotency key). `payload`
 * gets the request's kind as `requestKind` and whatever the notice's template reads (reason, dueOn, action).
 * Returns who it went to ("person", "guardian") or null when no one could be written to.
 */
export async function emailPersonAbout(
  db: Db,
  config: App["config"],
  request: { id: string; tenantId: string; kind: DataSubjectRequestKind; recipientId: string | null },
  kind: RequestNotice,
  payload: (timeZone: string, locale: string) => Record<string, string>,
): Promise<"person" | "guardian" | null> {
  if (!request.recipientId) return null;
  const row = await db.recipient.findUnique({
    where: { tenantId_id: { tenantId: request.tenantId, id: request.recipientId } },
    select: { ...SEALED_RECIPIENT, locale: true, erasedAt: true, isChild: true, birthDate: true },
  });
  if (!row || row.erasedAt) return null;
  const [person] = await withPersonal(db, request.tenantId, [row]);
  if (!person) return null;
  const timeZone = await tenantTimeZone(db, request.tenantId);
  const to = await rightsAddress(db, request.tenantId, person, timeZone);
  if (!to) return null;
  await queueEmails(db, mailSettings(config), request.tenantId, [{
    kind,
    toEmail: to.email,
    locale: person.locale,
    recipientId: request.recipientId,
    idempotencyKey: `${kind}:${request.id}`,
    payload: { requestKind: request.kind, ...payload(timeZone, person.locale) },
  }]);
  return to.guardian ? "guardian" : "person";
}
