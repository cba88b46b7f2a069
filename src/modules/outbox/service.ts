// Emails to send, queued in the transaction of the change that causes them, together with their fixed
// content and the job that sends them: a rolled-back change sends nothing, a committed one always has
// its job, and every attempt of that job sends the same message. The idempotency key keeps a message
// single per cause.
import type { Db } from "../../db/tenant-transaction.js";
import { enqueueEmailDelivery } from "../jobs/enqueue.js";
import { fixContent, type MailSettings, type QueuedEmail } from "../delivery/compose.js";

export interface OutboxEmail {
  kind: string;
  toEmail: string;
  locale?: string;
  payload: Record<string, unknown>;
  idempotencyKey: string;
  credentialId?: string;
  recipientId?: string;
}

export async function enqueueEmail(db: Db, tenantId: string, email: OutboxEmail, settings: MailSettings): Promise<string> {
  const locale = email.locale ?? "en";
  const row = await db.emailOutbox.create({
    data: {
      tenantId,
      kind: email.kind,
      toEmail: email.toEmail,
      locale,
      payload: email.payload as object,
      idempotencyKey: email.idempotencyKey,
      credentialId: email.credentialId ?? null,
      recipientId: email.recipientId ?? null,
    },
    select: { id: true },
  });
  await queueEmails(db, settings, tenantId, [{ ...email, id: row.id, locale }]);
  return row.id;
}

/**
 * For messages just written to the outbox (in this transaction): fixes each one's content and queues
 * the jobs that send them. A message whose content cannot be rendered now (a fault of ours, never the
 * recipient's) is still queued; the worker renders it before its first attempt or reports the job failing.
 */
export async function queueEmails(db: Db, settings: MailSettings, tenantId: string, emails: QueuedEmail[]): Promise<void> {
  await fixContent(settings, tenantId, emails);
  await enqueueEmailDelivery(db, emails.map((e) => e.id));
}
