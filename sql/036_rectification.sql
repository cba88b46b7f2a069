-- Rectification (GDPR Art. 16): correcting a recipient's name or email re-signs each of their current
-- credentials with the corrected data at the same URL. The document it replaces keeps verifying as what
-- it was (signed by us) but revoked: its own status-list entry stays set, the new document gets a fresh
-- one. Every document a credential ever had, and every correction of a name or address (who, when,
-- through which request), is kept, until erasure blanks them with the rest of the person.

-- A rectification request carries the correction it asks for ({"name": ..., "email": ...}, normalised
-- as recipients are); only rectification requests carry one.
alter table data_subject_requests add column requested_changes jsonb
  check (requested_changes is null or jsonb_typeof(requested_changes) = 'object');
alter table data_subject_requests add constraint data_subject_requests_changes_for_rectification
  check (requested_changes is null or kind = 'rectification');
comment on column data_subject_requests.requested_changes is
  'Rectification only: the corrected name and/or email the person asked for; blanked by erasure.';
grant insert (requested_changes) on data_subject_requests to :"member";

-- Each correction of a person's name or address: what it was, what it became, who made it, when, and
-- through which request. Written once; only erasure rewrites it (blanking the values).
create table recipient_rectifications (
  tenant_id uuid not null references tenants (id),
  id uuid not null default uuid_v7(),
  recipient_id uuid not null,
  request_id uuid,
  changed text[] not null check (cardinality(changed) between 1 and 2 and changed <@ array['name', 'email']),
  old_name text check (length(old_name) <= 200),
  new_name text check (length(new_name) <= 200),
  old_email text check (old_email = lower(old_email) and length(old_email) <= 320),
  new_email text check (new_email = lower(new_email) and length(new_email) <= 320),
  actor_kind actor_kind not null,
  actor_id uuid,
  credentials_reissued integer not null default 0 check (credentials_reissued >= 0),
  rectified_at timestamptz not null default now(),
  primary key (tenant_id, id),
  foreign key (tenant_id, recipient_id) references recipients (tenant_id, id),
  foreign key (tenant_id, request_id) references data_subject_requests (tenant_id, id)
);
create index recipient_rectifications_recipient on recipient_rectifications (tenant_id, recipient_id, rectified_at);
alter table recipient_rectifications enable row level security;
alter table recipient_rectifications force row level security;
create policy recipient_rectifications_tenant_isolation on recipient_rectifications
  using (tenant_id = (select current_tenant_id())) with check (tenant_id = (select current_tenant_id()));
comment on policy recipient_rectifications_tenant_isolation on recipient_rectifications is
  'Rows of the current tenant only; none without a tenant.';
-- The count of re-issued credentials is known only once they are signed, after the row exists.
grant select, insert (tenant_id, id, recipient_id, request_id, changed, old_name, new_name, old_email, new_email, actor_kind, actor_id, rectified_at),
      update (credentials_reissued)
  on recipient_rectifications to :"member";

-- Every signed document a credential had before its current one (credentials.document), with the
-- revocation entry it carried (set from then on), when it was signed, when and why it was superseded.
create table credential_documents (
  tenant_id uuid not null references tenants (id),
  id uuid not null default uuid_v7(),
  credential_id uuid not null,
  -- As signed, byte for byte (json, not jsonb: see 011).
  document json not null,
  status_list_id uuid not null,
  status_index integer not null check (status_index >= 0),
  signed_at timestamptz not null,
  superseded_at timestamptz not null default now(),
  superseded_reason text not null check (length(superseded_reason) between 1 and 1000),
  rectification_id uuid,
  primary key (tenant_id, id),
  unique (tenant_id, status_list_id, status_index),
  foreign key (tenant_id, credential_id) references credentials (tenant_id, id),
  foreign key (tenant_id, status_list_id) references status_lists (tenant_id, id),
  foreign key (tenant_id, rectification_id) references recipient_rectifications (tenant_id, id),
  check (superseded_at >= signed_at)
);
create index credential_documents_credential on credential_documents (tenant_id, credential_id, superseded_at);
alter table credential_documents enable row level security;
alter table credential_documents force row level security;
create policy credential_documents_tenant_isolation on credential_documents
  using (tenant_id = (select current_tenant_id())) with check (tenant_id = (select current_tenant_id()));
comment on policy credential_documents_tenant_isolation on credential_documents is
  'Rows of the current tenant only; none without a tenant.';
-- History: written once, never rewritten by the runtime role (erasure's definer blanks documents).
grant select, insert (tenant_id, id, credential_id, document, status_list_id, status_index, signed_at, superseded_at,
                      superseded_reason, rectification_id)
  on credential_documents to :"member";

-- Re-issue replaces a credential's document and its revocation entry in place (same id, same URL).
grant update (document, status_list_id, status_index) on credentials to :"member";

-- The published revocation list sets the bits of superseded documents too.
grant select (tenant_id, status_list_id, status_index) on credential_documents to :"gatekeeper";
create policy credential_documents_gatekeeper_read on credential_documents for select to :"gatekeeper" using (true);
comment on policy credential_documents_gatekeeper_read on credential_documents is
  'public_status_list(): a superseded document''s revocation entry is published as set; positions only.';

set local role :"gatekeeper";
create or replace function public_status_list(p_tenant_id uuid, p_list_id uuid)
  returns table (purpose public.status_purpose, capacity integer, version integer, set_indexes integer[])
  language sql stable security definer set search_path = pg_catalog, pg_temp
  as $$
    select l.purpose, l.capacity, l.version,
           case l.purpose
             when 'revocation' then array(select c.status_index from public.credentials c
                                           where c.tenant_id = l.tenant_id and c.status_list_id = l.id and c.status = 'REVOKED'
                                          union all
                                          select d.status_index from public.credential_documents d
                                           where d.tenant_id = l.tenant_id and d.status_list_id = l.id)
             else array(select c.suspension_index from public.credentials c
                         where c.tenant_id = l.tenant_id and c.suspension_list_id = l.id and c.status = 'SUSPENDED')
           end
      from public.status_lists l
     where l.tenant_id = p_tenant_id and l.id = p_list_id
  $$;
comment on function public_status_list(uuid, uuid) is
  'The set bits of one published status list (revoked credentials and superseded documents): positions only, no credential or recipient data.';
set local role :"owner";

-- The worker's task for a rectification request joins the list (034).
create or replace function queue_task_names() returns text[]
  language sql immutable parallel safe
  as $$ select array['send_emails', 'deliver_webhook', 'run_bulk_job', 'erase_person', 'export_person', 'rectify_person'] $$;
comment on function queue_task_names() is 'Tasks queue_job_for() accepts; replaced (alone) when a migration adds a task.';

-- Erasure reaches the two history tables and the requested correction, and looks for the person under
-- every name and address they had (031's body otherwise unchanged).
create or replace function erase_recipient(p_recipient_id uuid)
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
    old_emails text[];
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
    -- Rectified people (036) were also known by earlier names and addresses: those name them too.
    select coalesce(array_agg(distinct known.address) filter (where known.address is not null), '{}') into old_emails
      from public.recipient_rectifications h, unnest(array[h.old_email, h.new_email]) as known(address)
     where h.tenant_id = tenant and h.recipient_id = person.id;
    needles := array_remove(array[person.email, split_part(person.email, '@', 1), person.name, person.external_id], null)
            || old_emails
            || array(select split_part(known.address, '@', 1) from unnest(old_emails) as known(address))
            || array(select distinct known.name from public.recipient_rectifications h, unnest(array[h.old_name, h.new_name]) as known(name)
                      where h.tenant_id = tenant and h.recipient_id = person.id and known.name is not null);
    pattern := '(' || array_to_string(array(select regexp_replace(x, '([!$()*+.:<=>?[\\\]^{|}-])', '\\\1', 'g')
                                              from unnest(needles) x where length(x) >= 3), '|') || ')';
    if pattern = '()' then
      pattern := '(?!)';
    end if;

    select coalesce(array_agg(c.id), '{}') into credential_ids
      from public.credentials c where c.tenant_id = tenant and c.recipient_id = person.id;
    select coalesce(array_agg(o.id), '{}') into message_ids
      from public.email_outbox o
     where o.tenant_id = tenant and (o.recipient_id = person.id or o.credential_id = any (credential_ids) or o.to_email = person.email
                                  or o.to_email = any (old_emails));

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

    -- Every document a credential had before a rectification named them as well (036).
    update public.credential_documents
       set document = '{}'::json
     where tenant_id = tenant and credential_id = any (credential_ids);
    get diagnostics n = row_count;
    counts := counts || jsonb_build_object('supersededDocuments', n);

    -- The history of their name and address keeps that a correction happened, and of what, not the values.
    update public.recipient_rectifications
       set old_name = null, new_name = null, old_email = null, new_email = null
     where tenant_id = tenant and recipient_id = person.id;
    get diagnostics n = row_count;
    counts := counts || jsonb_build_object('rectifications', n);

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
       set subject_email = null, requested_changes = null
     where tenant_id = tenant and recipient_id = person.id and (subject_email is not null or requested_changes is not null);
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
  'GDPR Art. 17: blanks one recipient of the current tenant everywhere (row, documents and superseded documents, name and address history, emails, events, partner payloads, bulk rows, audit details, queue); refuses a second time.';
