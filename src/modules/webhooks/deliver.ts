// The deliver_webhook task: one attempt at one delivery. Signed per Standard Webhooks (webhook-id stays
// the same across retries so receivers can deduplicate). What the endpoint does (its status, its
// silence, a refused connection, a failed handshake) is logged as an attempt and the next one is
// scheduled by the retry schedule (about a day in all); a delivery that runs out counts against its
// endpoint, and an endpoint that keeps failing is disabled. What goes wrong on our side (a secret we
// cannot open, the database, a bug) is never the partner's: no attempt is logged, nothing is counted,
// and the job itself fails, visible to the tenant in failingJobs and retried with the queue's backoff.
import { Webhook } from "standardwebhooks";
import type { TenantJob, WorkerApp } from "../jobs/worker.js";
import { enqueueJob, WEBHOOK_JOB_ATTEMPTS } from "../jobs/enqueue.js";
import { openSecret } from "./service.js";
import { DestinationError, postJson } from "./outbound.js";

/** A failure of ours while delivering: the job's error, as the tenant reads it in failingJobs. */
export class OurSideError extends Error {
  override name = "OurSideError";
  constructor(what: string, cause: unknown) {
    super(`${what}: ${(cause as Error).message}. This is on Laurel's side: the endpoint is not charged, and the delivery is retried until it is fixed.`, { cause });
  }
}

/** Why a delivery was never made: the person's privacy choices stopped it (privacy/processing.ts). Not the endpoint's failure. */
export const WITHHELD = "Withheld: the person's privacy choices (restriction, objection, or a child's protection) no longer allow this event";

export interface DeliverPayload {
  deliveryId: string;
}

export async function deliverWebhook(app: WorkerApp, job: TenantJob<DeliverPayload>): Promise<void> {
  const { config } = app;
  const tenantId = job.tenantId;
  const loaded = await job.inTenant(async (db) => {
    const delivery = await db.webhookDelivery.findUnique({ where: { tenantId_id: { tenantId, id: job.payload.deliveryId } } });
    if (!delivery || delivery.status !== "pending") return null;
    // Asked again now, not when emitted: a choice made since (restriction, objection, a child) stops it here.
    const [rule] = await db.$queryRaw<{ allowed: boolean }[]>`
      select partner_event_allowed(${tenantId}::uuid, ${delivery.eventType}, ${JSON.stringify(delivery.payload)}::jsonb -> 'data') as allowed`;
    if (!rule?.allowed) {
      await db.webhookDelivery.update({
        where: { tenantId_id: { tenantId, id: delivery.id } },
        data: { status: "failed", lastError: WITHHELD, nextAttemptAt: null },
      });
      return null;
    }
    const endpoint = await db.webhookEndpoint.findUnique({
      where: { tenantId_id: { tenantId, id: delivery.endpointId } },
      omit: { secretSealed: false },
    });
    return endpoint ? { delivery, endpoint } : null;
  });
  if (!loaded) return;
  const { delivery, endpoint } = loaded;
  const attempt = delivery.attempts + 1;
  if (!endpoint.enabled && delivery.eventType !== "webhook.test") {
    await job.inTenant((db) =>
      db.webhookDelivery.update({
        where: { tenantId_id: { tenantId, id: delivery.id } },
        data: { status: "failed", lastError: "Endpoint disabled" },
      }),
    );
    return;
  }

  const body = JSON.stringify(delivery.payload);
  const timestamp = new Date();
  let signature: string;
  try {
    signature = new Webhook(openSecret(config, endpoint)).sign(delivery.messageId, timestamp, body);
  } catch (e) {
    throw new OurSideError("Laurel could not sign this delivery", e);
  }
  let statusCode: number | null = null;
  let error: string | null = null;
  let excerpt: string | null = null;
  let durationMs = 0;
  const started = performance.now();
  try {
    const result = await postJson(endpoint.url, {
      body,
      headers: {
        "webhook-id": delivery.messageId,
        "webhook-timestamp": String(Math.floor(timestamp.getTime() / 1000)),
        "webhook-signature": signature,
      },
      timeoutMs: config.webhooks.timeoutMs,
      allowPrivate: config.webhooks.allowPrivateNetworks,
    });
    statusCode = result.status;
    excerpt = result.body.slice(0, 1000) || null;
    durationMs = result.durationMs;
    if (statusCode < 200 || statusCode >= 300) error = `HTTP ${statusCode}`;
  } catch (e) {
    if (!(e instanceof DestinationError)) throw new OurSideError("Laurel could not make this delivery", e);
    error = e.message.slice(0, 1000);
    durationMs = Math.round(performance.now() - started);
  }

  const schedule = config.webhooks.retrySchedule;
  await job.inTenant(async (db) => {
    await db.webhookAttempt.create({
      data: { tenantId, deliveryId: delivery.id, attempt, statusCode, error, durationMs, responseExcerpt: excerpt },
    });
    if (!error) {
      await db.webhookDelivery.update({
        where: { tenantId_id: { tenantId, id: delivery.id } },
        data: { status: "succeeded", attempts: attempt, lastStatusCode: statusCode, lastError: null, deliveredAt: new Date(), nextAttemptAt: null },
      });
      // Decided in the database, not on the count read before the request: a failure counted meanwhile is reset too.
      await db.webhookEndpoint.updateMany({ where: { tenantId, id: endpoint.id, consecutiveFailures: { gt: 0 } }, data: { consecutiveFailures: 0 } });
      return;
    }
    const delaySeconds = schedule[attempt - 1];
    if (delaySeconds !== undefined && delivery.eventType !== "webhook.test") {
      const nextAttemptAt = new Date(Date.now() + delaySeconds * 1000);
      await db.webhookDelivery.update({
        where: { tenantId_id: { tenantId, id: delivery.id } },
        data: { attempts: attempt, lastStatusCode: statusCode, lastError: error, nextAttemptAt },
      });
      await enqueueJob(db, "deliver_webhook", { deliveryId: delivery.id }, { runAt: nextAttemptAt, jobKey: `webhook:${delivery.id}`, maxAttempts: WEBHOOK_JOB_ATTEMPTS });
      return;
    }
    // Out of retries (a test event gets one try): the delivery failed for good.
    await db.webhookDelivery.update({
      where: { tenantId_id: { tenantId, id: delivery.id } },
      data: { status: "failed", attempts: attempt, lastStatusCode: statusCode, lastError: error, nextAttemptAt: null },
    });
    if (delivery.eventType === "webhook.test") return;
    const counted = await db.webhookEndpoint.update({
      where: { tenantId_id: { tenantId, id: endpoint.id } },
      data: { consecutiveFailures: { increment: 1 } },
    });
    if (counted.enabled && counted.consecutiveFailures >= config.webhooks.disableAfterFailures) {
      await db.webhookEndpoint.update({
        where: { tenantId_id: { tenantId, id: endpoint.id } },
        data: { enabled: false, disabledAt: new Date(), disabledReason: `Disabled after ${counted.consecutiveFailures} deliveries in a row failed every retry` },
      });
    }
  });
}
