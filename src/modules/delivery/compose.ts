// An email's content is fixed when it is queued: rendered once, in the transaction that queues it, and
// kept in email_outbox.content; every attempt then sends those bytes. Resend's idempotency check
// compares the whole request, so a retry that rendered again after an edit (an email template, the
// sender settings, a recipient's name, a KEK rotation, a deploy) would be refused as "same key,
// different payload" although the first request went out.
import { boundQuery } from "../../db/request-connection.js";
import { packByteaColumns } from "../../db/bytea.js";
import type { Config } from "../../config.js";
import { builtInContent, emailDay, localeChain, render, requestTitle, type Content, type EmailKind, type MergeValues } from "./content.js";
import { claimUrl, emailTracking } from "../engagement/tracking.js";
import { linkedInUrl } from "../../public/credential-page.js";
import { urls } from "../credentials/document.js";
import { isChildNow } from "../privacy/processing.js";
import type { TenantKeys } from "../vault/vault.js";
import { sealField, sealNewMessage } from "./sealed-outbox.js";

/** What fixing an email's content needs from the deployment. */
export interface MailSettings {
  publicUrl: string;
  keks: ReadonlyMap<number, Buffer>;
  /** LAUREL_EMAIL_FROM: the platform's sender, for tenants without a verified domain. */
  emailFrom: string;
  /** No RESEND_API_KEY: messages are stored in the demo outbox and never sent. */
  emailStoredOnly: boolean;
}

export const mailSettings = (config: Pick<Config, "publicUrl" | "keks" | "email">): MailSettings => ({
  publicUrl: config.publicUrl,
  keks: config.keks,
  emailFrom: config.email.defaultFrom,
  emailStoredOnly: !config.email.resendApiKey,
});

/** A message to queue: what its cause knows about it. */
export interface NewEmail {
  kind: string;
  toEmail: string;
  locale: string;
  payload: Record<string, unknown>;
  idempotencyKey: string;
  credentialId?: string | null;
  recipientId?: string | null;
}

/** A message in the outbox (its id names it in tracking tokens and to the provider). */
export interface QueuedEmail extends Omit<NewEmail, "idempotencyKey"> {
  id: string;
}

/** The message exactly as every attempt sends it (the recipient and our message id come from the row). */
export interface FixedContent {
  from: string;
  replyTo: string | null;
  subject: string;
  html: string;
  text: string;
  tags: { name: string; value: string }[];
}

interface FactsRow extends Record<string, unknown> {
  id: string;
  credential_id: string | null;
  template_id: string | null;
  issued_at: Date | null;
  valid_until: Date | null;
  credential_name: string | null;
  recipient_name: string | null;
  r_id: string | null;
  r_key_version: number | null;
  r_name_sealed: Uint8Array | null;
  r_legacy_name: string | null;
  /** The processing rule's answer for tracking (sql/037); true when the message names no recipient. */
  may_track: boolean;
  /** The recipient's child facts (privacy/processing.ts isChildNow); false and null without a recipient. */
  is_child: boolean | null;
  birth_date: string | null;
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

/**
 * Writes messages to the outbox with their content fixed, in the current tenant transaction, one
 * statement for all. Returns the new ids in the order of `emails`; with `skipExisting`, a message whose
 * idempotency key is already used is left out (null). A message that cannot be rendered now (a fault of
 * ours: a bug, a missing KEK) is written without content, and the worker renders it before its first
 * attempt or reports its job failing; it never fails the change that queued it.
 */
export async function insertWithContent(settings: MailSettings, keys: TenantKeys, emails: NewEmail[], options: { skipExisting?: boolean } = {}): Promise<(string | null)[]> {
  const tenantId = keys.tenantId;
  if (!emails.length) return [];
  // The ids first: each message's tracking tokens name it.
  const [{ ids }] = (await boundQuery<{ ids: string[] }>(`select array(select uuid_v7() from generate_series(1, $1::int)) as ids`, [emails.length])).rows as [{ ids: string[] }];
  const queued = emails.map((e, n): QueuedEmail => ({ ...e, id: ids[n]! }));
  const fixed = await composeAll(settings, keys, queued);
  const content = queued.map((q) => fixed.get(q.id)!).map((c) => (c instanceof Error ? null : c));
  const sealed = queued.map((q, n) => sealNewMessage(keys, q.id, { toEmail: q.toEmail, payload: q.payload, content: content[n] ?? null }));
  // The sealed columns go packed (db/bytea.ts): kilobytes of content per message, sent once as binary.
  const packed = packByteaColumns([sealed.map((x) => x.toEmail), sealed.map((x) => x.toEmailIndex), sealed.map((x) => x.payload), sealed.map((x) => x.content), sealed.map((x) => x.subject)]);
  const inserted = await boundQuery<{ id: string }>(
    `insert into email_outbox (tenant_id, id, kind, key_version, to_email_sealed, to_email_index, locale, idempotency_key, payload_sealed,
                               credential_id, recipient_id, content_sealed, subject_sealed, from_address)
     select $1::uuid, u.id, u.kind, $6::integer,
            substring($4::bytea from u.to_email_at for u.to_email_length), substring($4::bytea from u.to_email_index_at for u.to_email_index_length),
            u.locale, u.idempotency_key, substring($4::bytea from u.payload_at for u.payload_length), u.credential_id, u.recipient_id,
            substring($4::bytea from u.content_at for u.content_length), substring($4::bytea from u.subject_at for u.subject_length), u.from_address
       from unnest($2::uuid[], $3::text[], $5::text[], $7::text[], $8::uuid[], $9::uuid[], $10::text[],
                   $11::int[], $12::int[], $13::int[], $14::int[], $15::int[], $16::int[], $17::int[], $18::int[], $19::int[], $20::int[])
            as u(id, kind, locale, idempotency_key, credential_id, recipient_id, from_address,
                 to_email_at, to_email_length, to_email_index_at, to_email_index_length, payload_at, payload_length,
                 content_at, content_length, subject_at, subject_length)
     ${options.skipExisting ? "on conflict (tenant_id, idempotency_key) do nothing" : ""}
     returning id`,
    [
      tenantId,
      ids,
      emails.map((e) => e.kind),
      packed.bytes,
      emails.map((e) => e.locale),
      keys.current,
      emails.map((e) => e.idempotencyKey),
      emails.map((e) => e.credentialId ?? null),
      emails.map((e) => e.recipientId ?? null),
      content.map((c) => c?.from ?? null),
      ...packed.columns.flatMap((c) => [c.starts, c.lengths]),
    ],
  );
  const written = new Set(inserted.rows.map((r) => r.id));
  return ids.map((id) => (written.has(id) ? id : null));
}

/**
 * Fixes the content of messages already in the outbox without one (queued before content was fixed at
 * enqueue, or when rendering failed then). Returns each one's content, or the Error that stopped it.
 */
export async function fixContent(settings: MailSettings, keys: TenantKeys, emails: QueuedEmail[]): Promise<Map<string, FixedContent | Error>> {
  const tenantId = keys.tenantId;
  const fixed = await composeAll(settings, keys, emails);
  const done = [...fixed].filter((f): f is [string, FixedContent] => !(f[1] instanceof Error));
  if (done.length) {
    await boundQuery(
      `update email_outbox o set content_sealed = u.content, subject_sealed = u.subject, from_address = u.from_address
         from unnest($2::uuid[], $3::bytea[], $4::bytea[], $5::text[]) as u(id, content, subject, from_address)
        where o.tenant_id = $1 and o.id = u.id and o.key_version is not null`,
      [
        tenantId,
        done.map(([id]) => id),
        done.map(([id, c]) => Buffer.from(sealField(keys, id, "content", JSON.stringify(c))!)),
        done.map(([id, c]) => Buffer.from(sealField(keys, id, "subject", c.subject)!)),
        done.map(([, c]) => c.from),
      ],
    );
  }
  return fixed;
}

/** Each message's content, rendered from what the database says now, or the Error that stopped it. */
async function composeAll(settings: MailSettings, keys: TenantKeys, emails: QueuedEmail[]): Promise<Map<string, FixedContent | Error>> {
  const tenantId = keys.tenantId;
  const fixed = new Map<string, FixedContent | Error>();
  if (!emails.length) return fixed;
  const credentialOf = (e: QueuedEmail) => e.credentialId ?? (typeof e.payload.credentialId === "string" ? e.payload.credentialId : null);
  const facts = await boundQuery<FactsRow>(
    `select u.id, cr.id as credential_id, cr.template_id, cr.valid_from as issued_at, cr.valid_until, tv.name as credential_name,
            r.id as r_id, r.key_version as r_key_version, r.name_sealed as r_name_sealed, r.legacy_name as r_legacy_name, r.is_child, r.birth_date::text as birth_date,
            -- The processing rule, inlined per row (no recipient: nobody's to protect).
            coalesce(processing_allowed('tracking', r.tracking_consent, r.restricted_at, r.objected_at, r.is_child, r.birth_date,
                                        r.guardian_consent_at, (select time_zone from tenants where id = $1), now()), true) as may_track
       from unnest($2::uuid[], $3::uuid[], $4::uuid[]) as u(id, credential_id, recipient_id)
       left join credentials cr on cr.tenant_id = $1 and cr.id = u.credential_id
       left join template_versions tv on tv.tenant_id = $1 and tv.template_id = cr.template_id and tv.version = cr.template_version
       left join recipients r on r.tenant_id = $1 and r.id = coalesce(u.recipient_id, cr.recipient_id)`,
    [tenantId, emails.map((e) => e.id), emails.map(credentialOf), emails.map((e) => e.recipientId ?? null)],
  );
  const tenant = (
    await boundQuery<TenantRow>(
      `select t.name as tenant_name, t.time_zone, p.name as issuer_name, s.from_name, s.from_address, s.reply_to,
              exists (select 1 from sender_domains d where d.tenant_id = t.id and d.status = 'verified'
                       and d.domain = split_part(s.from_address, '@', 2)) as from_verified
         from tenants t left join issuer_profiles p on p.tenant_id = t.id left join email_settings s on s.tenant_id = t.id
        where t.id = $1`,
      [tenantId],
    )
  ).rows[0]!;
  const templateIds = [...new Set(facts.rows.map((r) => r.template_id).filter((t): t is string => Boolean(t)))];
  const overrides = (
    await boundQuery<Override>(
      `select template_id, kind, locale, subject, html, text from email_templates
        where tenant_id = $1 and (template_id is null or template_id = any($2::uuid[]))`,
      [tenantId, templateIds],
    )
  ).rows;
  // The recipient's name is sealed (recipients/personal.ts places): opened here, for this message only.
  const byId = new Map(facts.rows.map((r) => [r.id, { ...r, recipient_name: recipientName(keys, r) }]));
  const now = Date.now();
  for (const email of emails) {
    try {
      fixed.set(email.id, compose(settings, tenantId, tenant, overrides, email, byId.get(email.id)!, now));
    } catch (error) {
      fixed.set(email.id, new Error(`Cannot render this message: ${(error as Error).message}`));
    }
  }
  return fixed;
}

function recipientName(keys: TenantKeys, row: FactsRow): string | null {
  if (!row.r_id) return null;
  if (row.r_key_version === null) return row.r_legacy_name;
  return keys.openOrNull({ table: "recipients", column: "name", rowId: row.r_id }, row.r_name_sealed);
}

/** "An access request" -> "an access request", for the middle of a sentence. */
const lowerFirst = (text: string) => text.charAt(0).toLowerCase() + text.slice(1);

function compose(settings: MailSettings, tenantId: string, tenant: TenantRow, overrides: Override[], email: QueuedEmail, facts: FactsRow, now: number): FixedContent {
  const payload = email.payload as Record<string, string | number | undefined>;
  const issuerName = tenant.issuer_name ?? tenant.tenant_name;
  const view: MergeValues = {
    recipient: { name: facts.recipient_name ?? payload.recipientName ?? "", email: email.toEmail },
    issuer: { name: issuerName },
    tenant: { name: payload.tenantName ?? tenant.tenant_name },
    credential: {
      name: facts.credential_name ?? payload.name ?? "",
      validUntil: emailDay(facts.valid_until, tenant.time_zone, email.locale),
      reason: payload.reason ?? "",
    },
    invitation: { role: payload.role ?? "" },
    reminder: { number: payload.reminderNumber ?? "" },
    links: { accept: payload.acceptUrl ?? "" },
    request: {
      title: payload.requestKind ? requestTitle(String(payload.requestKind), email.locale) : "",
      titleLower: payload.requestKind ? lowerFirst(requestTitle(String(payload.requestKind), email.locale)) : "",
      id: payload.requestId ?? "",
      receivedOn: payload.receivedOn ?? "",
      dueOn: payload.dueOn ?? "",
      action: payload.requestAction ?? "",
      done: payload.carriedOutAtOnce ? "yes" : "",
    },
    link: { expiresAt: payload.linkExpiresAt ?? "" },
    rectification: {
      changedName: payload.changedName ?? "",
      changedEmail: payload.changedEmail ?? "",
      credentials: Array.isArray(email.payload.credentials) ? (email.payload.credentials as Record<string, string>[]) : [],
    },
    guardian: { name: payload.guardianName ?? "" },
    consent: { wording: payload.wording ?? "", expiresOn: payload.expiresOn ?? "" },
  };
  let pixel = "";
  const credentialId = facts.credential_id;
  if (credentialId) {
    const credentialUrl = urls.credential(settings.publicUrl, tenantId, credentialId);
    // A stored message (the demo outbox) reaches nobody: an open or a click of it is no recipient's.
    // Whether the person may be tracked is the processing rule's (privacy/processing.ts, sql/037).
    const track = !settings.emailStoredOnly && facts.may_track;
    const ref = { tenantId, credentialId, messageId: email.id };
    const tracking = emailTracking(settings, ref, now);
    // A child's credential is never offered to social networks: no LinkedIn link ({{links.linkedin}} is empty).
    const child = isChildNow({ isChild: Boolean(facts.is_child), birthDate: facts.birth_date ? new Date(`${facts.birth_date}T00:00:00Z`) : null }, tenant.time_zone, new Date(now));
    const linkedin = child ? "" : linkedInUrl({
      name: String(view.credential!.name),
      organization: issuerName,
      issued: facts.issued_at ?? new Date(now),
      expires: facts.valid_until,
      timeZone: tenant.time_zone,
      certUrl: credentialUrl,
      certId: credentialId,
    });
    view.links = {
      ...view.links,
      claim: claimUrl(settings, ref, now),
      view: track ? tracking.link(credentialUrl, "view") : credentialUrl,
      linkedin: track && linkedin ? tracking.link(linkedin, "linkedin") : linkedin,
      // The badge image (links.badge): never tracked, and ?view=email keeps it out of the download counts.
      badge: `${credentialUrl}/badge.png?view=email`,
      // Never tracked: asking about one's data is nobody's engagement.
      privacy: `${settings.publicUrl}/privacy/ask/${tenantId}/${credentialId}`,
    };
    if (track) pixel = `<img src="${tracking.pixelUrl}" width="1" height="1" alt="" style="display:block;border:0">`;
  }
  const kind = email.kind as EmailKind;
  const content = pickContent(overrides, kind, facts.template_id, email.locale);
  if (!content) throw new Error(`no content for messages of kind ${email.kind}`);
  const rendered = render(content, view);
  const html = pixel ? rendered.html.replace(/<\/body>/i, `${pixel}</body>`) : rendered.html;
  return {
    from: fromHeader(settings.emailFrom, tenant),
    replyTo: tenant.reply_to,
    subject: rendered.subject,
    html: html.includes(pixel) ? html : html + pixel,
    text: rendered.text,
    tags: [{ name: "kind", value: email.kind }],
  };
}

/** The tenant's own content for this template, then its default, in the best language; else ours. */
function pickContent(overrides: Override[], kind: EmailKind, templateId: string | null, locale: string): Content | undefined {
  const chain = localeChain(locale);
  for (const scope of [templateId, null]) {
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
