// Reminders and expiry, as a recurring job (graphile-worker's cron keeps its schedule in the database,
// so a restart neither loses nor repeats a sweep). Each sweep finds the tenants with something due and
// handles each in its own tenant transaction:
//   - up to templates.reminder_count reminders, reminder_interval_days apart, while nobody has opened
//     the credential (credentials.engaged_at, kept by the engagement pipeline);
//   - one reminder expiry_reminder_days before validUntil;
//   - credential.expired for partners once validUntil has passed.
// Recipients the processing rule keeps from reminders (restricted, objected, children: privacy/processing.ts)
// get none, nor do those never told about the credential
// (its email only stored in the demo outbox: "you have not opened it yet" would claim it reached them).
// Idempotency keys make a repeated sweep harmless.
import { tenantKeys } from "../vault/vault.js";
import { boundQuery } from "../../db/request-connection.js";
import { withTenantTransaction } from "../../db/tenant-transaction.js";
import { emitPartnerEvents } from "../jobs/enqueue.js";
import { queueEmails } from "../outbox/service.js";
import { mailSettings } from "./compose.js";
import type { WorkerApp } from "../jobs/worker.js";

const BATCH = 1000;

// The processing rule (privacy/processing.ts, sql/037), inlined per row: restriction, objection and children stop reminders.
const MAY_REMIND = `processing_allowed('reminders', r.tracking_consent, r.restricted_at, r.objected_at, r.is_child, r.birth_date,
                                      r.guardian_consent_at, (select time_zone from tenants where id = $1), now())`;

// Which tenants have something due is a cross-tenant question: only this definer function (sql/017) may ask it.
const DUE_TENANTS = "select tenant_id from tenants_due_for_reminders() as tenant_id";

// The credential's email went somewhere other than the demo outbox (or is still on its way).
const TOLD = `not exists (select 1 from email_outbox o where o.tenant_id = c.tenant_id and o.credential_id = c.id
                                and o.kind = 'credential_issued' and o.status = 'stored')
              or exists (select 1 from email_outbox o where o.tenant_id = c.tenant_id and o.credential_id = c.id
                            and o.kind = 'credential_issued' and o.status in ('sent', 'delivered'))`;
// (The due tenants are a superset: each tenant's own sweep below also asks whether the recipient was told.)

/** Anything that runs a query as the owner role: graphile-worker's job helpers, or an owner pool. */
export interface OwnerQuery {
  query(text: string): Promise<{ rows: unknown[] }>;
}

/** The cron task: finds the tenants with something due through `owner`, then works each as the tenant. */
export async function sweepReminders(app: WorkerApp, owner: OwnerQuery) {
  const tenants = (await owner.query(DUE_TENANTS)) as { rows: { tenant_id: string }[] };
  const totals = { reminders: 0, expiring: 0, expired: 0 };
  for (const { tenant_id: tenantId } of tenants.rows) {
    const done = await sweepTenant(app, tenantId);
    totals.reminders += done.reminders;
    totals.expiring += done.expiring;
    totals.expired += done.expired;
  }
  return totals;
}

export async function sweepTenant(app: WorkerApp, tenantId: string) {
  const claims = { dbRole: app.config.roles.member, tenantId, userId: null };
  return withTenantTransaction(app.database, claims, async (db) => {
    const reminders = await boundQuery<DueRow>(
      `with due as (
         select c.id, c.recipient_id, c.reminders_sent + 1 as n, r.key_version, r.email_sealed, r.legacy_email, r.locale
           from credentials c
           join templates t on t.tenant_id = c.tenant_id and t.id = c.template_id
           join recipients r on r.tenant_id = c.tenant_id and r.id = c.recipient_id
          where c.tenant_id = $1 and c.engaged_at is null and c.status = 'ACTIVE' and c.reminders_sent < t.reminder_count
            and coalesce(c.last_reminded_at, c.issued_at) <= now() - make_interval(days => t.reminder_interval_days)
            and ${MAY_REMIND} and (${TOLD})
          order by c.issued_at limit ${BATCH}
          for update of c skip locked
       )
       update credentials c set reminders_sent = d.n, last_reminded_at = now()
         from due d where c.tenant_id = $1 and c.id = d.id
       returning d.id, d.recipient_id, d.n, d.key_version, d.email_sealed, d.legacy_email, d.locale`,
      [tenantId],
    );
    const expiring = await boundQuery<DueRow>(
      `with due as (
         select c.id, c.recipient_id, r.key_version, r.email_sealed, r.legacy_email, r.locale
           from credentials c
           join templates t on t.tenant_id = c.tenant_id and t.id = c.template_id
           join recipients r on r.tenant_id = c.tenant_id and r.id = c.recipient_id
          where c.tenant_id = $1 and c.valid_until is not null and c.expiry_reminded_at is null and t.expiry_reminder_days is not null
            and c.status = 'ACTIVE' and c.valid_until > now() and c.valid_until - make_interval(days => t.expiry_reminder_days) <= now()
            and ${MAY_REMIND}
          limit ${BATCH}
          for update of c skip locked
       )
       update credentials c set expiry_reminded_at = now() from due d where c.tenant_id = $1 and c.id = d.id
       returning d.id, d.recipient_id, null::int as n, d.key_version, d.email_sealed, d.legacy_email, d.locale`,
      [tenantId],
    );
    const expired = await boundQuery<{ id: string; valid_until: Date }>(
      `update credentials c set expired_notified_at = now()
        where c.tenant_id = $1 and c.id in (
          select id from credentials where tenant_id = $1 and valid_until is not null and expired_notified_at is null
             and valid_until <= now() limit ${BATCH} for update skip locked)
        returning c.id, c.valid_until`,
      [tenantId],
    );
    // Recipients' addresses are sealed (recipients/personal.ts places): opened for the messages only.
    const keys = await tenantKeys(db, tenantId);
    const opened = (d: DueRow): DueRow => ({ ...d, email: d.key_version === null ? d.legacy_email ?? "" : keys.open({ table: "recipients", column: "email", rowId: d.recipient_id }, d.email_sealed!) });
    const emails = [
      ...reminders.rows.map(opened).map((d) => outboxRow(d, "credential_reminder", `credential_reminder:${d.id}:${d.n}`, { credentialId: d.id, reminderNumber: d.n })),
      ...expiring.rows.map(opened).map((d) => outboxRow(d, "credential_expiring", `credential_expiring:${d.id}`, { credentialId: d.id })),
    ];
    // A repeated sweep finds the same keys used: those messages exist already and are left out.
    await queueEmails(db, mailSettings(app.config), tenantId, emails, { skipExisting: true });
    await emitPartnerEvents(db, "credential.expired", expired.rows.map((r) => ({ credentialId: r.id, validUntil: r.valid_until.toISOString() })));
    return { reminders: reminders.rows.length, expiring: expiring.rows.length, expired: expired.rows.length };
  });
}

interface DueRow extends Record<string, unknown> {
  id: string;
  recipient_id: string;
  n: number | null;
  key_version: number | null;
  email_sealed: Uint8Array | null;
  legacy_email: string | null;
  /** Opened from the sealed columns before use. */
  email?: string;
  locale: string;
}

const outboxRow = (d: DueRow, kind: string, idempotencyKey: string, payload: Record<string, unknown>) => ({
  kind, toEmail: d.email ?? "", locale: d.locale, idempotencyKey, payload, credentialId: d.id, recipientId: d.recipient_id,
});
