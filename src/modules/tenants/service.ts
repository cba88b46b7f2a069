// Changes to the tenant record itself.
import type { Db } from "../../db/tenant-transaction.js";
import { ValidationError } from "../../errors.js";
import { recordAudit } from "../audit/service.js";
import type { Caller } from "../common/caller.js";

export async function updateTenant(db: Db, caller: Caller, input: { name: string }, query: object = {}) {
  const name = input.name.trim();
  if (name.length < 1 || name.length > 200) throw ValidationError.field(["input", "name"], "Name must have 1 to 200 characters");
  const before = await db.tenant.findUniqueOrThrow({ where: { id: caller.tenantId }, select: { name: true } });
  const tenant = await db.tenant.update({ ...query, where: { id: caller.tenantId }, data: { name } });
  await recordAudit(db, caller, {
    action: "tenant.updated",
    targetType: "Tenant",
    targetId: caller.tenantId,
    details: { name: { from: before.name, to: name } },
  });
  return tenant;
}
