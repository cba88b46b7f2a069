// Emails to send, queued in the transaction of the change that causes them, together with the job that
// sends them: a rolled-back change sends nothing, a committed one always has its job. The idempotency
// key keeps a message single per cause.
import type { Db } from "../../db/tenant-transaction.js";
import { enqueueEmailDelivery } from "../jobs/enqueue.js";

export interface OutboxEmail {
  kind: string;
  toEmail: string;
  locale?: string;
  payload: Record<string, unknown>;
  idempotencyKey: string;
  credentialId?: string;
  recipientId?: string;
}

export async function enqueueEmail(db: Db, tenantId: string, email: OutboxEmail): Promise<string> {
  const row = await db.emailOutbox.create({
    data: {
      tenantId,
      kind: email.kind,
      toEmail: email.toEmail,
      locale: email.locale ?? "en",
      payload: email.payload as object,
      idempotencyKey: email.idempotencyKey,
      credentialId: email.credentialId ?? null,
      recipientId: email.recipientId ?? null,
    },
    select: { id: true },
  });
  await enqueueEmailDelivery(db, [row.id]);
  return row.id;
}
