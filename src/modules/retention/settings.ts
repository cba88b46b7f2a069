// A tenant's retention settings (sql/045): how long raw usage data is kept before the daily retention job
// (sweep.ts) removes it. Each has a default and bounds; the database's check constraints hold the same bounds.
import type { Db } from "../../db/tenant-transaction.js";
import { ValidationError } from "../../errors.js";
import { recordAudit } from "../audit/service.js";
import type { Caller } from "../common/caller.js";

export interface RetentionSettings {
  /** Raw engagement events (views, opens, shares...), in months; analytics aggregates are kept forever. */
  engagementEventMonths: number;
  /** Provider webhook events and partner webhook delivery logs (deliveries and their attempts), in days. */
  deliveryLogDays: number;
  /** Email bodies (subject, HTML, text, the message as sent), in days after delivery. */
  emailBodyDays: number;
  /** Finished export files (a person's export, a tenant's export ZIP), in days after they were made. */
  exportFileDays: number;
  /** The audit log, in days. */
  auditLogDays: number;
}

/**
 * Defaults (issue 13) and bounds. Why each bound (README "Retention"):
 *   engagement 1..25 months: CNIL's audience-measurement guidance caps trackers at 13 months and the data
 *     they collect at 25; raw events name people (recipient, hashed IP) unless consent was withheld;
 *   delivery logs 7..365 days: shorter would forget provider webhooks still being retried (about a day)
 *     and a week of partner-delivery history support needs; a year is plenty for debugging;
 *   email bodies 1..365 days: the delivery record (status, times, recipient) stays, only the text goes;
 *   export files 1..7 days: the download link lives 7 days, so a longer-kept file could not be fetched;
 *   audit log 365..3650 days: a year is the least auditors expect (PCI DSS 10.5.1 keeps a year of audit
 *     trail; ISO 27001 and SOC 2 reviews look back a year), ten years the longest any common rule asks.
 */
export const RETENTION: Record<keyof RetentionSettings, { column: string; default: number; min: number; max: number; unit: string }> = {
  engagementEventMonths: { column: "retentionEngagementMonths", default: 13, min: 1, max: 25, unit: "months" },
  deliveryLogDays: { column: "retentionDeliveryLogDays", default: 90, min: 7, max: 365, unit: "days" },
  emailBodyDays: { column: "retentionEmailBodyDays", default: 30, min: 1, max: 365, unit: "days" },
  exportFileDays: { column: "retentionExportFileDays", default: 7, min: 1, max: 7, unit: "days" },
  auditLogDays: { column: "retentionAuditLogDays", default: 730, min: 365, max: 3650, unit: "days" },
};

const SELECT = {
  retentionEngagementMonths: true,
  retentionDeliveryLogDays: true,
  retentionEmailBodyDays: true,
  retentionExportFileDays: true,
  retentionAuditLogDays: true,
} as const;

type Row = { [K in keyof typeof SELECT]: number };

function fromRow(row: Row): RetentionSettings {
  return {
    engagementEventMonths: row.retentionEngagementMonths,
    deliveryLogDays: row.retentionDeliveryLogDays,
    emailBodyDays: row.retentionEmailBodyDays,
    exportFileDays: row.retentionExportFileDays,
    auditLogDays: row.retentionAuditLogDays,
  };
}

/** The tenant's retention settings (defaults until changed). */
export async function retentionSettings(db: Db, tenantId: string): Promise<RetentionSettings> {
  return fromRow(await db.tenant.findUniqueOrThrow({ where: { id: tenantId }, select: SELECT }));
}

/**
 * Changes some of the tenant's retention settings (null or absent: unchanged) and records the change in
 * the audit log (from, to). Throws ValidationError naming every value out of its bounds, or when nothing
 * is given. A shorter setting takes effect at the next daily run of the retention job.
 */
export async function updateRetentionSettings(db: Db, caller: Caller, input: Partial<Record<keyof RetentionSettings, number | null>>): Promise<RetentionSettings> {
  const changes: Partial<RetentionSettings> = {};
  const problems: { path: string[]; message: string }[] = [];
  for (const [key, rule] of Object.entries(RETENTION) as [keyof RetentionSettings, (typeof RETENTION)[keyof RetentionSettings]][]) {
    const value = input[key];
    if (value == null) continue;
    if (!Number.isInteger(value) || value < rule.min || value > rule.max) {
      problems.push({ path: ["input", key], message: `${key} must be a whole number of ${rule.unit} from ${rule.min} to ${rule.max}` });
    } else {
      changes[key] = value;
    }
  }
  if (problems.length) throw new ValidationError(problems.map((p) => p.message).join("; "), problems);
  if (!Object.keys(changes).length) throw ValidationError.field(["input"], "Give at least one retention setting to change");
  const before = await retentionSettings(db, caller.tenantId);
  const data = Object.fromEntries(Object.entries(changes).map(([key, value]) => [RETENTION[key as keyof RetentionSettings].column, value]));
  const after = fromRow(await db.tenant.update({ where: { id: caller.tenantId }, data, select: SELECT }));
  const details = Object.fromEntries(Object.keys(changes).map((key) => [key, { from: before[key as keyof RetentionSettings], to: after[key as keyof RetentionSettings] }]));
  await recordAudit(db, caller, { action: "retention.updated", targetType: "Tenant", targetId: caller.tenantId, details });
  return after;
}
