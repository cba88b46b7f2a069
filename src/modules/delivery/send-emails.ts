// The send_emails task: claim a batch of queued messages, send each one's fixed content (one batch
// request), record the outcome. Three steps, so no transaction stays open across the network: (1) claim
// and decide the requests in one tenant transaction, (2) send, (3) record in another. Each message
// notes the key of its request before it is made; while that request's answer is unknown (no answer, a
// crash between (2) and (3)) the message is only ever sent again as part of that same request, whose
// content is fixed at enqueue, so the provider answers with the first send instead of sending twice.
import { boundQuery } from "../../db/request-connection.js";
import type { TenantJob, WorkerApp } from "../jobs/worker.js";
import { createHash } from "node:crypto";
import { MAX_BATCH, MailerError, type BatchResult, type Mailer, type OutgoingEmail } from "./mailer.js";
import { fixContent, mailSettings, type FixedContent } from "./compose.js";
import { tenantKeys } from "../vault/vault.js";
import { openClaimed, sealField, type ClaimedSealedRow } from "./sealed-outbox.js";
import { packByteaColumns, type PackedColumn } from "../../db/bytea.js";
import { mayProcess, withheldReason, type ProcessingPurpose } from "../privacy/processing.js";

export interface SendEmailsPayload {
  messageIds: string[];
}

interface ClaimedRow extends Record<string, unknown> {
  id: string;
  kind: string;
  to_email: string;
  locale: string;
  payload: Record<string, unknown>;
  credential_id: string | null;
  recipient_id: string | null;
  content: FixedContent | null;
  /** The request this message is in while its answer is unknown; null when it is free to go in a new one. */
  request_key: string | null;
}

type Ready = ClaimedRow & { content: FixedContent };

/** One request to the provider: one message under its own key, or a batch under the key of its exact set. */
interface Request {
  key: string;
  rows: Ready[];
}

interface Outcome {
  id: string;
  /** "sending": the request's answer is unknown; it is sent again as the same request. */
  status: "sent" | "stored" | "sending" | "queued" | "failed";
  providerMessageId: string | null;
  html: string | null;
  text: string | null;
  error: string | null;
  detail: string | null;
}

export function sendEmailsTask(mailer: Mailer) {
  return async (app: WorkerApp, job: TenantJob<SendEmailsPayload>) => {
    const ids = (job.payload.messageIds ?? []).filter((id) => typeof id === "string");
    if (!ids.length) return;
    // Messages queued without content (before content was fixed at enqueue, or when that failed) get it
    // now, before their first attempt. One that cannot be rendered is our fault, never the recipient's:
    // it goes back in line and the job fails, visible to the tenant in failingJobs.
    const { requests, stored, unrenderable } = await job.inTenant(async (db) => {
      const keys = await tenantKeys(db, job.tenantId);
      const claimedSealed = await boundQuery<ClaimedSealedRow & Omit<ClaimedRow, "to_email" | "payload" | "content">>(`select * from claim_email_messages($1::uuid[])`, [ids]);
      const all = { rows: claimedSealed.rows.map((r): ClaimedRow => {
        const opened = openClaimed(keys, r);
        const fromPayload = typeof opened.payload.credentialId === "string" ? opened.payload.credentialId : null;
        return { ...r, ...opened, credential_id: (r.credential_id as string | null) ?? fromPayload } as unknown as ClaimedRow;
      }) };
      // Asked again now, not when queued: a choice made since (restriction, objection, a child) stops it here.
      const withheld = await withholdStopped(job.tenantId, all.rows);
      const claimed = { rows: all.rows.filter((r) => !withheld.has(r.id)) };
      const missing = claimed.rows.filter((r) => !r.content);
      const fixed = await fixContent(mailSettings(app.config), keys, missing.map((r) => ({
        id: r.id, kind: r.kind, toEmail: r.to_email, locale: r.locale, payload: r.payload, credentialId: r.credential_id, recipientId: r.recipient_id,
      })));
      const failures = [...fixed].filter((f): f is [string, Error] => f[1] instanceof Error);
      if (failures.length) {
        await boundQuery(
          `update email_outbox o set status = 'queued', last_error_sealed = u.error
             from unnest($2::uuid[], $3::bytea[]) as u(id, error) where o.tenant_id = $1 and o.id = u.id`,
          [job.tenantId, failures.map(([id]) => id), failures.map(([id, e]) => Buffer.from(sealField(keys, id, "last_error", e.message.slice(0, 1000))!))],
        );
      }
      const rows = claimed.rows.flatMap((r): Ready[] => {
        const content = r.content ?? fixed.get(r.id);
        return content && !(content instanceof Error) ? [{ ...r, content }] : [];
      });
      if (mailer.provider === "log") return { requests: [], stored: rows, unrenderable: failures };
      const planned = plan(rows);
      const fresh = planned.flatMap((q) => q.rows.filter((r) => r.request_key !== q.key).map((r) => [r.id, q.key] as const));
      if (fresh.length) {
        await boundQuery(
          `update email_outbox o set request_key = u.key from unnest($2::uuid[], $3::text[]) as u(id, key) where o.tenant_id = $1 and o.id = u.id`,
          [job.tenantId, fresh.map(([id]) => id), fresh.map(([, key]) => key)],
        );
      }
      return { requests: planned, stored: [], unrenderable: failures };
    });

    const outcomes = [...stored.map(storedOutcome), ...(await sendRequests(mailer, requests, job.isFinalAttempt))];
    if (outcomes.length) {
      await job.inTenant(async (db) => {
        const keys = await tenantKeys(db, job.tenantId);
        const seal = (column: "html" | "text_body" | "last_error", text: (o: Outcome) => string | null) => outcomes.map((o) => sealField(keys, o.id, column, text(o)));
        // Packed (db/bytea.ts): a sent message's bodies are kilobytes, sent once as binary.
        const packed = packByteaColumns([seal("html", (o) => o.html), seal("text_body", (o) => o.text), seal("last_error", (o) => o.error)]);
        const [html, text, error] = packed.columns as [PackedColumn, PackedColumn, PackedColumn];
        await boundQuery(
          `update email_outbox o
              set status = u.status::email_status,
                  sent_at = case when u.status = 'sent' then now() else o.sent_at end,
                  provider = case when u.status in ('sent', 'stored') then $2 else o.provider end,
                  provider_message_id = coalesce(u.provider_message_id, o.provider_message_id),
                  html_sealed = substring($6::bytea from u.html_at for u.html_length),
                  text_body_sealed = substring($6::bytea from u.text_at for u.text_length),
                  last_error_sealed = substring($6::bytea from u.error_at for u.error_length), legacy_last_error = null,
                  status_detail = coalesce(u.detail, o.status_detail),
                  request_key = case when u.status = 'sending' then o.request_key end
             from unnest($3::uuid[], $4::text[], $5::text[], $7::text[], $8::int[], $9::int[], $10::int[], $11::int[], $12::int[], $13::int[])
                    as u(id, status, provider_message_id, detail, html_at, html_length, text_at, text_length, error_at, error_length)
            where o.tenant_id = $1 and o.id = u.id and o.status = 'sending'`,
          [
            job.tenantId,
            mailer.provider,
            outcomes.map((o) => o.id),
            outcomes.map((o) => o.status),
            outcomes.map((o) => o.providerMessageId),
            packed.bytes,
            outcomes.map((o) => o.detail),
            html.starts, html.lengths, text.starts, text.lengths, error.starts, error.lengths,
          ],
        );
        // A message that has left (or been stored) no longer needs its content or an invitation's token.
        await boundQuery(`select forget_sent_secrets($1::uuid[])`, [outcomes.filter((o) => o.status === "sent" || o.status === "stored").map((o) => o.id)]);
      });
    }
    // The demo outbox keeps no one-time link readable; a developer following the README still needs them.
    if (stored.length && !app.config.production) for (const line of storedLinkLines(stored)) console.log(line);
    const retrying = outcomes.filter((o) => o.status === "queued" || o.status === "sending");
    const failed = outcomes.filter((o) => o.status === "failed");
    if (unrenderable.length) {
      throw new Error(`${unrenderable.length} of ${ids.length} messages could not be rendered (on Laurel's side; they stay queued): ${unrenderable[0]![1].message}`);
    }
    if (retrying.length || (failed.length && job.isFinalAttempt)) {
      // The job is retried with backoff; messages already sent are skipped next time.
      throw new Error(`${retrying.length + failed.length} of ${outcomes.length} messages not sent: ${(retrying[0] ?? failed[0])!.error}`);
    }
  };
}

/** Kinds whose message carries a link that acts for someone: never kept readable in the outbox. */
const SECRET_LINK_KINDS = new Set(["invitation", "guardian_consent_request", "privacy_request_link", "person_export_ready"]);

/**
 * The demo outbox: nothing leaves the machine. The body stays readable, except for messages whose link is
 * a secret: an invitation's, a guardian's consent request's and a person's one-time privacy link (whoever
 * reads the outbox could otherwise act as them).
 */
function storedOutcome(row: Ready): Outcome {
  const kept = !SECRET_LINK_KINDS.has(row.kind);
  return { id: row.id, status: "stored", providerMessageId: null, html: kept ? row.content.html : null, text: kept ? row.content.text : null, error: null, detail: null };
}

/**
 * One log line per stored message whose link is a secret: `[outbox, stored] <kind> to <address> ("<subject>"):
 * <link>`. The send task prints them in the stored outbox when NODE_ENV is not production, so that in
 * development a password link, an invitation or a privacy link can be followed; never in production,
 * never in the database (the outbox forgets the link as it stores the message).
 */
export function storedLinkLines(rows: Pick<Ready, "kind" | "to_email" | "payload" | "content">[]): string[] {
  return rows.flatMap((row) => {
    const link = row.payload.acceptUrl;
    if (!SECRET_LINK_KINDS.has(row.kind) || typeof link !== "string") return [];
    return [`[outbox, stored] ${row.kind} to ${row.to_email} (${JSON.stringify(row.content.subject)}): ${link}`];
  });
}

/**
 * The requests for these messages. Messages already in a request whose answer is unknown go in that
 * same request again. The others are grouped afresh: one message under its own key, several in batches
 * of up to 100 keyed by their exact set (a fixed order too: a replayed batch is answered with the first
 * response, whose ids are in the first request's order). Batching is what makes 1,000+ emails/s possible
 * and fits Resend's request rate limit; each email carries its message id in X-Entity-Ref-ID.
 */
function plan(rows: Ready[]): Request[] {
  const requests = new Map<string, Ready[]>();
  for (const row of rows.filter((r) => r.request_key)) requests.set(row.request_key!, [...(requests.get(row.request_key!) ?? []), row]);
  const fresh = rows.filter((r) => !r.request_key).sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
  for (let i = 0; i < fresh.length; i += MAX_BATCH) {
    const batch = fresh.slice(i, i + MAX_BATCH);
    const key = batch.length === 1 ? `laurel-${batch[0]!.id}` : `laurel-batch-${createHash("sha256").update(batch.map((r) => r.id).join(",")).digest("base64url")}`;
    requests.set(key, batch);
  }
  return [...requests].map(([key, members]) => ({ key, rows: members.sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0)) }));
}

async function sendRequests(mailer: Mailer, requests: Request[], finalAttempt: boolean): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  for (const request of requests) {
    const results = await send(mailer, request);
    request.rows.forEach((row, n) => outcomes.push(outcomeOf(row.id, results[n]!, finalAttempt)));
  }
  return outcomes;
}

function outcomeOf(id: string, result: BatchResult, finalAttempt: boolean): Outcome {
  const none = { providerMessageId: null, html: null, text: null, error: null, detail: null };
  if ("id" in result) return { ...none, id, status: "sent", providerMessageId: result.id };
  const { error } = result;
  const message = error.message.slice(0, 1000);
  // The provider already took a request under this key: the message went out, only its id is unknown.
  if (error.fate === "sent") return { ...none, id, status: "sent", detail: message };
  // No answer: it may have gone out. Neither sent nor failed; the same request is made again.
  if (error.fate === "unknown") return { ...none, id, status: "sending", error: message };
  // Our own refusal stays queued even when the job gives up: its failing job shows until someone fixes it.
  return { ...none, id, status: error.ours || (error.retryable && !finalAttempt) ? "queued" : "failed", error: message };
}

/** One answer per message of the request, in its order. */
async function send(mailer: Mailer, request: Request): Promise<BatchResult[]> {
  const emails = request.rows.map((r): OutgoingEmail => ({ ref: r.id, to: r.to_email, ...r.content }));
  const asFailure = (error: unknown) => (error instanceof MailerError ? error : new MailerError((error as Error).message, true, "unknown"));
  try {
    return emails.length === 1 ? [await mailer.send(emails[0]!, request.key)] : await mailer.sendBatch(emails, request.key);
  } catch (error) {
    return emails.map(() => ({ error: asFailure(error) }));
  }
}

interface PersonFacts extends Record<string, unknown> {
  id: string;
  purpose: ProcessingPurpose | null;
  tracking_consent: boolean;
  restricted_at: Date | null;
  objected_at: Date | null;
  is_child: boolean;
  /** ISO calendar date. */
  birth_date: string | null;
  guardian_consent_at: Date | null;
  time_zone: string;
}

/**
 * Marks the claimed messages the processing rule (privacy/processing.ts) now stops as withheld, with the
 * reason in status_detail, and forgets their content. Messages naming no recipient, and kinds the rule
 * does not govern (email_purpose() null: staff mail, a guardian's consent request), go on.
 * @returns the ids withheld
 */
async function withholdStopped(tenantId: string, rows: ClaimedRow[]): Promise<Set<string>> {
  if (!rows.length) return new Set();
  const facts = await boundQuery<PersonFacts>(
    `select u.id, email_purpose(u.kind) as purpose, r.tracking_consent, r.restricted_at, r.objected_at, r.is_child, r.birth_date::text as birth_date,
            r.guardian_consent_at, t.time_zone
       from unnest($2::uuid[], $3::text[], $4::uuid[], $5::uuid[]) as u(id, kind, credential_id, recipient_id)
       left join credentials c on c.tenant_id = $1 and c.id = u.credential_id
       join recipients r on r.tenant_id = $1 and r.id = coalesce(u.recipient_id, c.recipient_id)
       join tenants t on t.id = r.tenant_id
      where email_purpose(u.kind) is not null`,
    [tenantId, rows.map((r) => r.id), rows.map((r) => r.kind), rows.map((r) => r.credential_id), rows.map((r) => r.recipient_id)],
  );
  const now = new Date();
  const stopped = facts.rows.flatMap((f) => {
    const person = {
      trackingConsent: f.tracking_consent, restrictedAt: f.restricted_at, objectedAt: f.objected_at,
      isChild: f.is_child, birthDate: f.birth_date ? new Date(`${f.birth_date}T00:00:00Z`) : null, guardianConsentAt: f.guardian_consent_at,
    };
    return mayProcess(person, f.purpose!, f.time_zone, now) ? [] : [[f.id, withheldReason(person, f.purpose!, f.time_zone, now)!] as const];
  });
  if (!stopped.length) return new Set();
  await boundQuery(
    `update email_outbox o set status = 'withheld', status_detail = u.reason, request_key = null, last_error_sealed = null, legacy_last_error = null
       from unnest($2::uuid[], $3::text[]) as u(id, reason) where o.tenant_id = $1 and o.id = u.id`,
    [tenantId, stopped.map(([id]) => id), stopped.map(([, reason]) => reason)],
  );
  await boundQuery(`select forget_sent_secrets($1::uuid[])`, [stopped.map(([id]) => id)]);
  return new Set(stopped.map(([id]) => id));
}
