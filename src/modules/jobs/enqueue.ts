// Putting work on the queue from inside a tenant transaction: the job commits or rolls back with the
// change that causes it. sql/013's enqueue_job stamps the tenant into the payload and the job key.
import type { Db } from "../../db/tenant-transaction.js";

export type TaskName = "send_emails" | "deliver_webhook" | "run_bulk_job" | "erase_person" | "export_person" | "rectify_person" | "export_tenant" | "rotate_data_key";

export interface EnqueueOptions {
  runAt?: Date;
  /** Deduplicates within the tenant: a second job with the same key replaces a waiting one. */
  jobKey?: string;
  maxAttempts?: number;
}

export async function enqueueJob(db: Db, task: TaskName, payload: Record<string, unknown>, options: EnqueueOptions = {}): Promise<void> {
  await db.$executeRaw`select enqueue_job(${task}, ${JSON.stringify(payload)}::jsonb, ${options.runAt ?? null}::timestamptz,
                                          ${options.jobKey ?? null}, ${options.maxAttempts ?? null}::integer)`;
}

/**
 * Attempts of a deliver_webhook job. The partner's failures never fail the job (the task logs them and
 * schedules the delivery's next try itself), so these attempts count only failures of ours: with the
 * queue's exponential backoff (capped at about six hours) 25 of them keep trying for about four days.
 */
export const WEBHOOK_JOB_ATTEMPTS = 25;

/** Emails are sent in batches: one job per this many messages. */
export const EMAILS_PER_JOB = 100;

export async function enqueueEmailDelivery(db: Db, messageIds: string[]): Promise<void> {
  for (let i = 0; i < messageIds.length; i += EMAILS_PER_JOB) {
    await enqueueJob(db, "send_emails", { messageIds: messageIds.slice(i, i + EMAILS_PER_JOB) });
  }
}

/** Partner events for the current tenant: one delivery and job per subscribed endpoint each (sql/014). */
export async function emitPartnerEvents(db: Db, type: PartnerEventType, items: Record<string, unknown>[]): Promise<void> {
  if (!items.length) return;
  await db.$queryRaw`select emit_partner_events(${type}, ${JSON.stringify(items)}::jsonb)`;
}

export const PARTNER_EVENT_TYPES = [
  "credential.issued",
  "credential.revoked",
  "credential.suspended",
  "credential.reinstated",
  "credential.expired",
  "credential.delivered",
  "credential.bounced",
  "credential.viewed",
  "credential.shared",
  "credential.verified",
  // People's rights (src/modules/privacy/partner-events.ts): ids, kinds, states and dates only, never the person.
  "data_subject_request.completed",
  "data_subject_request.due_soon",
] as const;
export type PartnerEventType = (typeof PARTNER_EVENT_TYPES)[number] | "webhook.test";
