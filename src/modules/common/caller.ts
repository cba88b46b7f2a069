// The caller as services see it: which tenant, who acts (for the audit log), and what they may do.
// Built from the GraphQL context, a job or a test alike.
import type { Context } from "../../context.js";
import type { Permission } from "../auth/permissions.js";
import { forbidden } from "../../errors.js";

export interface Actor {
  kind: "user" | "api_key" | "system";
  id: string | null;
}

export interface Caller {
  tenantId: string;
  actor: Actor;
  permissions: ReadonlySet<Permission>;
  requestId: string | null;
}

export function actorOf(ctx: Pick<Context, "viewer">): Actor {
  const v = ctx.viewer;
  if (v.kind === "user") return { kind: "user", id: v.userId };
  if (v.kind === "apiKey") return { kind: "api_key", id: v.apiKeyId };
  return { kind: "system", id: null };
}

/**
 * Laurel itself acting within a tenant with no permissions of its own: for what a person's one-time link
 * or a guardian's consent does (audited as actor "system").
 */
export function systemCaller(tenantId: string): Caller {
  return { tenantId, actor: { kind: "system", id: null }, permissions: new Set(), requestId: null };
}

export function callerOf(ctx: Pick<Context, "viewer" | "tenantId" | "permissions" | "requestId">): Caller {
  if (!ctx.tenantId) throw forbidden("This needs a tenant: sign in to one, or use an API key");
  return { tenantId: ctx.tenantId, actor: actorOf(ctx), permissions: ctx.permissions, requestId: ctx.requestId };
}

export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export function isUuid(value: string): boolean {
  return UUID_PATTERN.test(value);
}
