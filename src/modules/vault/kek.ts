// KEK rotation: when LAUREL_KEKS gains a higher version, every tenant's data keys (a few rows each) are
// re-wrapped under it, so the old KEK can be removed from the deployment afterwards. The sealed fields
// themselves do not change: they are sealed by the data keys, which stay the same keys.
import type { Sql } from "../../db/database.js";
import { withTenantSql } from "../../db/tenant-transaction.js";
import { currentKekVersion } from "../issuers/sealing.js";
import { rewrapKey, type WrappedKeyRow } from "./data-keys.js";

/**
 * Re-wraps the tenant's live data keys (tenant_data_keys, retired ones excepted) that another KEK
 * version wraps under the current (highest) one, in one tenant transaction. Returns how many rows changed.
 * @throws MissingKekError when a row's KEK is not configured (the start-up check refuses that case first)
 */
export async function rewrapTenantKeys(sql: Sql, memberRole: string, keks: ReadonlyMap<number, Buffer>, tenantId: string): Promise<number> {
  const current = currentKekVersion(keks);
  return withTenantSql(sql, { dbRole: memberRole, tenantId, userId: null }, async (tx) => {
    const rows = await tx<WrappedKeyRow[]>`
      select purpose, version, wrapped, kek_version from tenant_data_keys
       where tenant_id = ${tenantId}::uuid and retired_at is null and kek_version <> ${current}
       for update`;
    for (const row of rows) {
      const rewrapped = rewrapKey(keks, tenantId, row)!;
      await tx`update tenant_data_keys set wrapped = ${Buffer.from(rewrapped.wrapped)}, kek_version = ${rewrapped.kek_version}
                where tenant_id = ${tenantId}::uuid and purpose = ${row.purpose} and version = ${row.version}`;
    }
    return rows.length;
  });
}
