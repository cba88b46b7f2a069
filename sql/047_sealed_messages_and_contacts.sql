-- Issue 13 part 1, continued from sql/044: the addresses and bodies of emails, invitations, guardians'
-- names and addresses, privacy links, data subject requests and rectification history are sealed
-- under the tenant's data keys (src/modules/vault), each row's fields with its identity as AAD, so a
-- dump shows none of them. Equality lookups go through blind indexes (HMAC under the tenant's index
-- key): outbox messages by address (erasure), open invitations by address (one per address), requests
-- by the subject's address. The database no longer knows the values, so erasure is told its needles by
-- the app (erase_recipient below). Old plain columns are kept as legacy_* until vault/legacy.ts seals them.

-- ---------------------------------------------------------------------------------------------
-- email_outbox. The payload and fixed content may hold a secret (an invitation's token): runtime roles
-- may write them but never read them, as before; claim_email_messages() hands them to the worker.
alter table email_outbox rename column to_email to legacy_to_email;
alter table email_outbox rename column payload to legacy_payload;
alter table email_outbox rename column subject to legacy_subject;
alter table email_outbox rename column html to legacy_html;
alter table email_outbox rename column text_body to legacy_text_body;
alter table email_outbox rename column content to legacy_content;
alter table email_outbox rename column last_error to legacy_last_error;
alter table email_outbox alter column legacy_to_email drop not null;
alter table email_outbox alter column legacy_payload drop not null;
alter table email_outbox alter column legacy_payload drop default;
alter table email_outbox
  add column key_version integer,
  add column to_email_sealed bytea,
  add column to_email_index bytea,
  add column payload_sealed bytea,
  add column subject_sealed bytea,
  add column html_sealed bytea,
  add column text_body_sealed bytea,
  add column content_sealed bytea,
  add column last_error_sealed bytea,
  add constraint email_outbox_sealed_or_legacy check (
    (key_version is not null and to_email_sealed is not null and to_email_index is not null)
    or (key_version is null and legacy_to_email is not null));
comment on column email_outbox.to_email_index is 'Blind index of the normalised address: erasure finds a person''s messages by it.';
create index email_outbox_to_email_index on email_outbox (tenant_id, to_email_index) where to_email_index is not null;
grant select (key_version, to_email_sealed, to_email_index, subject_sealed, html_sealed, text_body_sealed, last_error_sealed),
      insert (key_version, to_email_sealed, to_email_index, payload_sealed, content_sealed, subject_sealed),
      update (key_version, subject_sealed, html_sealed, text_body_sealed, content_sealed, last_error_sealed,
              legacy_subject, legacy_html, legacy_text_body, legacy_last_error, legacy_content)
  on email_outbox to :"member";
-- Data-key rotation and the legacy pass (src/modules/vault) re-seal every sealed field as the tenant,
-- the payload and content included: ciphertext only (they open with the deployment's keys, which the
-- runtime holds anyway), and Prisma never selects them (src/db/secrets.ts).
grant select (payload_sealed, content_sealed, legacy_to_email, legacy_payload, legacy_content, legacy_subject, legacy_html,
              legacy_text_body, legacy_last_error),
      update (to_email_sealed, to_email_index, payload_sealed, legacy_to_email, legacy_payload)
  on email_outbox to :"member";
-- Runtime roles write new rows sealed only.
revoke insert (legacy_to_email, legacy_payload, legacy_content, legacy_subject) on email_outbox from :"member";
-- sql/021 granted the gatekeeper the address with the sender; no definer function reads it (the
-- analytics triggers read the sender's domain and the transition tables only), so it goes.
revoke select (legacy_to_email) on email_outbox from :"gatekeeper";

drop function claim_email_messages(uuid[]);
create function claim_email_messages(p_ids uuid[])
  returns table (id uuid, kind text, key_version integer, to_email_sealed bytea, payload_sealed bytea, content_sealed bytea,
                 legacy_to_email text, legacy_payload jsonb, legacy_content jsonb, locale text, credential_id uuid,
                 recipient_id uuid, created_at timestamptz, request_key text)
  language sql volatile security definer set search_path = pg_catalog, pg_temp
  as $$
    update public.email_outbox o set status = 'sending', attempts = o.attempts + 1
     where o.tenant_id = public.current_tenant_id() and o.id = any(p_ids) and o.status in ('queued', 'sending')
    returning o.id, o.kind, o.key_version, o.to_email_sealed, o.payload_sealed, o.content_sealed,
              o.legacy_to_email, o.legacy_payload, o.legacy_content, o.locale,
              coalesce(o.credential_id, (o.legacy_payload ->> 'credentialId')::uuid), o.recipient_id, o.created_at, o.request_key
  $$;
comment on function claim_email_messages(uuid[]) is
  'Marks the current tenant''s queued messages as sending and hands the worker their sealed payloads and fixed content; nothing of another tenant matches.';
revoke execute on function claim_email_messages(uuid[]) from public;
grant execute on function claim_email_messages(uuid[]) to :"member";

-- A sent message's payload and fixed content are not needed again and may hold a secret: both go (the
-- database cannot take the token out of a sealed payload, so the whole payload goes).
create or replace function forget_sent_secrets(p_ids uuid[])
  returns void
  language sql volatile security definer set search_path = pg_catalog, pg_temp
  as $$
    update public.email_outbox o
       set legacy_payload = case when o.legacy_payload is null then null else o.legacy_payload - 'token' - 'acceptUrl' end,
           legacy_content = null, payload_sealed = null, content_sealed = null
     where o.tenant_id = public.current_tenant_id() and o.id = any(p_ids) and o.status not in ('queued', 'sending', 'failed')
       and (o.legacy_payload ?| array['token', 'acceptUrl'] or o.legacy_content is not null
            or o.payload_sealed is not null or o.content_sealed is not null)
  $$;
comment on function forget_sent_secrets(uuid[]) is
  'Drops a sent message''s payload (an invitation''s token) and fixed content: the outbox keeps no usable secret.';

-- ---------------------------------------------------------------------------------------------
-- invitations. Staff see the address sealed under the tenant's keys; the invitee, who holds the
-- invitation's secret but no tenant keys, gets it sealed under a key derived from that secret
-- (invitee_email_sealed), and accept_invitation() checks the address it is given against a hash bound
-- to the secret (email_check = sha256('laurel invitation email' || 0 || secret || email)).
drop index invitations_open_email;
alter table invitations drop constraint invitations_email_check;
alter table invitations rename column email to legacy_email;
alter table invitations alter column legacy_email drop not null;
alter table invitations
  add column key_version integer,
  add column email_sealed bytea,
  add column email_index bytea,
  add column invitee_email_sealed bytea,
  add column email_check bytea,
  add constraint invitations_sealed_or_legacy check (
    (key_version is not null and email_sealed is not null and email_index is not null
     and invitee_email_sealed is not null and email_check is not null)
    or (key_version is null and legacy_email is not null));
-- One open invitation per address and tenant.
create unique index invitations_open_email_index on invitations (tenant_id, email_index)
  where accepted_at is null and revoked_at is null and email_index is not null;
create unique index invitations_open_legacy_email on invitations (tenant_id, legacy_email)
  where accepted_at is null and revoked_at is null and legacy_email is not null;
grant select (key_version, email_sealed, email_index),
      insert (key_version, email_sealed, email_index, invitee_email_sealed, email_check),
      update (key_version, email_sealed, email_index, legacy_email)
  on invitations to :"member";
revoke insert (legacy_email) on invitations from :"member";
grant select (key_version, invitee_email_sealed, email_check) on invitations to :"gatekeeper";

set local role :"gatekeeper";
create function invitation_invitee_email(p_tenant_id uuid, p_invitation_id uuid, p_secret_hash bytea)
  returns bytea
  language sql stable security definer set search_path = pg_catalog, pg_temp
  as $fn$
    select i.invitee_email_sealed from public.invitations i
     where i.tenant_id = p_tenant_id and i.id = p_invitation_id and i.secret_hash = p_secret_hash
       and i.accepted_at is null and i.revoked_at is null and i.expires_at > now()
  $fn$;
comment on function invitation_invitee_email(uuid, uuid, bytea) is
  'Hands the holder of an open invitation''s secret its address, sealed under a key only that secret derives; null for anything else.';
revoke execute on function invitation_invitee_email(uuid, uuid, bytea) from public;
grant execute on function invitation_invitee_email(uuid, uuid, bytea) to :"anonymous", :"member";

drop function accept_invitation(uuid, uuid, bytea, text, text, uuid, bytea, timestamptz, text);
create function accept_invitation(p_tenant_id uuid, p_invitation_id uuid, p_secret bytea, p_email text, p_name text, p_password_hash text,
                                  p_session_id uuid default null, p_session_secret_hash bytea default null,
                                  p_session_expires_at timestamptz default null, p_user_agent text default null)
  returns table (user_id uuid, tenant_id uuid, membership_id uuid, role public.member_role, session_opened boolean)
  language plpgsql security definer set search_path = pg_catalog, pg_temp
  as $fn$
  declare
    v_inv record;
    v_user uuid := public.current_app_user_id();
    v_created boolean := false;
    v_email text;
    v_membership uuid;
  begin
    select i.tenant_id, i.id, i.legacy_email, i.key_version, i.email_check, i.role into v_inv from public.invitations i
     where i.tenant_id = p_tenant_id and i.id = p_invitation_id and i.secret_hash = sha256(p_secret)
       and i.accepted_at is null and i.revoked_at is null and i.expires_at > now()
     for update;
    if not found then
      raise exception 'invitation is invalid, used, revoked or expired' using errcode = 'LRINV';
    end if;
    -- The address must be the one the invitation was sent to: bound to the secret, which only its holder has.
    if v_inv.key_version is null then
      if p_email is distinct from v_inv.legacy_email then
        raise exception 'invitation is invalid, used, revoked or expired' using errcode = 'LRINV';
      end if;
    elsif p_email is null
          or sha256(convert_to('laurel invitation email', 'UTF8') || '\x00'::bytea || p_secret || convert_to(p_email, 'UTF8')) <> v_inv.email_check then
      raise exception 'invitation is invalid, used, revoked or expired' using errcode = 'LRINV';
    end if;
    if v_user is null then
      if exists (select 1 from public.users u where u.email = p_email) then
        raise exception 'an account exists for this email: sign in, then accept' using errcode = 'LRLGN';
      end if;
      if p_password_hash is null or p_name is null then
        raise exception 'a name and password are needed to create the account' using errcode = 'LRPWD';
      end if;
      insert into public.users (email, name) values (p_email, p_name) returning id into v_user;
      insert into public.user_passwords (user_id, hash) values (v_user, p_password_hash);
      v_created := true;
    else
      select u.email into v_email from public.users u where u.id = v_user;
      if v_email is distinct from p_email then
        raise exception 'this invitation was sent to another email address' using errcode = 'LREML';
      end if;
    end if;
    insert into public.memberships (tenant_id, user_id, role) values (v_inv.tenant_id, v_user, v_inv.role)
    on conflict on constraint memberships_tenant_id_user_id_key do nothing
    returning id into v_membership;
    if v_membership is null then
      raise exception 'already a member of this tenant' using errcode = 'LRMBR';
    end if;
    update public.invitations i set accepted_at = now(), accepted_by_user_id = v_user
     where i.tenant_id = v_inv.tenant_id and i.id = v_inv.id;
    insert into public.audit_log (tenant_id, actor_kind, actor_id, action, target_type, target_id, details)
    values (v_inv.tenant_id, 'user', v_user, 'member.joined', 'Membership', v_membership::text,
            jsonb_build_object('invitationId', v_inv.id, 'role', v_inv.role));
    if v_created and p_session_id is not null then
      perform public.start_session(v_user, v_inv.tenant_id, p_session_id, p_session_secret_hash, p_session_expires_at, p_user_agent);
    end if;
    return query select v_user, v_inv.tenant_id, v_membership, v_inv.role, v_created and p_session_id is not null;
  end $fn$;
comment on function accept_invitation(uuid, uuid, bytea, text, text, text, uuid, bytea, timestamptz, text) is
  'Turns an invitation (its secret, and the address sealed for its holder) into a membership: for the signed-in user with that address, or a new account for it, which may get its first session here.';
revoke execute on function accept_invitation(uuid, uuid, bytea, text, text, text, uuid, bytea, timestamptz, text) from public;
grant execute on function accept_invitation(uuid, uuid, bytea, text, text, text, uuid, bytea, timestamptz, text) to :"anonymous", :"member";
set local role :"owner";

-- ---------------------------------------------------------------------------------------------
-- guardian_consents, privacy_links, data_subject_requests, recipient_rectifications.
alter table guardian_consents drop constraint guardian_consents_guardian_email_check;
alter table guardian_consents drop constraint guardian_consents_guardian_name_check;
alter table guardian_consents rename column guardian_email to legacy_guardian_email;
alter table guardian_consents rename column guardian_name to legacy_guardian_name;
alter table guardian_consents
  add column key_version integer,
  add column guardian_email_sealed bytea,
  add column guardian_name_sealed bytea,
  add constraint guardian_consents_sealed_or_legacy check (
    key_version is not null or (guardian_email_sealed is null and guardian_name_sealed is null));
grant insert (key_version, guardian_email_sealed, guardian_name_sealed),
      update (key_version, guardian_email_sealed, guardian_name_sealed, legacy_guardian_email, legacy_guardian_name)
  on guardian_consents to :"member";
revoke insert (legacy_guardian_email, legacy_guardian_name) on guardian_consents from :"member";

alter table privacy_links drop constraint privacy_links_sent_to_check;
alter table privacy_links rename column sent_to to legacy_sent_to;
alter table privacy_links alter column legacy_sent_to drop not null;
-- The payload too: a self-service correction carries the person's new name and address.
alter table privacy_links rename column payload to legacy_payload;
alter table privacy_links alter column legacy_payload drop not null;
alter table privacy_links alter column legacy_payload drop default;
alter table privacy_links
  add column key_version integer,
  add column sent_to_sealed bytea,
  add column payload_sealed bytea,
  add constraint privacy_links_sealed_or_legacy check (
    (key_version is not null and sent_to_sealed is not null) or (key_version is null and legacy_sent_to is not null));
revoke insert (legacy_payload) on privacy_links from :"member";
grant insert (key_version, sent_to_sealed, payload_sealed), update (key_version, sent_to_sealed, payload_sealed, legacy_sent_to, legacy_payload)
  on privacy_links to :"member";
revoke insert (legacy_sent_to) on privacy_links from :"member";

alter table data_subject_requests drop constraint data_subject_requests_subject_email_check;
alter table data_subject_requests drop constraint data_subject_requests_check;
alter table data_subject_requests rename column subject_email to legacy_subject_email;
alter table data_subject_requests rename column requested_changes to legacy_requested_changes;
alter table data_subject_requests
  add column key_version integer,
  add column subject_email_sealed bytea,
  add column subject_email_index bytea,
  add column requested_changes_sealed bytea,
  add constraint data_subject_requests_names_someone check (
    recipient_id is not null or legacy_subject_email is not null or subject_email_index is not null),
  add constraint data_subject_requests_sealed_or_legacy check (
    key_version is not null or (subject_email_sealed is null and requested_changes_sealed is null));
create index data_subject_requests_subject_email_index on data_subject_requests (tenant_id, subject_email_index)
  where subject_email_index is not null;
grant insert (key_version, subject_email_sealed, subject_email_index, requested_changes_sealed),
      update (key_version, subject_email_sealed, subject_email_index, requested_changes_sealed,
              legacy_subject_email, legacy_requested_changes)
  on data_subject_requests to :"member";
revoke insert (legacy_subject_email, legacy_requested_changes) on data_subject_requests from :"member";

alter table recipient_rectifications drop constraint recipient_rectifications_old_name_check;
alter table recipient_rectifications drop constraint recipient_rectifications_new_name_check;
alter table recipient_rectifications drop constraint recipient_rectifications_old_email_check;
alter table recipient_rectifications drop constraint recipient_rectifications_new_email_check;
alter table recipient_rectifications rename column old_name to legacy_old_name;
alter table recipient_rectifications rename column new_name to legacy_new_name;
alter table recipient_rectifications rename column old_email to legacy_old_email;
alter table recipient_rectifications rename column new_email to legacy_new_email;
alter table recipient_rectifications
  add column key_version integer,
  add column old_name_sealed bytea,
  add column new_name_sealed bytea,
  add column old_email_sealed bytea,
  add column new_email_sealed bytea,
  add column old_email_index bytea,
  add column new_email_index bytea;
grant insert (key_version, old_name_sealed, new_name_sealed, old_email_sealed, new_email_sealed, old_email_index, new_email_index),
      update (key_version, old_name_sealed, new_name_sealed, old_email_sealed, new_email_sealed,
              legacy_old_name, legacy_new_name, legacy_old_email, legacy_new_email)
  on recipient_rectifications to :"member";
revoke insert (legacy_old_name, legacy_new_name, legacy_old_email, legacy_new_email) on recipient_rectifications from :"member";

-- ---------------------------------------------------------------------------------------------
-- Erasure: the database cannot read a sealed name or address, so the app opens them and passes what
-- could name the person (needles) and the blind indexes of every address they were known by.
drop function erase_recipient(uuid);
create function erase_recipient(p_recipient_id uuid, p_needles text[], p_email_indexes bytea[])
  returns jsonb
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
  as $$
  declare
    tenant uuid := public.current_tenant_id();
    person record;
    needles text[];
    pattern text;
    credential_ids uuid[];
    message_ids uuid[];
    delivery_ids uuid[];
    counts jsonb := '{}';
    n integer;
  begin
    if tenant is null then
      raise exception 'erasure needs a tenant' using errcode = '42501';
    end if;
    select r.id, r.erased_at into person
      from public.recipients r where r.tenant_id = tenant and r.id = p_recipient_id for update;
    if person.id is null then
      raise exception 'no such recipient' using errcode = 'P0002';
    end if;
    if person.erased_at is not null then
      raise exception 'already erased' using errcode = '55000', hint = 'already_erased';
    end if;
    -- What could name them in free text or JSON, as the app opened it (the database holds it sealed):
    -- the address, its local part, the name, the external id, and earlier names and addresses (036).
    needles := array(select x from unnest(coalesce(p_needles, '{}')) x where x is not null);
    pattern := '(' || array_to_string(array(select regexp_replace(x, '([!$()*+.:<=>?[\\\]^{|}-])', '\\\1', 'g')
                                              from unnest(needles) x where length(x) >= 3), '|') || ')';
    if pattern = '()' then
      pattern := '(?!)';
    end if;

    select coalesce(array_agg(c.id), '{}') into credential_ids
      from public.credentials c where c.tenant_id = tenant and c.recipient_id = person.id;
    select coalesce(array_agg(o.id), '{}') into message_ids
      from public.email_outbox o
     where o.tenant_id = tenant and (o.recipient_id = person.id or o.credential_id = any (credential_ids) or o.to_email_index = any (coalesce(p_email_indexes, '{}'))
                                  or o.legacy_to_email = any (needles));

    -- The person: a placeholder address keeps the row (credentials and requests point at it) unique.
    update public.recipients
       set legacy_email = 'erased-' || id::text || '@erased.invalid', legacy_name = null, legacy_attributes = '{}',
           key_version = null, email_sealed = null, email_index = null, name_sealed = null, name_words = '{}',
           attributes_sealed = null, external_id = null, erased_at = now()
     where tenant_id = tenant and id = person.id;

    -- Their credentials: the signed document (name, identity hash of the address) and merge values go;
    -- status, status-list index and dates stay, so the revoked bit stays published and counts hold.
    update public.credentials
       set document = '{}', field_values = '{}', evidence = '[]', idempotency_key = null, erased_at = now()
     where tenant_id = tenant and id = any (credential_ids);
    get diagnostics n = row_count;
    counts := counts || jsonb_build_object('credentials', n);

    -- Every document a credential had before a rectification named them as well (036).
    update public.credential_documents
       set document = '{}'::json
     where tenant_id = tenant and credential_id = any (credential_ids);
    get diagnostics n = row_count;
    counts := counts || jsonb_build_object('supersededDocuments', n);

    -- The history of their name and address keeps that a correction happened, and of what, not the values.
    update public.recipient_rectifications
       set legacy_old_name = null, legacy_new_name = null, legacy_old_email = null, legacy_new_email = null,
           old_name_sealed = null, new_name_sealed = null, old_email_sealed = null, new_email_sealed = null,
           old_email_index = null, new_email_index = null
     where tenant_id = tenant and recipient_id = person.id;
    get diagnostics n = row_count;
    counts := counts || jsonb_build_object('rectifications', n);

    -- Emails to them: address, subject, bodies, merge payload. Status and sender stay for delivery counts.
    update public.email_outbox
       set legacy_to_email = 'erased@erased.invalid', legacy_payload = '{}', legacy_subject = null, legacy_html = null,
           legacy_text_body = null, legacy_content = null, legacy_last_error = null, key_version = null, to_email_sealed = null,
           to_email_index = null, payload_sealed = null, subject_sealed = null, html_sealed = null, text_body_sealed = null,
           content_sealed = null, last_error_sealed = null, status_detail = null, idempotency_key = 'erased:' || id::text, request_key = null
     where tenant_id = tenant and id = any (message_ids);
    get diagnostics n = row_count;
    counts := counts || jsonb_build_object('emails', n);

    -- Engagement stays counted (the rollups already hold it) but no longer says whose, or from where.
    update public.engagement_events
       set recipient_id = null, credential_id = null, message_id = null, ip_hash = null
     where tenant_id = tenant
       and (recipient_id = person.id or credential_id = any (credential_ids) or message_id = any (message_ids));
    get diagnostics n = row_count;
    counts := counts || jsonb_build_object('engagementEvents', n);

    -- Partner events about them that have left or given up; pending ones (the revocation) still go.
    select coalesce(array_agg(d.id), '{}') into delivery_ids
      from public.webhook_deliveries d
     where d.tenant_id = tenant
       and (d.payload::text ~* pattern or d.payload #>> '{data,credentialId}' = any (credential_ids::text[])
            or d.payload #>> '{data,recipientId}' = person.id::text);
    update public.webhook_deliveries
       set payload = jsonb_build_object('type', payload -> 'type', 'erased', true), last_error = null
     where tenant_id = tenant and id = any (delivery_ids) and (status <> 'pending' or payload::text ~* pattern);
    update public.webhook_attempts set response_excerpt = null, error = null
     where tenant_id = tenant and delivery_id = any (delivery_ids);

    update public.bulk_job_rows
       set input = '{}', errors = '[]'
     where tenant_id = tenant and (credential_id = any (credential_ids) or input::text ~* pattern or errors::text ~* pattern);

    -- Audit entries keep who did what and when; details that name the person go.
    update public.audit_log
       set details = jsonb_build_object('redacted', 'erasure')
     where tenant_id = tenant and details::text ~* pattern;

    update public.data_subject_requests
       set legacy_subject_email = null, legacy_requested_changes = null, subject_email_sealed = null, subject_email_index = null,
           requested_changes_sealed = null
     where tenant_id = tenant and recipient_id = person.id
       and (legacy_subject_email is not null or legacy_requested_changes is not null or subject_email_sealed is not null
            or requested_changes_sealed is not null);
    update public.data_subject_requests
       set identity_note = public.erasure_redact(identity_note, needles), outcome = public.erasure_redact(outcome, needles)
     where tenant_id = tenant and (identity_note ~* pattern or outcome ~* pattern);

    -- The queue: waiting jobs of this tenant that name them are dropped; errors that name them go.
    delete from graphile_worker._private_jobs j
     where j.payload::jsonb ->> 'tenantId' = tenant::text and j.locked_at is null and j.payload::text ~* pattern;
    update graphile_worker._private_jobs j set last_error = public.erasure_redact(j.last_error, needles)
     where j.payload::jsonb ->> 'tenantId' = tenant::text and j.last_error ~* pattern;

    return counts;
  end
  $$;
comment on function erase_recipient(uuid, text[], bytea[]) is
  'GDPR Art. 17: blanks one recipient of the current tenant everywhere (row, documents and superseded documents, name and address history, emails, events, partner payloads, bulk rows, audit details, queue), by the needles and address indexes the app opened; refuses a second time.';
revoke execute on function erase_recipient(uuid, text[], bytea[]) from public;
grant execute on function erase_recipient(uuid, text[], bytea[]) to :"member";

create or replace function erase_guardians(p_recipient_id uuid)
  returns integer
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
  as $$
  declare
    tenant uuid := public.current_tenant_id();
    n integer;
  begin
    if tenant is null then
      raise exception 'erasure needs a tenant' using errcode = '42501';
    end if;
    update public.guardian_consents
       set legacy_guardian_email = null, legacy_guardian_name = null, guardian_email_sealed = null, guardian_name_sealed = null
     where tenant_id = tenant and recipient_id = p_recipient_id;
    get diagnostics n = row_count;
    update public.recipients set birth_date = null where tenant_id = tenant and id = p_recipient_id;
    return n;
  end
  $$;
comment on function erase_guardians(uuid) is
  'GDPR Art. 17 for a child: blanks their guardians'' names and addresses and their birth date, in the current tenant only (members may not rewrite a consent record).';

-- Retention (sql/045) nulls the bodies of finished messages: now their sealed and legacy columns.
create or replace function blank_email_bodies(p_before timestamptz, p_batch integer) returns integer
  language sql volatile security definer set search_path = pg_catalog, pg_temp
  as $$
    with due as (
      select o.tenant_id, o.id from public.email_outbox o
       where o.tenant_id = public.current_tenant_id()
         and o.status in ('sent', 'delivered', 'bounced', 'complained', 'failed', 'stored')
         and coalesce(o.delivered_at, o.bounced_at, o.complained_at, o.sent_at, o.updated_at) < p_before
         and (o.subject_sealed is not null or o.html_sealed is not null or o.text_body_sealed is not null or o.content_sealed is not null
              or o.legacy_subject is not null or o.legacy_html is not null or o.legacy_text_body is not null or o.legacy_content is not null)
       limit p_batch
       for update skip locked),
    blanked as (
      update public.email_outbox o
         set subject_sealed = null, html_sealed = null, text_body_sealed = null, content_sealed = null,
             legacy_subject = null, legacy_html = null, legacy_text_body = null, legacy_content = null
        from due where o.tenant_id = due.tenant_id and o.id = due.id
      returning 1)
    select count(*)::integer from blanked
  $$;

-- A retried send job puts its failed messages back in line: their sealed (and legacy) error goes.
create or replace function retry_tenant_job(p_job_id bigint)
  returns boolean
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
  as $$
  declare
    job_payload jsonb;
    job_task text;
  begin
    update graphile_worker._private_jobs j
       set attempts = 0, run_at = now(), last_error = null
      from graphile_worker._private_tasks t
     where j.id = p_job_id and t.id = j.task_id and j.locked_at is null
       and (j.payload::jsonb ->> 'tenantId') = public.current_tenant_id()::text
    returning j.payload::jsonb, t.identifier into job_payload, job_task;
    if job_payload is null then
      return false;
    end if;
    -- Messages given up with the job go back in line with it.
    if job_task = 'send_emails' then
      update public.email_outbox o set status = 'queued', last_error_sealed = null, legacy_last_error = null
       where o.tenant_id = public.current_tenant_id() and o.status = 'failed'
         and o.id in (select (jsonb_array_elements_text(job_payload -> 'messageIds'))::uuid);
    end if;
    return true;
  end
  $$;
