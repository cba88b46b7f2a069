// Reading engagement back: counts per event type, people apart from machines. Aggregates only, so
// analysts (who may not see people) can read them; the tenant transaction's RLS is the wall.
import type { Db } from "../../db/tenant-transaction.js";
import { suppressionInForce } from "../../errors.js";
import { Prisma } from "../../generated/prisma/client.js";
import type { EngagementType } from "./ingest.js";

export const ENGAGEMENT_TYPES: readonly EngagementType[] = [
  "email_opened", "link_clicked", "page_viewed", "shared", "linkedin_added", "downloaded", "verified", "claimed",
];

export interface EngagementCount {
  type: EngagementType;
  people: number;
  machines: number;
}

export async function engagementSummary(
  db: Db,
  tenantId: string,
  range: { from: Date; to: Date; templateId?: string | null },
): Promise<EngagementCount[]> {
  // Raw counts over any [from, to) single out one event (narrow the range around it), so while the
  // tenant hides small cells only the analytics operations, which apply minimumGroupSize, answer.
  const tenant = await db.tenant.findUnique({ where: { id: tenantId }, select: { minimumGroupSize: true } });
  const minimumGroupSize = tenant?.minimumGroupSize ?? 1;
  if (minimumGroupSize > 1) {
    throw suppressionInForce(
      `engagementSummary counts single events, so it is withheld while the tenant's minimumGroupSize is ${minimumGroupSize}: ` +
        "use engagementTimeSeries (its totals) or engagementBreakdown, which hide small cells, or set minimumGroupSize to 1",
    );
  }
  const template = range.templateId ? Prisma.sql`and template_id = ${range.templateId}::uuid` : Prisma.empty;
  const rows = await db.$queryRaw<{ type: EngagementType; people: number; machines: number }[]>`
    select type::text as type, (count(*) filter (where not machine))::int as people, (count(*) filter (where machine))::int as machines
      from engagement_events
     where tenant_id = ${tenantId}::uuid and occurred_at >= ${range.from} and occurred_at < ${range.to} ${template}
     group by type`;
  const byType = new Map(rows.map((r) => [r.type, r]));
  // Every type, zeros included, so a chart has a stable shape.
  return ENGAGEMENT_TYPES.map((type) => ({ type, people: byType.get(type)?.people ?? 0, machines: byType.get(type)?.machines ?? 0 }));
}

/** Counts per credential (all time), every type present, for Credential.engagement. */
export async function engagementByCredential(db: Db, tenantId: string, credentialIds: string[]): Promise<Map<string, EngagementCount[]>> {
  const rows = await db.$queryRaw<{ credential_id: string; type: EngagementType; people: number; machines: number }[]>`
    select credential_id::text, type::text as type,
           (count(*) filter (where not machine))::int as people, (count(*) filter (where machine))::int as machines
      from engagement_events
     where tenant_id = ${tenantId}::uuid and credential_id = any(${credentialIds}::uuid[])
     group by 1, 2`;
  const result = new Map<string, EngagementCount[]>();
  for (const row of rows) {
    const counts = result.get(row.credential_id) ?? engagementByCredential.empty();
    const slot = counts.find((c) => c.type === row.type);
    if (slot) Object.assign(slot, { people: row.people, machines: row.machines });
    result.set(row.credential_id, counts);
  }
  return result;
}
engagementByCredential.empty = (): EngagementCount[] => ENGAGEMENT_TYPES.map((type) => ({ type, people: 0, machines: 0 }));
