// Lookups by (tenant, id) for tenant-owned nodes. RLS would hide other tenants' rows anyway; the
// explicit tenant_id keeps the query on the primary key and the intent readable.
import type { Context } from "../../context.js";
import { isUuid } from "./caller.js";

export const NIL_UUID = "00000000-0000-0000-0000-000000000000";
const NIL = NIL_UUID;

export function tenantKey(id: string, ctx: Pick<Context, "tenantId">) {
  if (!ctx.tenantId || !isUuid(id)) return { tenantId_id: { tenantId: NIL, id: NIL } };
  return { tenantId_id: { tenantId: ctx.tenantId, id } };
}

/**
 * The lookup for a node keyed by its uuid alone (tenants, users): a malformed id finds nothing, as an
 * unknown one does, instead of reaching the database as text that is not a uuid.
 */
export function uuidKey(id: string): { id: string } {
  return { id: isUuid(id) ? id : NIL };
}

/** Complexity of a connection: its page size times what each node costs. */
export function connectionComplexity(args: { first?: number | null; last?: number | null }) {
  return { field: 1, multiplier: args.first ?? args.last ?? 20 };
}
