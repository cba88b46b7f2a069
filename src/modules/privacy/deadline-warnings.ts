// The daily deadline warning (a graphile-worker cron, jobs/tasks.ts): per tenant, each pending request
// whose deadline is two working days away or nearer (in the tenant's zone, less its holidays), or
// already past, is warned once: an email to each of the tenant's owners and a data_subject_request.due_soon
// webhook, and warned_at is set in the same transaction. Neither names the person.
import { encodeGlobalID } from "@pothos/plugin-relay";
import { DateTime } from "luxon";
import { withTenantTransaction, type Db } from "../../db/tenant-transaction.js";
import { zoneOrUtc } from "../../lib/calendar.js";
import { mailSettings } from "../delivery/compose.js";
import { emailDay } from "../delivery/content.js";
import type { OwnerQuery } from "../delivery/reminders.js";
import type { WorkerApp } from "../jobs/worker.js";
import { queueEmails } from "../outbox/service.js";
import { isWorkingDay, type HolidaySet } from "./deadlines.js";
import { emitRequestsDueSoon } from "./partner-events.js";
import { isChoiceKind } from "./choices.js";
import type { DataSubjectRequestKind } from "../../generated/prisma/enums.js";
import { deadlineCalendar, PENDING_STATES } from "./service.js";
import { tenantTimeZone } from "../tenants/service.js";

/** Warned once no more than this many working days lie between today and the deadline's day. */
export const WARNING_WORKING_DAYS = 2;

/**
 * True when the deadline has passed, or at most two working days come after `now`'s local day up to
 * and including the deadline's day (due Friday: warned from Wednesday on).
 */
export function isDueSoon(deadlineAt: Date, now: Date, timeZone: string, holidays: HolidaySet): boolean {
  if (deadlineAt.getTime() <= now.getTime()) return true;
  const zone = zoneOrUtc(timeZone);
  const last = DateTime.fromJSDate(deadlineAt, { zone }).startOf("day");
  let after = 0;
  for (let day = DateTime.fromJSDate(now, { zone }).startOf("day").plus({ days: 1 }); day <= last; day = day.plus({ days: 1 })) {
    if (isWorkingDay(day, holidays) && ++after > WARNING_WORKING_DAYS) return false;
  }
  return true;
}

/** One tenant's warnings, in its transaction; returns the ids of the requests warned. */
export async function warnTenantDeadlines(db: Db, app: Pick<WorkerApp, "config">, tenantId: string, now: Date): Promise<string[]> {
  const { timeZone, holidays } = await deadlineCalendar(db, tenantId);
  const pending = await db.dataSubjectRequest.findMany({
    where: { tenantId, state: { in: [...PENDING_STATES] }, warnedAt: null },
    orderBy: { deadlineAt: "asc" },
  });
  const due = pending.filter((r) => isDueSoon(r.deadlineAt, now, timeZone, holidays));
  if (!due.length) return [];
  // Claimed by warned_at first: a concurrent run that got here too warns none of them twice.
  const { count } = await db.dataSubjectRequest.updateMany({
    where: { tenantId, id: { in: due.map((r) => r.id) }, warnedAt: null },
    data: { warnedAt: now },
  });
  if (count !== due.length) return [];
  await emailOwnersAbout(db, app.config, tenantId, "data_subject_request_due", due, timeZone);
  await emitRequestsDueSoon(db, due);
  return due.map((r) => r.id);
}

/**
 * One short email per request to each of the tenant's owners: the request's kind, dates and global id (as
 * the API and the webhooks show it), never the person. Queued once per request and owner (`kind` in the key).
 */
async function emailOwnersAbout(
  db: Db,
  config: Parameters<typeof mailSettings>[0],
  tenantId: string,
  kind: "data_subject_request_due" | "data_subject_request_filed",
  requests: { id: string; kind: string; receivedAt: Date; deadlineAt: Date; carriedOutAtOnce?: boolean }[],
  timeZone: string,
): Promise<void> {
  const owners = await db.membership.findMany({ where: { tenantId, role: "owner" }, select: { user: { select: { id: true, email: true } } } });
  const emails = requests.flatMap((r) => owners.map(({ user }) => ({
    kind,
    toEmail: user.email,
    locale: "en",
    idempotencyKey: `${kind}:${r.id}:${user.id}`,
    payload: {
      requestKind: r.kind,
      requestId: encodeGlobalID("DataSubjectRequest", r.id),
      receivedOn: emailDay(r.receivedAt, timeZone, "en"),
      dueOn: emailDay(r.deadlineAt, timeZone, "en"),
      ...(r.carriedOutAtOnce ? { carriedOutAtOnce: true } : {}),
    },
  })));
  await queueEmails(db, mailSettings(config), tenantId, emails, { skipExisting: true });
}

/**
 * A person (or a child's guardian) filed a request through their own link: each owner is told at once
 * (emailOwnersAbout), so no request waits unseen until its due-soon warning. A restriction, objection or
 * consent withdrawal made that way takes effect as it is filed (self-service.ts): the notice says it was
 * carried out, not that it is due.
 */
export async function tellOwnersOfRequest(
  db: Db,
  config: Parameters<typeof mailSettings>[0],
  request: { id: string; tenantId: string; kind: string; receivedAt: Date; deadlineAt: Date },
): Promise<void> {
  const carriedOutAtOnce = isChoiceKind(request.kind as DataSubjectRequestKind);
  await emailOwnersAbout(db, config, request.tenantId, "data_subject_request_filed", [{ ...request, carriedOutAtOnce }], await tenantTimeZone(db, request.tenantId));
}

/** The cron task: finds the tenants with an unwarned pending request through `owner`, then works each as the tenant. */
export async function warnDeadlines(app: WorkerApp, owner: OwnerQuery, now = new Date()): Promise<number> {
  // A coarse bound for the cross-tenant question (two working days never span more than this, holidays
  // aside); each tenant's own calendar decides exactly.
  const before = new Date(now.getTime() + 30 * 86_400_000).toISOString();
  const { rows } = (await owner.query(`select tenant_id from tenants_with_requests_to_warn('${before}'::timestamptz) as tenant_id`)) as { rows: { tenant_id: string }[] };
  let warned = 0;
  for (const { tenant_id: tenantId } of rows) {
    const claims = { dbRole: app.config.roles.member, tenantId, userId: null };
    warned += (await withTenantTransaction(app.database, claims, (db) => warnTenantDeadlines(db, app, tenantId, now))).length;
  }
  return warned;
}
