// Changes to the tenant record itself: its name, its time zone and its analytics minimum group size.
import type { Db } from "../../db/tenant-transaction.js";
import { ValidationError } from "../../errors.js";
import { personNameProblem } from "../../lib/text.js";
import { recordAudit } from "../audit/service.js";
import type { Caller } from "../common/caller.js";
import { DEFAULT_TIME_ZONE, isServerTimeZone } from "../../lib/calendar.js";

export interface TenantChanges {
  name?: string | null;
  /** An IANA time zone both the runtime and PostgreSQL know, e.g. "Australia/Sydney"; calendar dates are taken in it. */
  timeZone?: string | null;
  /** 1..1000: analytics cells counting fewer distinct credentials are suppressed (1: off). */
  minimumGroupSize?: number | null;
}

/** The tenant's IANA time zone ("UTC" until set). */
export async function tenantTimeZone(db: Db, tenantId: string): Promise<string> {
  const tenant = await db.tenant.findUnique({ where: { id: tenantId }, select: { timeZone: true } });
  return tenant?.timeZone ?? DEFAULT_TIME_ZONE;
}

export async function updateTenant(db: Db, caller: Caller, input: TenantChanges, query: object = {}) {
  const data: { name?: string; timeZone?: string; minimumGroupSize?: number } = {};
  if (input.name != null) {
    data.name = input.name.trim();
    if (data.name.length < 1 || data.name.length > 200) throw ValidationError.field(["input", "name"], "Name must have 1 to 200 characters");
    const problem = personNameProblem(data.name); // the issuer's name until a profile is set: signed, shown
    if (problem) throw ValidationError.field(["input", "name"], problem);
  }
  if (input.timeZone != null) {
    data.timeZone = input.timeZone.trim();
    if (!(await isServerTimeZone(db, data.timeZone))) {
      throw ValidationError.field(["input", "timeZone"], `Unknown time zone "${data.timeZone}": use an IANA name such as Europe/Paris, America/New_York or UTC`);
    }
  }
  if (input.minimumGroupSize != null) {
    if (!Number.isInteger(input.minimumGroupSize) || input.minimumGroupSize < 1 || input.minimumGroupSize > 1000) {
      throw ValidationError.field(["input", "minimumGroupSize"], "minimumGroupSize must be between 1 (off) and 1000");
    }
    data.minimumGroupSize = input.minimumGroupSize;
  }
  if (!Object.keys(data).length) throw ValidationError.field(["input"], "Give a name or a timeZone (or a minimumGroupSize) to change");
  const before = await db.tenant.findUniqueOrThrow({
    where: { id: caller.tenantId },
    select: { name: true, timeZone: true, minimumGroupSize: true },
  });
  const tenant = await db.tenant.update({ ...query, where: { id: caller.tenantId }, data });
  const details = Object.fromEntries(Object.entries(data).map(([key, to]) => [key, { from: before[key as keyof typeof before], to }]));
  await recordAudit(db, caller, { action: "tenant.updated", targetType: "Tenant", targetId: caller.tenantId, details });
  return tenant;
}
