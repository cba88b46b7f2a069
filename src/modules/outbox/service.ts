// Emails to send, queued in the transaction of the change that causes them, with their content fixed
// and the job that sends them: a rolled-back change sends nothing, a committed one always has its job,
// and every attempt of that job sends the same message. The idempotency key keeps a message single per
// cause.
import type { Db } from "../../db/tenant-transaction.js";
import { enqueueEmailDelivery } from "../jobs/enqueue.js";
import { tenantKeys } from "../vault/vault.js";
import { insertWithContent, type MailSettings, type NewEmail } from "../delivery/compose.js";

export interface OutboxEmail extends Omit<NewEmail, "locale"> {
  locale?: string;
}

/** One message and its send job; returns its id. */
export async function enqueueEmail(db: Db, tenantId: string, email: OutboxEmail, settings: MailSettings): Promise<string> {
  const [id] = await queueEmails(db, settings, tenantId, [{ ...email, locale: email.locale ?? "en" }]);
  return id!;
}

/**
 * Messages and their send jobs, one statement for the messages (bulk issuance queues a chunk's at
 * once). Returns the new ids in order; with `skipExisting`, a message whose idempotency key was already
 * used is left out (null) instead of failing the transaction.
 */
export async function queueEmails(db: Db, settings: MailSettings, tenantId: string, emails: NewEmail[], options: { skipExisting?: boolean } = {}): Promise<(string | null)[]> {
  // Addresses, payloads and content are sealed under the tenant's keys (delivery/sealed-outbox.ts).
  const ids = emails.length ? await insertWithContent(settings, await tenantKeys(db, tenantId), emails, options) : [];
  await enqueueEmailDelivery(db, ids.filter((id): id is string => id !== null));
  return ids;
}
