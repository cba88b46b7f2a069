// Reading engagement back: counts per event type, people apart from machines. Aggregates only, so
// analysts (who may not see people) can read them; the tenant transaction's RLS is the wall.
// Raw events expire (retention, sql/045); what they counted is not lost: before the tenant's
// engagement_raw_since counts come from the analytics rollups, and per-credential counts add
// engagement_expired_counts, so no number here changes when events expire.
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
  const tenant = await db.tenant.findUnique({ where: { id: tenantId }, select: { minimumGroupSize: true, engagementRawSince: true } });
  const minimumGroupSize = tenant?.minimumGroupSize ?? 1;
  if (minimumGroupSize > 1) {
    throw suppressionInForce(
      `engagementSummary counts single events, so it is withheld while the tenant's minimumGroupSize is ${minimumGroupSize}: ` +
        "use engagementTimeSeries (its totals) or engagementBreakdown, which hide small cells, or set minimumGroupSize to 1",
    );
  }
  // Raw events from the horizon on (a UTC day start, so a 15-minute slot boundary); rollups before it.
  const since = tenant?.engagementRawSince ?? null;
  const rawFrom = since && since > range.from ? since : range.from;
  const template = range.templateId ? Prisma.sql`and template_id = ${range.templateId}::uuid` : Prisma.empty;
  const rows = await db.$queryRaw<{ type: EngagementType; people: number; machines: number }[]>`
    select type::text as type, (count(*) filter (where not machine))::int as people, (count(*) filter (where machine))::int as machines
      from engagement_events
     where tenant_id = ${tenantId}::uuid and occurred_at >= ${rawFrom} and occurred_at < ${range.to} ${template}
     group by type`;
  if (since && range.from < since) rows.push(...(await expiredSummary(db, tenantId, range.from, since < range.to ? since : range.to, range.templateId)));
  const byType = new Map<EngagementType, { people: number; machines: number }>();
  for (const r of rows) {
    const sum = byType.get(r.type) ?? { people: 0, machines: 0 };
    byType.set(r.type, { people: sum.people + r.people, machines: sum.machines + r.machines });
  }
  // Every type, zeros included, so a chart has a stable shape.
  return ENGAGEMENT_TYPES.map((type) => ({ type, people: byType.get(type)?.people ?? 0, machines: byType.get(type)?.machines ?? 0 }));
}

/**
 * Counts per type over [from, to) from the event rollups' template dimension (each event once), for the
 * part of a range before the raw horizon (read as analytics/sql.ts coveredRows() reads, which this module
 * cannot import: analytics imports it). Rollups are kept in 15-minute slots: a `from` inside a slot
 * counts from the next slot (`to` is the horizon, a slot boundary, or earlier and treated alike).
 */
async function expiredSummary(db: Db, tenantId: string, from: Date, to: Date, templateId?: string | null) {
  const template = templateId ? Prisma.sql`and r.template_id = ${templateId}::uuid` : Prisma.empty;
  return db.$queryRaw<{ type: EngagementType; people: number; machines: number }[]>`
    select r.type::text as type, coalesce(sum(r.events) filter (where not r.machine), 0)::int as people,
           coalesce(sum(r.events) filter (where r.machine), 0)::int as machines
      from analytics_cover(${tenantId}::uuid, ${from}::timestamptz, ${to}::timestamptz) c
     cross join lateral (select r.type, r.machine, r.events from analytics_event_rollups r
                          where r.tenant_id = ${tenantId}::uuid and r.dimension = 't' ${template}
                            and r.grain = c.grain and r.bucket >= c.lo and r.bucket < c.hi offset 0) r
     group by 1`;
}

/** Counts per credential (all time), every type present, for Credential.engagement. */
export async function engagementByCredential(db: Db, tenantId: string, credentialIds: string[]): Promise<Map<string, EngagementCount[]>> {
  const rows = await db.$queryRaw<{ credential_id: string; type: EngagementType; people: number; machines: number }[]>`
    select credential_id::text, type::text as type, sum(people)::int as people, sum(machines)::int as machines
      from (select credential_id, type, count(*) filter (where not machine) as people, count(*) filter (where machine) as machines
              from engagement_events
             where tenant_id = ${tenantId}::uuid and credential_id = any(${credentialIds}::uuid[])
             group by 1, 2
            union all
            select credential_id, type, coalesce(sum(events) filter (where not machine), 0), coalesce(sum(events) filter (where machine), 0)
              from engagement_expired_counts
             where tenant_id = ${tenantId}::uuid and credential_id = any(${credentialIds}::uuid[])
             group by 1, 2) x
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
