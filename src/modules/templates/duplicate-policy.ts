// A template's duplicate policy: whether one person may hold more than one of its credentials
// (credentials/duplicates.ts applies it; sql/018 enforces it).
import type { Db } from "../../db/tenant-transaction.js";
import type { DuplicatePolicy } from "../../generated/prisma/enums.js";
import { recordAudit } from "../audit/service.js";
import type { Caller } from "../common/caller.js";
import { findTemplate } from "./service.js";

/**
 * Sets the policy for credentials issued from now on; credentials already issued keep what they were
 * issued under. `query` is the GraphQL selection (Prisma include/select) for the returned template.
 * Throws NotFoundError for another tenant's or an unknown template.
 */
export async function setDuplicatePolicy(db: Db, caller: Caller, id: string, policy: DuplicatePolicy, query: object = {}) {
  const template = await findTemplate(db, caller, id, true);
  const updated = await db.template.update({ ...query, where: { tenantId_id: { tenantId: caller.tenantId, id } }, data: { duplicatePolicy: policy } });
  await recordAudit(db, caller, { action: "template.duplicate_policy_set", targetType: "Template", targetId: id, details: { from: template.duplicatePolicy, to: policy } });
  return updated;
}
