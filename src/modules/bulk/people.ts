// What a bulk file's rows say about people, checked when the job is created so the problems show at
// once: the same person twice in the file, a person who already holds the template, an external id
// that belongs to someone else. processChunk checks again when it issues (the database may have moved).
import type { DuplicatePolicy } from "../../generated/prisma/enums.js";
import { normaliseEmail } from "../../lib/email-address.js";
import { alreadyAwarded, awardsByEmail } from "../credentials/duplicates.js";
import { existingIdempotencyKeys, recipientsByExternalId } from "./sql.js";
import type { TenantKeys } from "../vault/vault.js";
import type { BulkRow, RowProblem } from "./rows.js";

interface CheckedRow {
  rowNumber: number;
  row: BulkRow;
  problems: RowProblem[];
}

/**
 * Adds each row's people problems to `rows` (those without problems so far). Same person = same
 * normalised email (lib/email-address.ts), in any letter case. Rows whose idempotency key was already
 * used are left alone: they return that credential.
 */
export async function addPeopleProblems(keys: TenantKeys, templateId: string, policy: DuplicatePolicy, rows: CheckedRow[]): Promise<void> {
  const candidates = rows.filter((r) => r.problems.length === 0);
  const idempotencyKeys = candidates.map((c) => c.row.idempotencyKey).filter((k): k is string => Boolean(k));
  const usedKeys = await existingIdempotencyKeys(keys.tenantId, idempotencyKeys);
  const fresh = candidates
    .filter((c) => !(c.row.idempotencyKey && usedKeys.has(c.row.idempotencyKey)))
    .map((c) => ({ ...c, email: (normaliseEmail(c.row.email) as { email: string }).email, externalId: c.row.externalId?.trim() || null }));

  const firstByEmail = new Map<string, number>();
  const firstByExternalId = new Map<string, { rowNumber: number; email: string }>();
  for (const c of fresh) {
    const earlier = firstByEmail.get(c.email);
    if (earlier !== undefined && policy !== "ALLOW") {
      c.problems.push({ row: c.rowNumber, column: "email", message: `Same person as row ${earlier}: this template is awarded once per person (duplicate policy ${policy})` });
    } else if (earlier === undefined) firstByEmail.set(c.email, c.rowNumber);
    if (!c.externalId) continue;
    const holder = firstByExternalId.get(c.externalId);
    if (holder && holder.email !== c.email) {
      c.problems.push({ row: c.rowNumber, column: "external_id", message: `Row ${holder.rowNumber} gives this external id to another email` });
    } else if (!holder) firstByExternalId.set(c.externalId, { rowNumber: c.rowNumber, email: c.email });
  }

  const holders = await recipientsByExternalId(keys, [...firstByExternalId.keys()]);
  for (const c of fresh) {
    const holder = c.externalId ? holders.get(c.externalId) : undefined;
    if (holder && holder !== c.email) c.problems.push({ row: c.rowNumber, column: "external_id", message: "Another recipient already has this external id" });
  }

  if (policy !== "REFUSE") return;
  const awards = await awardsByEmail(keys, templateId, [...firstByEmail.keys()]);
  for (const c of fresh) {
    const award = awards.get(c.email);
    if (award && firstByEmail.get(c.email) === c.rowNumber) {
      c.problems.push({ row: c.rowNumber, column: "email", message: alreadyAwarded(award), credentialId: award.id });
    }
  }
}
