-- Background work and email delivery. The queue is graphile-worker's (its schema is installed by the
-- migration runner right after these files, as the owner). Tenant code never touches it directly: it
-- enqueues through enqueue_job(), which stamps the current tenant into the payload and the job key, so
-- a job can only ever act for the tenant whose transaction created it, and commits or rolls back with
-- the change that caused it.

create function queue_job_for(p_tenant_id uuid, p_task text, p_payload jsonb, p_run_at timestamptz default null,
                              p_job_key text default null, p_max_attempts integer default null)
  returns void
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
  as $$
  begin
    if p_tenant_id is null then
      raise exception 'a job needs a tenant' using errcode = '42501';
    end if;
    if p_task not in ('send_emails', 'deliver_webhook', 'run_bulk_job') then
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
comment on function queue_job_for(uuid, text, jsonb, timestamptz, text, integer) is
  'Adds a graphile-worker job for one tenant; owner-only: other definer functions call it with a tenant they have established.';
revoke execute on function queue_job_for(uuid, text, jsonb, timestamptz, text, integer) from public;

create function enqueue_job(p_task text, p_payload jsonb, p_run_at timestamptz default null, p_job_key text default null,
                            p_max_attempts integer default null)
  returns void
  language sql volatile security definer set search_path = pg_catalog, pg_temp
  as $$ select public.queue_job_for(public.current_tenant_id(), p_task, p_payload, p_run_at, p_job_key, p_max_attempts) $$;
comment on function enqueue_job(text, jsonb, timestamptz, text, integer) is
  'The app''s only way onto the queue (graphile-worker''s tables are closed to it): the job is the current tenant''s, in the current transaction.';
revoke execute on function enqueue_job(text, jsonb, timestamptz, text, integer) from public;
grant execute on function enqueue_job(text, jsonb, timestamptz, text, integer) to :"member";

-- Jobs still retrying or given up, for the tenant that owns them (graphile-worker's tables have no
-- tenant column: the payload carries it, stamped by queue_job_for).
create function tenant_jobs(p_failed_only boolean)
  returns table (id bigint, task text, attempts integer, max_attempts integer, last_error text, run_at timestamptz,
                 created_at timestamptz, payload jsonb)
  language sql stable security definer set search_path = pg_catalog, pg_temp
  as $$
    select j.id, t.identifier, j.attempts::integer, j.max_attempts::integer, j.last_error, j.run_at, j.created_at,
           j.payload::jsonb - 'tenantId'
      from graphile_worker._private_jobs j
      join graphile_worker._private_tasks t on t.id = j.task_id
     where (j.payload::jsonb ->> 'tenantId') = public.current_tenant_id()::text
       and j.last_error is not null
       and (not p_failed_only or j.attempts >= j.max_attempts)
     order by j.id desc
     limit 500
  $$;
comment on function tenant_jobs(boolean) is
  'Failing and failed jobs of the current tenant only (matched on the tenant stamped into the payload).';
revoke execute on function tenant_jobs(boolean) from public;
grant execute on function tenant_jobs(boolean) to :"member";

create function retry_tenant_job(p_job_id bigint)
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
      update public.email_outbox o set status = 'queued', last_error = null
       where o.tenant_id = public.current_tenant_id() and o.status = 'failed'
         and o.id in (select (jsonb_array_elements_text(job_payload -> 'messageIds'))::uuid);
    end if;
    return true;
  end
  $$;
comment on function retry_tenant_job(bigint) is
  'Gives one of the current tenant''s failed jobs a fresh set of attempts; another tenant''s job id matches nothing.';
revoke execute on function retry_tenant_job(bigint) from public;
grant execute on function retry_tenant_job(bigint) to :"member";

-- Bulk jobs are queued with the job itself now (run_bulk_job): graphile-worker's lock replaces the
-- runner's lease, so the lease scan and its column go.
drop function claim_bulk_job(interval);
alter table bulk_jobs drop column locked_until;

-- Worker processes: graphile-worker releases a crashed worker's jobs only after four hours. Each of our
-- worker processes beats here; a process whose beat has stopped has its jobs unlocked by the others.
create table worker_heartbeats (
  worker_id text primary key,
  started_at timestamptz not null default now(),
  beat_at timestamptz not null default now()
);
comment on table worker_heartbeats is 'Queue machinery, not tenant data: used only by the owner connection of the worker.';
alter table worker_heartbeats enable row level security;
alter table worker_heartbeats force row level security;
create policy worker_heartbeats_owner_only on worker_heartbeats to :"owner" using (true) with check (true);
comment on policy worker_heartbeats_owner_only on worker_heartbeats is 'The worker''s queue connection acts as the owner; runtime roles have no grant here.';

-- ---------------------------------------------------------------------------------------------
-- Email: sender settings, sender domains, per-template content, and the outbox as a delivery record.

create table email_settings (
  tenant_id uuid primary key references tenants (id),
  from_name text check (length(from_name) between 1 and 100),
  from_address text check (length(from_address) <= 320 and from_address = lower(from_address) and from_address like '%_@_%'),
  reply_to text check (length(reply_to) <= 320 and reply_to like '%_@_%'),
  default_locale text not null default 'en' check (default_locale ~ '^[a-z]{2,3}(-[a-z0-9]{2,8})*$'),
  updated_at timestamptz not null default now()
);
create trigger email_settings_touch before update on email_settings for each row execute function touch_updated_at();
alter table email_settings enable row level security;
alter table email_settings force row level security;
create policy email_settings_tenant_isolation on email_settings
  using (tenant_id = (select current_tenant_id())) with check (tenant_id = (select current_tenant_id()));
comment on policy email_settings_tenant_isolation on email_settings is 'Rows of the current tenant only; none without a tenant.';
grant select, insert, update (from_name, from_address, reply_to, default_locale) on email_settings to :"member";

create type sender_domain_status as enum ('pending', 'verified', 'failed');
create table sender_domains (
  tenant_id uuid not null references tenants (id),
  id uuid not null default uuid_v7(),
  domain text not null check (domain ~ '^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$'),
  status sender_domain_status not null default 'pending',
  provider_domain_id text,
  dns_records jsonb not null default '[]',
  verified_at timestamptz,
  created_at timestamptz not null default now(),
  primary key (tenant_id, id),
  unique (tenant_id, domain)
);
alter table sender_domains enable row level security;
alter table sender_domains force row level security;
create policy sender_domains_tenant_isolation on sender_domains
  using (tenant_id = (select current_tenant_id())) with check (tenant_id = (select current_tenant_id()));
comment on policy sender_domains_tenant_isolation on sender_domains is 'Rows of the current tenant only; none without a tenant.';
grant select, insert, update (status, provider_domain_id, dns_records, verified_at), delete on sender_domains to :"member";

create function sender_domain_claimed_elsewhere(p_domain text)
  returns boolean
  language sql stable security definer set search_path = pg_catalog, pg_temp
  as $$
    select exists (select 1 from public.sender_domains d
                    where d.domain = lower(p_domain) and d.status = 'verified' and d.tenant_id <> public.current_tenant_id())
  $$;
comment on function sender_domain_claimed_elsewhere(text) is
  'Whether another tenant already sends from this domain (yes or no only): one organisation''s domain is not another''s From.';
revoke execute on function sender_domain_claimed_elsewhere(text) from public;
grant execute on function sender_domain_claimed_elsewhere(text) to :"member";

-- Subject and bodies with merge fields, per credential template (or the tenant's default when
-- template_id is null), per kind of message and per locale.
create table email_templates (
  tenant_id uuid not null references tenants (id),
  id uuid not null default uuid_v7(),
  template_id uuid,
  kind text not null check (kind in ('credential_issued', 'credential_reminder', 'credential_expiring', 'credential_revoked',
                                     'credential_suspended', 'credential_reinstated')),
  locale text not null check (locale ~ '^[a-z]{2,3}(-[a-z0-9]{2,8})*$'),
  subject text not null check (length(subject) between 1 and 300),
  html text not null check (length(html) between 1 and 100000),
  text text not null check (length(text) between 1 and 50000),
  updated_at timestamptz not null default now(),
  primary key (tenant_id, id),
  foreign key (tenant_id, template_id) references templates (tenant_id, id) on delete cascade
);
create unique index email_templates_one_per_kind on email_templates (tenant_id, template_id, kind, locale) nulls not distinct;
create trigger email_templates_touch before update on email_templates for each row execute function touch_updated_at();
alter table email_templates enable row level security;
alter table email_templates force row level security;
create policy email_templates_tenant_isolation on email_templates
  using (tenant_id = (select current_tenant_id())) with check (tenant_id = (select current_tenant_id()));
comment on policy email_templates_tenant_isolation on email_templates is 'Rows of the current tenant only; none without a tenant.';
grant select, insert, update (subject, html, text), delete on email_templates to :"member";

-- The outbox becomes the delivery record: queued -> sending -> sent -> delivered | bounced | complained,
-- or failed when the provider refused it or every attempt ran out.
create type email_status as enum ('queued', 'sending', 'sent', 'delivered', 'bounced', 'complained', 'failed');
alter table email_outbox alter column status drop default;
alter table email_outbox alter column status type email_status
  using (case status::text when 'pending' then 'queued' else status::text end)::email_status;
alter table email_outbox alter column status set default 'queued';
drop type outbox_status;
alter table email_outbox
  add column credential_id uuid,
  add column recipient_id uuid,
  add column provider text check (provider in ('resend', 'log')),
  add column provider_message_id text,
  add column from_address text,
  add column subject text,
  add column html text,
  add column text_body text,
  add column delivered_at timestamptz,
  add column bounced_at timestamptz,
  add column complained_at timestamptz,
  add column opened_at timestamptz,
  add column clicked_at timestamptz,
  add column status_detail text check (length(status_detail) <= 1000),
  add column updated_at timestamptz not null default now();
create trigger email_outbox_touch before update on email_outbox for each row execute function touch_updated_at();
create index email_outbox_tenant_credential on email_outbox (tenant_id, credential_id, created_at desc) where credential_id is not null;
create unique index email_outbox_provider_message on email_outbox (provider_message_id) where provider_message_id is not null;
comment on index email_outbox_provider_message is
  'cross-tenant: Resend''s webhooks name a message by its id alone; read only by apply_email_event().';
grant select (credential_id, recipient_id, provider, provider_message_id, from_address, subject, html, text_body, delivered_at,
              bounced_at, complained_at, opened_at, clicked_at, status_detail, updated_at),
      insert (credential_id, recipient_id),
      update (status, attempts, last_error, sent_at, provider, provider_message_id, from_address, subject, html, text_body,
              status_detail)
  on email_outbox to :"member";

-- The payload may hold a secret (an invitation's token) and stays unreadable to runtime roles: the
-- worker gets it only by claiming the message for sending, and it is forgotten once sent.
create function claim_email_messages(p_ids uuid[])
  returns table (id uuid, kind text, to_email text, locale text, payload jsonb, credential_id uuid, recipient_id uuid, created_at timestamptz)
  language sql volatile security definer set search_path = pg_catalog, pg_temp
  as $$
    update public.email_outbox o set status = 'sending', attempts = o.attempts + 1
     where o.tenant_id = public.current_tenant_id() and o.id = any(p_ids) and o.status in ('queued', 'sending')
    returning o.id, o.kind, o.to_email, o.locale, o.payload,
              coalesce(o.credential_id, (o.payload ->> 'credentialId')::uuid), o.recipient_id, o.created_at
  $$;
comment on function claim_email_messages(uuid[]) is
  'Marks the current tenant''s queued messages as sending and hands the worker their payloads; nothing of another tenant matches.';
revoke execute on function claim_email_messages(uuid[]) from public;
grant execute on function claim_email_messages(uuid[]) to :"member";

create function forget_sent_secrets(p_ids uuid[])
  returns void
  language sql volatile security definer set search_path = pg_catalog, pg_temp
  as $$
    update public.email_outbox o set payload = o.payload - 'token' - 'acceptUrl'
     where o.tenant_id = public.current_tenant_id() and o.id = any(p_ids) and o.status not in ('queued', 'sending', 'failed')
       and o.payload ?| array['token', 'acceptUrl']
  $$;
comment on function forget_sent_secrets(uuid[]) is
  'Drops an invitation''s token from the current tenant''s sent messages: the outbox keeps no usable secret.';
revoke execute on function forget_sent_secrets(uuid[]) from public;
grant execute on function forget_sent_secrets(uuid[]) to :"member";

-- Reminder settings live on the template (operational, not part of the versioned badge design).
alter table templates
  add column reminder_count integer not null default 2 check (reminder_count between 0 and 3),
  add column reminder_interval_days integer not null default 7 check (reminder_interval_days between 1 and 90),
  add column expiry_reminder_days integer check (expiry_reminder_days between 1 and 365);
grant update (reminder_count, reminder_interval_days, expiry_reminder_days) on templates to :"member";

-- What engagement and reminders need to know about a credential without scanning the event table.
alter table credentials
  add column engaged_at timestamptz,
  add column claimed_at timestamptz,
  add column reminders_sent integer not null default 0,
  add column last_reminded_at timestamptz,
  add column expiry_reminded_at timestamptz,
  add column expired_notified_at timestamptz;
grant update (reminders_sent, last_reminded_at, expiry_reminded_at, expired_notified_at) on credentials to :"member";
-- The reminder sweep visits each tenant for credentials nobody has engaged with yet, and expiring ones.
create index credentials_unengaged on credentials (tenant_id, issued_at) where engaged_at is null and status = 'ACTIVE';
create index credentials_expiring on credentials (tenant_id, valid_until) where valid_until is not null and expired_notified_at is null;

-- Privacy flags the delivery and engagement paths honour (the privacy issue adds the workflows).
alter table recipients
  add column tracking_consent boolean not null default true,
  add column restricted_at timestamptz,
  add column objected_at timestamptz;
grant update (tracking_consent, restricted_at, objected_at) on recipients to :"member";

-- Resend webhook deliveries already applied (svix-id): the same webhook twice has one effect.
create table email_provider_events (
  event_id text primary key check (length(event_id) <= 200),
  provider_message_id text,
  event_type text not null,
  received_at timestamptz not null default now()
);
comment on table email_provider_events is 'Platform-level dedupe of provider webhooks; reached only through apply_email_event().';
alter table email_provider_events enable row level security;
alter table email_provider_events force row level security;
create policy email_provider_events_owner_only on email_provider_events to :"owner" using (true) with check (true);
comment on policy email_provider_events_owner_only on email_provider_events is 'Written by the definer function apply_email_event() only.';
