// The audit log as a filtered connection on the tenant, newest first (ids are UUIDv7).
import { builder } from "../../builder.js";
import { ActorKind } from "../../generated/prisma/enums.js";
import { badInput } from "../../errors.js";
import { queryBoundProblem } from "../../lib/calendar.js";
import { connectionComplexity, tenantKey } from "../common/nodes.js";
import { isUuid } from "../common/caller.js";
import { TenantRef } from "../tenants/schema.js";
import type { ActorSummary } from "../../loaders.js";

export const ActorKindEnum = builder.enumType(ActorKind, { name: "ActorKind" });

const ActorRef = builder.objectRef<ActorSummary>("Actor").implement({
  description: "Who did it, as they are named now (a deleted actor resolves to null).",
  fields: (t) => ({
    id: t.exposeString("id"),
    kind: t.field({ type: ActorKindEnum, resolve: (a) => a.kind }),
    name: t.exposeString("name"),
  }),
});

const PERSONAL_TARGETS = new Set(["Credential", "Recipient"]);

builder.prismaNode("AuditLog", {
  name: "AuditLogEntry",
  id: { resolve: (e) => e.id },
  nullable: true, // node(id) of a row this tenant cannot see is null, exactly as for an unknown id
  findUnique: (id, ctx) => tenantKey(id, ctx),
  authScopes: { permission: "audit:read" },
  fields: (t) => ({
    at: t.expose("at", { type: "DateTime" }),
    action: t.exposeString("action"),
    actorKind: t.expose("actorKind", { type: ActorKindEnum }),
    actorId: t.exposeString("actorId", { nullable: true }),
    actor: t.field({
      type: ActorRef,
      nullable: true,
      select: { actorKind: true, actorId: true },
      resolve: (e, _args, ctx) => {
        if (!e.actorId) return null;
        if (e.actorKind === "user") return ctx.loaders.userName.load(e.actorId);
        if (e.actorKind === "api_key") return ctx.loaders.apiKeyName.load(e.actorId);
        return null;
      },
    }),
    targetType: t.exposeString("targetType", { nullable: true }),
    // A credential's id opens a public page naming its holder; a recipient's id is a person's: both personal.
    targetId: t.string({
      nullable: true,
      description: "The target's id; null for a Credential or Recipient target unless the caller holds personal:read",
      select: { targetId: true, targetType: true },
      resolve: (e, _a, ctx) =>
        e.targetType && PERSONAL_TARGETS.has(e.targetType) && !ctx.permissions.has("personal:read") ? null : e.targetId,
    }),
    requestId: t.exposeString("requestId", { nullable: true }),
    // Details may name people (an invitee's email, a revocation's reason, a recipient's choices).
    details: t.expose("details", { type: "JSON", nullable: true, authScopes: { permission: "personal:read" } }),
  }),
});

const AuditLogFilter = builder.inputType("AuditLogFilter", {
  fields: (t) => ({
    action: t.string({ description: "Exact action, e.g. api_key.created; or a prefix ending in '.', e.g. member." }),
    actorId: t.field({ type: "UUID" }),
    targetId: t.string(),
    since: t.field({ type: "DateTime", description: "From this instant (1970 to 2200)" }),
    until: t.field({ type: "DateTime", description: "Before this instant (1970 to 2200)" }),
  }),
});

builder.prismaObjectField(TenantRef, "auditLog", (t) =>
  t.relatedConnection("auditLog", {
    cursor: "tenantId_id",
    nullable: true,
    authScopes: { permission: "audit:read" },
    complexity: connectionComplexity,
    args: { filter: t.arg({ type: AuditLogFilter }) },
    query: ({ filter }) => {
      if (filter?.actorId && !isUuid(filter.actorId)) throw badInput("filter.actorId must be a UUID");
      const bound = (filter?.since && queryBoundProblem("filter.since", filter.since)) || (filter?.until && queryBoundProblem("filter.until", filter.until));
      if (bound) throw badInput(bound);
      const action = filter?.action;
      return {
        where: {
          ...(action ? (action.endsWith(".") ? { action: { startsWith: action } } : { action }) : {}),
          ...(filter?.actorId ? { actorId: filter.actorId } : {}),
          ...(filter?.targetId ? { targetId: filter.targetId } : {}),
          ...(filter?.since || filter?.until
            ? { at: { ...(filter.since ? { gte: filter.since } : {}), ...(filter.until ? { lt: filter.until } : {}) } }
            : {}),
        },
        orderBy: { id: "desc" as const },
      };
    },
  }),
);
