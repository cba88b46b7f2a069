// Two tenants with a row in every table, written as the superuser: for tests that read the catalog and
// then act as one role or another against real rows of both tenants.
import { randomBytes } from "node:crypto";
import { hash } from "@node-rs/argon2";
import type postgres from "postgres";

export interface SeededTenant {
  tenantId: string;
  userId: string;
  email: string;
  password: string;
  credentialId: string;
  recipientId: string;
  /** A message Resend sent (provider 'resend'), named by Resend's id. */
  messageId: string;
  providerMessageId: string;
  /** A message of the demo outbox (provider 'log'). */
  logMessageId: string;
  logProviderMessageId: string;
  invitationId: string;
  invitationSecretHash: Buffer;
  domain: string;
}

const hex = (n: number) => randomBytes(n).toString("hex");

// Rows are written as the superuser, without the app's vault: personal fields go in as legacy plain
// text (the shape of rows from before sql/044-048, which every reader still accepts).
export async function seedTenant(admin: postgres.Sql, label: string): Promise<SeededTenant> {
  const email = `${label}-${hex(3)}@example.test`;
  const password = `password of ${label} ${hex(4)}`;
  const phc = await hash(password, { algorithm: 2 });
  const [t] = await admin`select user_id, tenant_id from sign_up(${email}, ${`Owner ${label}`}, ${phc}, ${`Org ${label}`}, ${`org-${label}-${hex(3)}`})`;
  const tenantId = t!.tenant_id as string;
  const userId = t!.user_id as string;
  await admin`insert into api_keys (tenant_id, name, prefix, secret_hash, scopes) values (${tenantId}, 'key', 'lrk_x', ${randomBytes(32)}, '{read}')`;
  await admin`insert into sessions (user_id, active_tenant_id, secret_hash, expires_at) values (${userId}, ${tenantId}, ${randomBytes(32)}, now() + interval '1 day')`;
  await admin`insert into password_resets (id, user_id, secret_hash, expires_at) values (gen_random_uuid(), ${userId}, ${randomBytes(32)}, now() + interval '1 hour')`;
  const invitationSecretHash = randomBytes(32);
  const [inv] = await admin`
    insert into invitations (tenant_id, legacy_email, role, secret_hash, expires_at)
    values (${tenantId}, ${`invitee-${hex(3)}@${label}.test`}, 'viewer', ${invitationSecretHash}, now() + interval '1 day') returning id`;
  await admin`insert into issuer_profiles (tenant_id, name) values (${tenantId}, ${`Issuer ${label}`})`;
  await admin`insert into signing_keys (tenant_id, key_number, public_key_multibase, sealed_secret_key, kek_version) values (${tenantId}, 1, 'z6Mk', '\\x00', 1)`;
  const [template] = await admin`insert into templates (tenant_id, kind, status) values (${tenantId}, 'BADGE', 'ACTIVE') returning id`;
  await admin`insert into template_versions (tenant_id, template_id, version, name, description, criteria_narrative)
              values (${tenantId}, ${template!.id}, 1, 'Badge', 'A badge', 'Do it')`;
  const [recipient] = await admin`insert into recipients (tenant_id, legacy_email, legacy_name, legacy_attributes) values (${tenantId}, ${`holder@${label}.test`}, 'Holder', '{}') returning id`;
  await admin`insert into data_subject_requests (tenant_id, kind, recipient_id, filed_by, identity_method, deadline_at)
              values (${tenantId}, 'access', ${recipient!.id}, 'data_subject', 'email_link', now() + interval '1 month')`;
  const [revocation] = await admin`insert into status_lists (tenant_id, purpose, next_index) values (${tenantId}, 'revocation', 2) returning id`;
  const [suspension] = await admin`insert into status_lists (tenant_id, purpose, next_index) values (${tenantId}, 'suspension', 1) returning id`;
  const [credential] = await admin`
    insert into credentials (tenant_id, template_id, template_version, recipient_id, status_list_id, status_index, suspension_list_id,
                             suspension_index, valid_from, legacy_document, status)
    values (${tenantId}, ${template!.id}, 1, ${recipient!.id}, ${revocation!.id}, 0, ${suspension!.id}, 0, now(), '{"id": "x"}', 'REVOKED')
    returning id`;
  // A correction of the holder's name (sql/036) superseded an earlier document, whose entry is index 1.
  const [fix] = await admin`insert into recipient_rectifications (tenant_id, recipient_id, changed, legacy_old_name, legacy_new_name, actor_kind)
              values (${tenantId}, ${recipient!.id}, '{name}', 'Older Holder', 'Holder', 'system') returning id`;
  await admin`insert into credential_documents (tenant_id, credential_id, legacy_document, status_list_id, status_index, signed_at, superseded_reason, rectification_id)
              values (${tenantId}, ${credential!.id}, '{"id": "x"}', ${revocation!.id}, 1, now() - interval '1 day', 'Superseded', ${fix!.id})`;
  await admin`insert into images (tenant_id, content_type, bytes, sha256) values (${tenantId}, 'image/png', '\\x89', ${"0".repeat(64)})`;
  const domain = `${label}-${hex(3)}.example`;
  await admin`insert into sender_domains (tenant_id, domain, status, verified_at) values (${tenantId}, ${domain}, 'verified', now())`;
  await admin`insert into email_settings (tenant_id, from_name) values (${tenantId}, ${label})`;
  await admin`insert into email_templates (tenant_id, kind, locale, subject, html, text) values (${tenantId}, 'credential_issued', 'en', 's', 'h', 't')`;
  const providerMessageId = `re_${hex(8)}`;
  const [message] = await admin`
    insert into email_outbox (tenant_id, kind, legacy_to_email, idempotency_key, credential_id, recipient_id, provider, provider_message_id, status)
    values (${tenantId}, 'credential_issued', ${`holder@${label}.test`}, ${`m-${hex(4)}`}, ${credential!.id}, ${recipient!.id}, 'resend',
            ${providerMessageId}, 'sent') returning id`;
  const logProviderMessageId = `log_${hex(8)}`;
  const [logMessage] = await admin`
    insert into email_outbox (tenant_id, kind, legacy_to_email, idempotency_key, provider, provider_message_id, status)
    values (${tenantId}, 'credential_issued', ${`other@${label}.test`}, ${`m-${hex(4)}`}, 'log', ${logProviderMessageId}, 'sent') returning id`;
  const [endpoint] = await admin`insert into webhook_endpoints (tenant_id, url, event_types, secret_sealed, secret_kek_version)
                                 values (${tenantId}, 'https://partner.example/hook', '{credential.delivered}', '\\x00', 1) returning id`;
  const [delivery] = await admin`insert into webhook_deliveries (tenant_id, endpoint_id, event_type, payload)
                                 values (${tenantId}, ${endpoint!.id}, 'credential.delivered', '{}') returning id`;
  await admin`insert into webhook_attempts (tenant_id, delivery_id, attempt, status_code, duration_ms) values (${tenantId}, ${delivery!.id}, 1, 500, 3)`;
  await admin`insert into engagement_events (tenant_id, occurred_at, type, credential_id, channel, ua_class)
              values (${tenantId}, now(), 'page_viewed', ${credential!.id}, 'web', 'desktop')`;
  await admin`insert into engagement_expired_counts (tenant_id, credential_id, type, machine, events) values (${tenantId}, ${credential!.id}, 'page_viewed', false, 2)`;
  const [job] = await admin`insert into bulk_jobs (tenant_id, template_id, source, total_rows, created_by_kind)
                            values (${tenantId}, ${template!.id}, 'ROWS', 1, 'system') returning id`;
  await admin`insert into bulk_job_rows (tenant_id, job_id, row_number, legacy_input) values (${tenantId}, ${job!.id}, 1, '{}')`;
  await admin`insert into email_provider_events (event_id, provider_message_id, event_type) values (${`evt_${hex(6)}`}, ${providerMessageId}, 'email.sent')`;
  await admin`insert into tenant_data_keys (tenant_id, purpose, version, wrapped, kek_version) values (${tenantId}, 'data', 1, '\\x00', 1)`;
  await admin`insert into data_key_rotations (tenant_id, from_version, to_version, reason, state, finished_at)
              values (${tenantId}, 1, 2, 'scheduled', 'completed', now())`;
  return {
    tenantId,
    userId,
    email,
    password,
    credentialId: credential!.id,
    recipientId: recipient!.id,
    messageId: message!.id,
    providerMessageId,
    logMessageId: logMessage!.id,
    logProviderMessageId,
    invitationId: inv!.id,
    invitationSecretHash,
    domain,
  };
}
