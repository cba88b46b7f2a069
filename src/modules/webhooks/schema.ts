// Partner webhooks in the API: endpoints (secret shown once), their deliveries and every attempt.
import { builder } from "../../builder.js";
import { badInput, NotFoundError, ValidationError } from "../../errors.js";
import { callerOf } from "../common/caller.js";
import { connectionComplexity, tenantKey } from "../common/nodes.js";
import { TenantRef } from "../tenants/schema.js";
import { PARTNER_EVENT_TYPES } from "../jobs/enqueue.js";
import { createWebhookEndpoint, deleteWebhookEndpoint, rotateWebhookSecret, testWebhookEndpoint, updateWebhookEndpoint } from "./service.js";

const DELIVERY_STATUSES = ["pending", "succeeded", "failed"];

const WebhookEndpointRef = builder.prismaNode("WebhookEndpoint", {
  id: { resolve: (e) => e.id },
  nullable: true,
  findUnique: (id, ctx) => tenantKey(id, ctx),
  authScopes: { permission: "tenant:manage" },
  fields: (t) => ({
    url: t.exposeString("url"),
    description: t.exposeString("description", { nullable: true }),
    eventTypes: t.exposeStringList("eventTypes"),
    enabled: t.exposeBoolean("enabled"),
    disabledReason: t.exposeString("disabledReason", { nullable: true }),
    disabledAt: t.expose("disabledAt", { type: "DateTime", nullable: true }),
    consecutiveFailures: t.exposeInt("consecutiveFailures", { description: "Deliveries in a row that failed every retry" }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    deliveries: t.relatedConnection("deliveries", {
      cursor: "tenantId_id",
      complexity: connectionComplexity,
      args: { status: t.arg.string({ description: "pending, succeeded or failed" }) },
      query: ({ status }) => {
        if (status && !DELIVERY_STATUSES.includes(status)) throw badInput(`status must be one of ${DELIVERY_STATUSES.join(", ")}`);
        return { where: status ? { status: status as "pending" | "succeeded" | "failed" } : {}, orderBy: [{ createdAt: "desc" as const }, { id: "desc" as const }] };
      },
    }),
  }),
});

const WebhookAttemptRef = builder.prismaObject("WebhookAttempt", {
  fields: (t) => ({
    attempt: t.exposeInt("attempt"),
    statusCode: t.exposeInt("statusCode", { nullable: true }),
    error: t.exposeString("error", { nullable: true }),
    durationMs: t.exposeInt("durationMs"),
    // What the partner answered may echo the event it was sent, which needs personal:read.
    responseExcerpt: t.exposeString("responseExcerpt", { nullable: true, authScopes: { permission: "personal:read" } }),
    attemptedAt: t.expose("attemptedAt", { type: "DateTime" }),
  }),
});

export const WebhookDeliveryRef = builder.prismaNode("WebhookDelivery", {
  id: { resolve: (d) => d.id },
  nullable: true,
  findUnique: (id, ctx) => tenantKey(id, ctx),
  authScopes: { permission: "tenant:manage" },
  fields: (t) => ({
    eventType: t.exposeString("eventType"),
    messageId: t.exposeString("messageId", { description: "The webhook-id header: the same on every retry" }),
    // Event data names credentials and recipients and carries a revocation's reason.
    payload: t.expose("payload", { type: "JSON", nullable: true, authScopes: { permission: "personal:read" } }),
    status: t.exposeString("status", { description: "pending, succeeded or failed" }),
    attempts: t.exposeInt("attempts"),
    nextAttemptAt: t.expose("nextAttemptAt", { type: "DateTime", nullable: true }),
    lastStatusCode: t.exposeInt("lastStatusCode", { nullable: true }),
    lastError: t.exposeString("lastError", { nullable: true }),
    deliveredAt: t.expose("deliveredAt", { type: "DateTime", nullable: true }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    attemptLog: t.relation("attemptLog", { type: WebhookAttemptRef, query: { orderBy: { attempt: "asc" } } }),
  }),
});

builder.prismaObjectField(TenantRef, "webhookEndpoints", (t) =>
  t.relatedConnection("webhookEndpoints", {
    cursor: "tenantId_id",
    nullable: true,
    authScopes: { permission: "tenant:manage" },
    complexity: connectionComplexity,
    query: () => ({ orderBy: [{ createdAt: "desc" }, { id: "desc" }] }),
  }),
);

builder.queryField("webhookEventTypes", (t) => t.stringList({ resolve: () => [...PARTNER_EVENT_TYPES] }));

const WebhookEndpointInput = builder.inputType("WebhookEndpointInput", {
  fields: (t) => ({
    url: t.string({ description: "https:// on the public internet" }),
    description: t.string(),
    eventTypes: t.stringList({ description: "See webhookEventTypes" }),
    enabled: t.boolean(),
  }),
});

const WebhookSecretPayload = builder.simpleObject("WebhookSecretPayload", {
  fields: (t) => ({
    endpoint: t.field({ type: WebhookEndpointRef }),
    secret: t.string({ description: "The Standard Webhooks signing secret (whsec_...). Shown this once." }),
  }),
});

builder.mutationField("createWebhookEndpoint", (t) =>
  t.field({
    type: WebhookSecretPayload,
    // Every partner event names credentials and recipients, delivered to the URL given here.
    authScopes: { $all: { permission: "tenant:manage", $all: { permission: "personal:read" } } },
    errors: { types: [ValidationError] },
    args: { input: t.arg({ type: WebhookEndpointInput, required: true }) },
    resolve: (_r, { input }, ctx) =>
      createWebhookEndpoint(ctx.db, callerOf(ctx), ctx.app.config, { ...input, url: input.url ?? "", eventTypes: input.eventTypes ?? [] }),
  }),
);

builder.mutationField("updateWebhookEndpoint", (t) =>
  t.prismaField({
    type: "WebhookEndpoint",
    // Every partner event names credentials and recipients, delivered to the URL given here.
    authScopes: { $all: { permission: "tenant:manage", $all: { permission: "personal:read" } } },
    errors: { types: [ValidationError, NotFoundError] },
    args: { id: t.arg.globalID({ required: true, for: WebhookEndpointRef }), input: t.arg({ type: WebhookEndpointInput, required: true }) },
    resolve: (_q, _r, { id, input }, ctx) => updateWebhookEndpoint(ctx.db, callerOf(ctx), ctx.app.config, id.id, input),
  }),
);

builder.mutationField("rotateWebhookSecret", (t) =>
  t.field({
    type: WebhookSecretPayload,
    authScopes: { permission: "tenant:manage" },
    errors: { types: [NotFoundError] },
    args: { id: t.arg.globalID({ required: true, for: WebhookEndpointRef }) },
    resolve: (_r, { id }, ctx) => rotateWebhookSecret(ctx.db, callerOf(ctx), ctx.app.config, id.id),
  }),
);

builder.mutationField("deleteWebhookEndpoint", (t) =>
  t.prismaField({
    type: "WebhookEndpoint",
    authScopes: { permission: "tenant:manage" },
    errors: { types: [NotFoundError] },
    args: { id: t.arg.globalID({ required: true, for: WebhookEndpointRef }) },
    resolve: (query, _r, { id }, ctx) => deleteWebhookEndpoint(ctx.db, callerOf(ctx), id.id, query),
  }),
);

builder.mutationField("testWebhookEndpoint", (t) =>
  t.prismaField({
    type: "WebhookDelivery",
    description: "Queues a signed webhook.test event to this endpoint; follow it with node(id).",
    authScopes: { permission: "tenant:manage" },
    errors: { types: [NotFoundError] },
    args: { id: t.arg.globalID({ required: true, for: WebhookEndpointRef }) },
    resolve: (_q, _r, { id }, ctx) => testWebhookEndpoint(ctx.db, callerOf(ctx), id.id),
  }),
);
