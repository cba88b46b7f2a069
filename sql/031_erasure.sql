-- Erasure (GDPR Art. 17): a recipient's personal data leaves every table, what the tenant must keep
-- stays without naming them (analytics counts, revoked status bits, an audit entry that an erasure
-- happened). The runtime role may not rewrite documents, outbox contents, events, audit details or
-- the queue, so one owner function does it, within the transaction's tenant only.

alter table recipients add column erased_at timestamptz;
comment on column recipients.erased_at is 'When the person was erased (GDPR Art. 17); their row keeps no personal data from then on.';
alter table credentials add column erased_at timestamptz;
comment on column credentials.erased_at is 'When its holder was erased: the document is gone and its public pages answer 410.';
-- The public read below says whether a credential was erased.
grant select (erased_at) on credentials to :"gatekeeper";

-- Jobs of the new task carry a data_subject_requests id and the tenant, nothing personal.
create or replace function queue_job_for(p_tenant_id uuid, p_task text, p_payload jsonb, p_run_at timestamptz default null,
                                         p_job_key text default null, p_max_attempts integer default null)
  returns void
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
  as $$
  begin
    if p_tenant_id is null then
      raise exception 'a job needs a tenant' using errcode = '42501';
    end if;
    if p_task not in ('send_emails', 'deliver_webhook', 'run_bulk_job', 'erase_person') then
      raise exception 'unknown task %', p_task using errcode = '22023';
    end if;
    if jsonb_typeof(coalesce(p_payload, '{}'::jsonb)) <> 'object' then
      raise exception 'a job payload is a JSON object' using errcode = '22023';
    end if;
    perform graphile_worker.add_job(
      identifier => p_task,
      payload => (coalesce(p_payload, '{}'::jsonb) || jsonb_build_object('tenantId', p_tenant_id))::json,
      run_at => p_run_at,
      max_attempts => coalesce(p_max_attempts, 12),
      job_key => case when p_job_key is null then null else p_tenant_id::text || ':' || p_job_key end);
  end
  $$;

-- Replaces every case-insensitive occurrence of each needle in a text by '[erased]'.
create function erasure_redact(p_text text, p_needles text[])
  returns text
  language plpgsql immutable set search_path = pg_catalog, pg_temp
  as $$
  declare
    needle text;
    result text := p_text;
  begin
    if result is null then
      return null;
    end if;
    foreach needle in array p_needles loop
      if length(needle) >= 3 then
        result := regexp_replace(result, regexp_replace(needle, '([!$()*+.:<=>?[\\\]^{|}-])', '\\\1', 'g'), '[erased]', 'gi');
      end if;
    end loop;
    return result;
  end
  $$;
comment on function erasure_redact(text, text[]) is 'Blanks an erased person''s name and address inside a free text (a request''s notes), keeping the rest.';
revoke execute on function erasure_redact(text, text[]) from public;

create function erase_recipient(p_recipient_id uuid)
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
    select r.id, r.email, r.name, r.external_id, r.erased_at into person
      from public.recipients r where r.tenant_id = tenant and r.id = p_recipient_id for update;
    if person.id is null then
      raise exception 'no such recipient' using errcode = 'P0002';
    end if;
    if person.erased_at is not null then
      raise exception 'already erased' using errcode = '55000', hint = 'already_erased';
    end if;
    -- What could name them in free text or JSON: the address, its local part, the name, the external id.
    needles := array_remove(array[person.email, split_part(person.email, '@', 1), person.name, person.external_id], null);
    pattern := '(' || array_to_string(array(select regexp_replace(x, '([!$()*+.:<=>?[\\\]^{|}-])', '\\\1', 'g')
                                              from unnest(needles) x where length(x) >= 3), '|') || ')';
    if pattern = '()' then
      pattern := '(?!)';
    end if;

    select coalesce(array_agg(c.id), '{}') into credential_ids
      from public.credentials c where c.tenant_id = tenant and c.recipient_id = person.id;
    select coalesce(array_agg(o.id), '{}') into message_ids
      from public.email_outbox o
     where o.tenant_id = tenant and (o.recipient_id = person.id or o.credential_id = any (credential_ids) or o.to_email = person.email);

    -- The person: a placeholder address keeps the row (credentials and requests point at it) unique.
    update public.recipients
       set email = 'erased-' || id::text || '@erased.invalid', name = null, external_id = null, attributes = '{}', erased_at = now()
     where tenant_id = tenant and id = person.id;

    -- Their credentials: the signed document (name, identity hash of the address) and merge values go;
    -- status, status-list index and dates stay, so the revoked bit stays published and counts hold.
    update public.credentials
       set document = '{}', field_values = '{}', evidence = '[]', idempotency_key = null, erased_at = now()
     where tenant_id = tenant and id = any (credential_ids);
    get diagnostics n = row_count;
    counts := counts || jsonb_build_object('credentials', n);

    -- Emails to them: address, subject, bodies, merge payload. Status and sender stay for delivery counts.
    update public.email_outbox
       set to_email = 'erased@erased.invalid', payload = '{}', subject = null, html = null, text_body = null, content = null,
           last_error = null, status_detail = null, idempotency_key = 'erased:' || id::text, request_key = null
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
       set subject_email = null
     where tenant_id = tenant and recipient_id = person.id and subject_email is not null;
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
comment on function erase_recipient(uuid) is
  'GDPR Art. 17: blanks one recipient of the current tenant everywhere (row, documents, emails, events, partner payloads, bulk rows, audit details, queue); refuses a second time.';
revoke execute on function erase_recipient(uuid) from public;
grant execute on function erase_recipient(uuid) to :"member";

-- public_credential() belongs to the gatekeeper (sql/017): only its owner may replace it.
set local role :"gatekeeper";
drop function public_credential(uuid, uuid);
create function public_credential(p_tenant_id uuid, p_credential_id uuid)
  returns table (document json, status public.credential_status, valid_from timestamptz, valid_until timestamptz,
                 revoked_at timestamptz, suspended_at timestamptz, revocation_reason text, time_zone text, erased boolean)
  language sql stable security definer set search_path = pg_catalog, pg_temp
  as $$
    select case when c.erased_at is null then c.document end, c.status, c.valid_from, c.valid_until, c.revoked_at,
           c.suspended_at, case when c.status = 'REVOKED' then c.revocation_reason end, t.time_zone, c.erased_at is not null
      from public.credentials c join public.tenants t on t.id = c.tenant_id
     where c.tenant_id = p_tenant_id and c.id = p_credential_id
  $$;
comment on function public_credential(uuid, uuid) is
  'One credential as its holder may show it to anyone: the signed document, its state (with the revocation reason the issuer publishes in the OB 2.0 Assertion) and the tenant''s time zone for its dates; nothing about the recipient beyond the document; erased: no document, so the page can answer 410.';
revoke execute on function public_credential(uuid, uuid) from public;
grant execute on function public_credential(uuid, uuid) to :"anonymous";
set local role :"owner";
