-- A person's export (GDPR Art. 15 access, Art. 20 portability): the ZIP the worker builds for one
-- recipient, kept in the database like images so that it stays behind the tenant wall and goes with a
-- backup, until its download link expires. Erasure deletes the person's exports with the rest of them.
create table person_exports (
  tenant_id uuid not null references tenants (id),
  id uuid not null default uuid_v7(),
  request_id uuid not null,
  recipient_id uuid not null,
  bytes bytea not null,
  sha256 text not null check (sha256 ~ '^[0-9a-f]{64}$'),
  format_version text not null,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null check (expires_at > created_at),
  primary key (tenant_id, id),
  unique (tenant_id, request_id),
  foreign key (tenant_id, request_id) references data_subject_requests (tenant_id, id),
  foreign key (tenant_id, recipient_id) references recipients (tenant_id, id)
);
create index person_exports_recipient on person_exports (tenant_id, recipient_id);
alter table person_exports enable row level security;
alter table person_exports force row level security;
create policy person_exports_tenant_isolation on person_exports
  using (tenant_id = (select current_tenant_id())) with check (tenant_id = (select current_tenant_id()));
comment on policy person_exports_tenant_isolation on person_exports is
  'Rows of the current tenant only; none without a tenant.';
-- Written once by the worker, read by the download route, deleted by erasure; never rewritten.
grant select, insert (tenant_id, id, request_id, recipient_id, bytes, sha256, format_version, created_at, expires_at), delete
  on person_exports to :"member";

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
    if p_task not in ('send_emails', 'deliver_webhook', 'run_bulk_job', 'erase_person', 'export_person') then
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
