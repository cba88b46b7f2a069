// Partner webhooks: endpoints (URL, event types, a signing secret shown once and kept sealed), and the
// deliveries the worker makes to them.
import { randomBytes } from "node:crypto";
import type { Db } from "../../db/tenant-transaction.js";
import type { Config } from "../../config.js";
import { NotFoundError, ValidationError } from "../../errors.js";
import { isUuid, type Caller } from "../common/caller.js";
import { recordAudit } from "../audit/service.js";
import { open, seal } from "../issuers/sealing.js";
import { enqueueJob, PARTNER_EVENT_TYPES, WEBHOOK_JOB_ATTEMPTS } from "../jobs/enqueue.js";
import { checkEndpointUrl } from "./outbound.js";

export const secretAad = (tenantId: string, endpointId: string) => `webhook_endpoints:${tenantId}:${endpointId}`;

export function newSecret(): string {
  return `whsec_${randomBytes(32).toString("base64")}`;
}

export function openSecret(config: Config, endpoint: { tenantId: string; id: string; secretSealed: Uint8Array; secretKekVersion: number }): string {
  return open(config.keks, endpoint.secretSealed, endpoint.secretKekVersion, secretAad(endpoint.tenantId, endpoint.id));
}

export interface EndpointInput {
  url?: string | null;
  description?: string | null;
  eventTypes?: string[] | null;
  enabled?: boolean | null;
}

function checkInput(config: Config, input: EndpointInput, creating: boolean) {
  const problems: { path: string[]; message: string }[] = [];
  if (creating || input.url != null) {
    const problem = checkEndpointUrl(input.url ?? "", config.webhooks.allowPrivateNetworks);
    if (problem) problems.push({ path: ["input", "url"], message: problem });
  }
  if (creating || input.eventTypes != null) {
    const types = input.eventTypes ?? [];
    const unknown = types.filter((t) => !(PARTNER_EVENT_TYPES as readonly string[]).includes(t));
    if (!types.length) problems.push({ path: ["input", "eventTypes"], message: "Choose at least one event type" });
    if (unknown.length) problems.push({ path: ["input", "eventTypes"], message: `Unknown event types: ${unknown.join(", ")}; use ${PARTNER_EVENT_TYPES.join(", ")}` });
  }
  if ((input.description?.length ?? 0) > 500) problems.push({ path: ["input", "description"], message: "Up to 500 characters" });
  if (problems.length) throw new ValidationError(problems[0]!.message, problems);
}

export async function createWebhookEndpoint(db: Db, caller: Caller, config: Config, input: EndpointInput & { url: string; eventTypes: string[] }) {
  checkInput(config, input, true);
  const id = (await db.$queryRaw<{ id: string }[]>`select uuid_v7() as id`)[0]!.id;
  const secret = newSecret();
  const { sealed, kekVersion } = seal(config.keks, secret, secretAad(caller.tenantId, id));
  const endpoint = await db.webhookEndpoint.create({
    data: {
      tenantId: caller.tenantId,
      id,
      url: input.url,
      description: input.description ?? null,
      eventTypes: [...new Set(input.eventTypes)],
      secretSealed: sealed,
      secretKekVersion: kekVersion,
    },
  });
  await recordAudit(db, caller, { action: "webhook.created", targetType: "WebhookEndpoint", targetId: id, details: { url: input.url, eventTypes: input.eventTypes } });
  return { endpoint, secret };
}

async function findEndpoint(db: Db, caller: Caller, id: string) {
  const endpoint = isUuid(id) ? await db.webhookEndpoint.findUnique({ where: { tenantId_id: { tenantId: caller.tenantId, id } } }) : null;
  if (!endpoint) throw new NotFoundError("WebhookEndpoint");
  return endpoint;
}

export async function updateWebhookEndpoint(db: Db, caller: Caller, config: Config, id: string, input: EndpointInput) {
  await findEndpoint(db, caller, id);
  checkInput(config, input, false);
  const endpoint = await db.webhookEndpoint.update({
    where: { tenantId_id: { tenantId: caller.tenantId, id } },
    data: {
      ...(input.url != null ? { url: input.url } : {}),
      ...(input.description !== undefined ? { description: input.description } : {}),
      ...(input.eventTypes != null ? { eventTypes: [...new Set(input.eventTypes)] } : {}),
      // Re-enabling starts the failure count afresh.
      ...(input.enabled != null ? { enabled: input.enabled, disabledAt: input.enabled ? null : new Date(), disabledReason: input.enabled ? null : "Disabled by the tenant", consecutiveFailures: 0 } : {}),
    },
  });
  await recordAudit(db, caller, { action: "webhook.updated", targetType: "WebhookEndpoint", targetId: id, details: { ...input } });
  return endpoint;
}

export async function rotateWebhookSecret(db: Db, caller: Caller, config: Config, id: string) {
  await findEndpoint(db, caller, id);
  const secret = newSecret();
  const { sealed, kekVersion } = seal(config.keks, secret, secretAad(caller.tenantId, id));
  const endpoint = await db.webhookEndpoint.update({
    where: { tenantId_id: { tenantId: caller.tenantId, id } },
    data: { secretSealed: sealed, secretKekVersion: kekVersion },
  });
  await recordAudit(db, caller, { action: "webhook.secret_rotated", targetType: "WebhookEndpoint", targetId: id });
  return { endpoint, secret };
}

/**
 * Deletes an endpoint (its deliveries go with it). `query` is what the caller's result selects
 * (Pothos' prisma query): it is read before the row goes, since nothing can be loaded after.
 */
export async function deleteWebhookEndpoint(db: Db, caller: Caller, id: string, query: object = {}) {
  await findEndpoint(db, caller, id);
  const endpoint = await db.webhookEndpoint.findUniqueOrThrow({ ...query, where: { tenantId_id: { tenantId: caller.tenantId, id } } });
  await db.webhookEndpoint.delete({ where: { tenantId_id: { tenantId: caller.tenantId, id } } });
  await recordAudit(db, caller, { action: "webhook.deleted", targetType: "WebhookEndpoint", targetId: id, details: { url: endpoint.url } });
  return endpoint;
}

/** A "webhook.test" delivery to this endpoint alone, through the same queue, signing and log as real events. */
export async function testWebhookEndpoint(db: Db, caller: Caller, id: string) {
  const endpoint = await findEndpoint(db, caller, id);
  const delivery = await db.webhookDelivery.create({
    data: {
      tenantId: caller.tenantId,
      endpointId: endpoint.id,
      eventType: "webhook.test",
      payload: { type: "webhook.test", timestamp: new Date().toISOString(), data: { endpointId: endpoint.id, message: "Test event from Laurel" } },
    },
  });
  await enqueueJob(db, "deliver_webhook", { deliveryId: delivery.id }, { maxAttempts: WEBHOOK_JOB_ATTEMPTS });
  return delivery;
}

/** Re-seals the tenant's endpoint secrets still under an older KEK under the current one (a KEK rotation). Returns how many. */
export async function resealWebhookSecrets(db: Db, tenantId: string, keks: ReadonlyMap<number, Buffer>): Promise<number> {
  const current = Math.max(...keks.keys());
  const stale = await db.webhookEndpoint.findMany({
    where: { tenantId, secretKekVersion: { not: current } },
    select: { tenantId: true, id: true, secretSealed: true, secretKekVersion: true },
  });
  for (const endpoint of stale) {
    const aad = secretAad(tenantId, endpoint.id);
    const { sealed, kekVersion } = seal(keks, open(keks, endpoint.secretSealed, endpoint.secretKekVersion, aad), aad);
    await db.webhookEndpoint.update({ where: { tenantId_id: { tenantId, id: endpoint.id } }, data: { secretSealed: sealed, secretKekVersion: kekVersion }, select: { id: true } });
  }
  return stale.length;
}
