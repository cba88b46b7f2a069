// Emails to send, queued in the transaction of the change that causes them (a rolled-back change
// sends nothing). The delivery worker drains this table; the idempotency key keeps a message single.
import type { Db } from "../../db/tenant-transaction.js";

export interface OutboxEmail {
  kind: string;
  toEmail: string;
  locale?: string;
  payload: Record<string, unknown>;
  idempotencyKey: string;
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
    },
    select: { id: true },
  });
  return row.id;
}
