// The send_emails task: claim a batch of queued messages, render each in its recipient's language, send
// them (one batch request), record the outcome. Three steps, so no transaction stays open across the
// network: (1) claim + load in one tenant transaction, (2) send, (3) record in another. A crash between
// (2) and (3) leaves the rows "sending"; the retried job sends them again under the same idempotency
// key, and the provider answers with the first send instead of sending twice.
import { boundQuery } from "../../db/request-connection.js";
import type { TenantJob, WorkerApp } from "../jobs/worker.js";
import { builtInContent, emailDay, localeChain, render, type Content, type EmailKind, type MergeValues } from "./content.js";
import { createHash } from "node:crypto";
import { MAX_BATCH, MailerError, type BatchResult, type Mailer, type OutgoingEmail } from "./mailer.js";
import { claimUrl, emailTracking, shouldTrack } from "../engagement/tracking.js";
import { linkedInUrl } from "../../public/credential-page.js";
import { urls } from "../credentials/document.js";

export interface SendEmailsPayload {
  messageIds: string[];
}

interface ClaimedRow extends Record<string, unknown> {
  id: string;
  kind: EmailKind;
  to_email: string;
  locale: string;
  payload: Record<string, string | undefined>;
  credential_id: string | null;
  template_id: string | null;
  issued_at: Date | null;
  valid_until: Date | null;
  credential_name: string | null;
  recipient_name: string | null;
  tracking_consent: boolean | null;
  restricted_at: Date | null;
  created_at: Date;
}

interface TenantRow extends Record<string, unknown> {
  tenant_name: string;
  issuer_name: string | null;
  from_name: string | null;
  from_address: string | null;
  reply_to: string | null;
  from_verified: boolean;
  time_zone: string;
}

interface Override extends Record<string, unknown>, Content {
  template_id: string | null;
  kind: string;
  locale: string;
}

interface Outcome {
  id: string;
  status: "sent" | "queued" | "failed";
  providerMessageId: string | null;
  from: string | null;
  subject: string | null;
  html: string | null;
  text: string | null;
  error: string | null;
}

export function sendEmailsTask(mailer: Mailer) {
  return async (app: WorkerApp, job: TenantJob<SendEmailsPayload>) => {
    const ids = (job.payload.messageIds ?? []).filter((id) => typeof id === "string");
    if (!ids.length) return;
    const { rows, tenant, overrides } = await job.inTenant(async () => {
      const claimed = await boundQuery<ClaimedRow>(
        `with claimed as (select * from claim_email_messages($2::uuid[]))
         select c.id, c.kind, c.to_email, c.locale, c.payload, c.credential_id, c.created_at, cr.template_id, cr.valid_from as issued_at, cr.valid_until,
                tv.name as credential_name, r.name as recipient_name, r.tracking_consent, r.restricted_at
           from claimed c
           left join credentials cr on cr.tenant_id = $1 and cr.id = c.credential_id
           left join template_versions tv on tv.tenant_id = $1 and tv.template_id = cr.template_id and tv.version = cr.template_version
           left join recipients r on r.tenant_id = $1 and r.id = coalesce(c.recipient_id, cr.recipient_id)`,
        [job.tenantId, ids],
      );
      if (!claimed.rows.length) return { rows: [], tenant: null, overrides: [] };
      const tenantRow = await boundQuery<TenantRow>(
        `select t.name as tenant_name, t.time_zone, p.name as issuer_name, s.from_name, s.from_address, s.reply_to,
                exists (select 1 from sender_domains d where d.tenant_id = t.id and d.status = 'verified'
                         and d.domain = split_part(s.from_address, '@', 2)) as from_verified
           from tenants t left join issuer_profiles p on p.tenant_id = t.id left join email_settings s on s.tenant_id = t.id
          where t.id = $1`,
        [job.tenantId],
      );
      const templateIds = [...new Set(claimed.rows.map((r) => r.template_id).filter((t): t is string => Boolean(t)))];
      const custom = await boundQuery<Override>(
        `select template_id, kind, locale, subject, html, text from email_templates
          where tenant_id = $1 and (template_id is null or template_id = any($2::uuid[]))`,
        [job.tenantId, templateIds],
      );
      return { rows: claimed.rows, tenant: tenantRow.rows[0]!, overrides: custom.rows };
    });
    if (!rows.length || !tenant) return;

    type Composed = { row: ClaimedRow; email: OutgoingEmail; error?: undefined } | { row: ClaimedRow; email?: undefined; error: string };
    const composed = rows.map((row): Composed => {
      try {
        return { row, email: compose(app, job.tenantId, tenant, overrides, row) };
      } catch (error) {
        return { row, error: `Cannot render: ${(error as Error).message}` };
      }
    });
    const ready = composed.filter((c): c is Composed & { email: OutgoingEmail } => c.email !== undefined);
    const results = await sendAll(mailer, ready.map((c) => c.email));
    // The demo outbox keeps rendered bodies, except an invitation's: its accept link is a secret.
    const kept = (c: Composed) => mailer.provider === "log" && c.row.kind !== "invitation";
    const outcomes: Outcome[] = composed.map((c) => {
      if (c.email === undefined) return { id: c.row.id, status: "failed", providerMessageId: null, from: null, subject: null, html: null, text: null, error: c.error };
      const { email } = c;
      const result = results.get(email.ref)!;
      if ("id" in result) {
        return { id: c.row.id, status: "sent", providerMessageId: result.id, from: email.from, subject: email.subject, html: kept(c) ? email.html : null, text: kept(c) ? email.text : null, error: null };
      }
      return {
        id: c.row.id,
        status: result.error.retryable && !job.isFinalAttempt ? "queued" : "failed",
        providerMessageId: null, from: email.from, subject: email.subject, html: null, text: null,
        error: result.error.message.slice(0, 1000),
      };
    });

    await job.inTenant(async () => {
      await boundQuery(
        `update email_outbox o
            set status = u.status::email_status,
                sent_at = case when u.status = 'sent' then now() else o.sent_at end,
                provider = case when u.status = 'sent' then $2 else o.provider end,
                provider_message_id = coalesce(u.provider_message_id, o.provider_message_id),
                from_address = coalesce(u.from_address, o.from_address),
                subject = coalesce(u.subject, o.subject), html = u.html, text_body = u.text_body,
                last_error = u.error
           from unnest($3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])
                  as u(id, status, provider_message_id, from_address, subject, html, text_body, error)
          where o.tenant_id = $1 and o.id = u.id and o.status = 'sending'`,
        [
          job.tenantId,
          mailer.provider,
          outcomes.map((o) => o.id),
          outcomes.map((o) => o.status),
          outcomes.map((o) => o.providerMessageId),
          outcomes.map((o) => o.from),
          outcomes.map((o) => o.subject),
          outcomes.map((o) => o.html),
          outcomes.map((o) => o.text),
          outcomes.map((o) => o.error),
        ],
      );
      // A sent invitation no longer needs its token.
      await boundQuery(`select forget_sent_secrets($1::uuid[])`, [outcomes.filter((o) => o.status !== "queued").map((o) => o.id)]);
    });
    const retrying = outcomes.filter((o) => o.status === "queued");
    const failed = outcomes.filter((o) => o.status === "failed");
    if (retrying.length || (failed.length && job.isFinalAttempt)) {
      // The job is retried with backoff; messages already sent are skipped next time.
      throw new Error(`${retrying.length + failed.length} of ${outcomes.length} messages not sent: ${(retrying[0] ?? failed[0])!.error}`);
    }
  };
}

function compose(app: WorkerApp, tenantId: string, tenant: TenantRow, overrides: Override[], row: ClaimedRow): OutgoingEmail {
  const settings = { publicUrl: app.config.publicUrl, keks: app.config.keks };
  const issuerName = tenant.issuer_name ?? tenant.tenant_name;
  const view: MergeValues = {
    recipient: { name: row.recipient_name ?? row.payload.recipientName ?? "", email: row.to_email },
    issuer: { name: issuerName },
    tenant: { name: row.payload.tenantName ?? tenant.tenant_name },
    credential: {
      name: row.credential_name ?? row.payload.name ?? "",
      validUntil: emailDay(row.valid_until, tenant.time_zone, row.locale),
      reason: row.payload.reason ?? "",
    },
    invitation: { role: row.payload.role ?? "" },
    reminder: { number: row.payload.reminderNumber ?? "" },
    links: { accept: row.payload.acceptUrl ?? "" },
  };
  let pixel = "";
  if (row.credential_id) {
    const credentialUrl = urls.credential(app.config.publicUrl, tenantId, row.credential_id);
    const track = shouldTrack({ trackingConsent: row.tracking_consent ?? true, restrictedAt: row.restricted_at });
    // Tokens are stamped with the message's creation, not the moment of rendering: a retried send
    // renders byte for byte the same email, as the provider's idempotency check requires.
    const stamp = row.created_at.getTime();
    const tracking = emailTracking(settings, { tenantId, credentialId: row.credential_id, messageId: row.id }, stamp);
    const linkedin = linkedInUrl({
      name: String(view.credential!.name),
      organization: issuerName,
      issued: row.issued_at,
      expires: row.valid_until,
      timeZone: tenant.time_zone,
      certUrl: credentialUrl,
      certId: row.credential_id,
    });
    view.links = {
      ...view.links,
      claim: claimUrl(settings, { tenantId, credentialId: row.credential_id, messageId: row.id }, stamp),
      view: track ? tracking.link(credentialUrl, "view") : credentialUrl,
      linkedin: track ? tracking.link(linkedin, "linkedin") : linkedin,
    };
    if (track) pixel = `<img src="${tracking.pixelUrl}" width="1" height="1" alt="" style="display:block;border:0">`;
  }
  const content = pickContent(overrides, row.kind, row.template_id, row.locale);
  const rendered = render(content, view);
  const html = pixel ? rendered.html.replace(/<\/body>/i, `${pixel}</body>`) : rendered.html;
  return {
    ref: row.id,
    from: fromHeader(app.config.email.defaultFrom, tenant),
    to: row.to_email,
    replyTo: tenant.reply_to,
    subject: rendered.subject,
    html: html.includes(pixel) ? html : html + pixel,
    text: rendered.text,
    tags: [{ name: "kind", value: row.kind }],
  };
}

/** The tenant's own content for this template, then its default, in the best language; else ours. */
function pickContent(overrides: Override[], kind: EmailKind, templateId: string | null, locale: string): Content {
  const chain = localeChain(locale);
  for (const scope of [templateId, null]) {
    if (scope === undefined) continue;
    for (const l of chain) {
      const hit = overrides.find((o) => o.kind === kind && o.template_id === scope && o.locale === l);
      if (hit) return hit;
    }
  }
  return builtInContent(kind, locale).content;
}

/** The tenant's address when its domain is verified; otherwise ours, under the tenant's name. */
function fromHeader(platformFrom: string, tenant: TenantRow): string {
  const name = (tenant.from_name ?? tenant.issuer_name ?? tenant.tenant_name).replace(/["\\\r\n<>]/g, "");
  if (tenant.from_address && tenant.from_verified) return `"${name}" <${tenant.from_address}>`;
  const address = /<([^>]+)>/.exec(platformFrom)?.[1] ?? platformFrom;
  return `"${name}" <${address}>`;
}

/**
 * One message: its own send, keyed by its id. Several: one batch request, keyed by the exact set of
 * message ids, so a retried job (which claims the same unsent set) repeats the same request and the
 * provider answers with the first one instead of sending again. Batching is what makes 1,000+ emails/s
 * possible (and fits Resend's request rate limit); each email still carries its id in X-Entity-Ref-ID.
 */
async function sendAll(mailer: Mailer, emails: OutgoingEmail[]): Promise<Map<string, BatchResult>> {
  const results = new Map<string, BatchResult>();
  const fail = (error: unknown) => (error instanceof MailerError ? error : new MailerError((error as Error).message, true));
  if (emails.length === 1) {
    const [email] = emails as [OutgoingEmail];
    try {
      results.set(email.ref, await mailer.send(email, `laurel-${email.ref}`));
    } catch (error) {
      results.set(email.ref, { error: fail(error) });
    }
    return results;
  }
  // A fixed order too: a replayed request is answered with the first response, whose ids are in the
  // first request's order.
  const ordered = [...emails].sort((x, y) => (x.ref < y.ref ? -1 : x.ref > y.ref ? 1 : 0));
  for (let i = 0; i < ordered.length; i += MAX_BATCH) {
    const batch = ordered.slice(i, i + MAX_BATCH);
    const key = `laurel-batch-${createHash("sha256").update(batch.map((e) => e.ref).join(",")).digest("base64url")}`;
    try {
      const answers = await mailer.sendBatch(batch, key);
      batch.forEach((email, n) => results.set(email.ref, answers[n]!));
    } catch (error) {
      for (const email of batch) results.set(email.ref, { error: fail(error) });
    }
  }
  return results;
}
