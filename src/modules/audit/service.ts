// The audit log: one row per change, written by the same transaction as the change, so the two
// commit or vanish together.
import type { Db } from "../../db/tenant-transaction.js";
import type { Caller } from "../common/caller.js";

export interface AuditEntry {
  action: string;
  targetType?: string;
  targetId?: string;
  details?: Record<string, unknown>;
}

export async function recordAudit(db: Db, caller: Caller, entry: AuditEntry): Promise<void> {
  await db.auditLog.create({
    data: {
      tenantId: caller.tenantId,
      actorKind: caller.actor.kind,
      actorId: caller.actor.id,
      action: entry.action,
      targetType: entry.targetType ?? null,
      targetId: entry.targetId ?? null,
      requestId: caller.requestId,
      details: (entry.details ?? {}) as object,
    },
    select: { id: true },
  });
}
