// Per-request DataLoaders for lookups Pothos' prisma plugin does not batch by itself (ids stored
// without a foreign key, such as an audit entry's actor). Created with the operation's transaction.
import DataLoader from "dataloader";
import type { Db } from "./db/tenant-transaction.js";
import { engagementByCredential, type EngagementCount } from "./modules/engagement/service.js";

export interface ActorSummary {
  id: string;
  kind: "user" | "api_key";
  name: string;
}

export function createLoaders(getDb: () => Db, getTenantId: () => string | null) {
  return {
    userName: new DataLoader<string, ActorSummary | null>(async (ids) => {
      const rows = await getDb().user.findMany({ where: { id: { in: [...ids] } }, select: { id: true, name: true } });
      const byId = new Map(rows.map((r) => [r.id, { id: r.id, kind: "user" as const, name: r.name }]));
      return ids.map((id) => byId.get(id) ?? null);
    }),
    apiKeyName: new DataLoader<string, ActorSummary | null>(async (ids) => {
      const tenantId = getTenantId();
      if (!tenantId) return ids.map(() => null);
      const rows = await getDb().apiKey.findMany({
        where: { tenantId, id: { in: [...ids] } },
        select: { id: true, name: true },
      });
      const byId = new Map(rows.map((r) => [r.id, { id: r.id, kind: "api_key" as const, name: r.name }]));
      return ids.map((id) => byId.get(id) ?? null);
    }),
    /** Engagement counts of many credentials in one grouped query (a page of credentials is one round trip). */
    credentialEngagement: new DataLoader<string, EngagementCount[]>(async (ids) => {
      const tenantId = getTenantId();
      if (!tenantId) return ids.map(() => []);
      const byCredential = await engagementByCredential(getDb(), tenantId, [...ids]);
      return ids.map((id) => byCredential.get(id) ?? engagementByCredential.empty());
    }),
  };
}

export type Loaders = ReturnType<typeof createLoaders>;
