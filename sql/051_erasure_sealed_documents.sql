-- Erasure after sql/048: credentials.document and credential_documents.document became document_sealed
-- (+ key_version, legacy_document), so erase_recipient as sql/047 defined it no longer runs (it set
-- the dropped `document` column). Same function, same arguments; the signed documents now go by
-- nulling the sealed bytes, their key version and any legacy plain copy.
create or replace function erase_recipient(p_recipient_id uuid, p_needles text[], p_email_indexes bytea[])
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
       set key_version = null, document_sealed = null, legacy_document = null, field_values = '{}', evidence = '[]',
           idempotency_key = null, erased_at = now()
     where tenant_id = tenant and id = any (credential_ids);
    get diagnostics n = row_count;
    counts := counts || jsonb_build_object('credentials', n);

    -- Every document a credential had before a rectification named them as well (036).
    update public.credential_documents
       set key_version = null, document_sealed = null, legacy_document = null
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

    -- Bulk rows (sql/050): found by credential, by the address's blind index, or in legacy text.
    update public.bulk_job_rows
       set input_sealed = null, key_version = null, email_index = null, legacy_input = null, errors = '[]'
     where tenant_id = tenant and (credential_id = any (credential_ids) or email_index = any (coalesce(p_email_indexes, '{}'))
                                   or legacy_input::text ~* pattern or errors::text ~* pattern);

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
