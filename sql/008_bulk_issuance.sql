-- Bulk issuance: a job and its rows. Rows are processed in chunks, each chunk in one transaction that
-- issues its credentials and marks its rows together, so a crash loses at most an uncommitted chunk
-- and no row is ever issued twice. A runner claims a job by leasing it (locked_until); a lease left
-- by a dead runner expires and the job resumes elsewhere.

create type bulk_job_status as enum ('PENDING', 'RUNNING', 'COMPLETED', 'FAILED');
create type bulk_row_status as enum ('PENDING', 'ISSUED', 'FAILED');

create table bulk_jobs (
  tenant_id uuid not null references tenants (id),
  id uuid not null default gen_random_uuid(),
  template_id uuid not null,
  source text not null check (source in ('ROWS', 'CSV')),
  status bulk_job_status not null default 'PENDING',
  total_rows integer not null check (total_rows between 0 and 100000),
  issued_count integer not null default 0,
  failed_count integer not null default 0,
  created_by_kind actor_kind not null,
  created_by_id uuid,
  locked_until timestamptz,
  created_at timestamptz not null default now(),
  started_at timestamptz,
  finished_at timestamptz,
  primary key (tenant_id, id),
  foreign key (tenant_id, template_id) references templates (tenant_id, id)
);
create index bulk_jobs_tenant_created on bulk_jobs (tenant_id, created_at desc);
alter table bulk_jobs enable row level security;
alter table bulk_jobs force row level security;
create policy bulk_jobs_tenant_isolation on bulk_jobs
  using (tenant_id = (select current_tenant_id())) with check (tenant_id = (select current_tenant_id()));
comment on policy bulk_jobs_tenant_isolation on bulk_jobs is 'Rows of the current tenant only; none without a tenant.';
create policy bulk_jobs_owner_maintenance on bulk_jobs to :"owner" using (true) with check (true);
comment on policy bulk_jobs_owner_maintenance on bulk_jobs is 'Migration owner and its SECURITY DEFINER functions only.';
grant select, insert (tenant_id, id, template_id, source, status, total_rows, failed_count, created_by_kind, created_by_id),
      update (status, issued_count, failed_count, locked_until, started_at, finished_at)
  on bulk_jobs to :"member";

create table bulk_job_rows (
  tenant_id uuid not null,
  job_id uuid not null,
  row_number integer not null check (row_number > 0),
  input jsonb not null,
  status bulk_row_status not null default 'PENDING',
  errors jsonb not null default '[]',
  credential_id uuid,
  primary key (tenant_id, job_id, row_number),
  foreign key (tenant_id, job_id) references bulk_jobs (tenant_id, id) on delete cascade
);
create index bulk_job_rows_pending on bulk_job_rows (tenant_id, job_id, row_number) where status = 'PENDING';
alter table bulk_job_rows enable row level security;
alter table bulk_job_rows force row level security;
create policy bulk_job_rows_tenant_isolation on bulk_job_rows
  using (tenant_id = (select current_tenant_id())) with check (tenant_id = (select current_tenant_id()));
comment on policy bulk_job_rows_tenant_isolation on bulk_job_rows is 'Rows of the current tenant only; none without a tenant.';
create policy bulk_job_rows_owner_maintenance on bulk_job_rows to :"owner" using (true) with check (true);
comment on policy bulk_job_rows_owner_maintenance on bulk_job_rows is 'Migration owner and its SECURITY DEFINER functions only.';
grant select, insert (tenant_id, job_id, row_number, input, status, errors), update (status, errors, credential_id)
  on bulk_job_rows to :"member";

-- Runners see every tenant's queue only through this: the next job whose lease is free, leased.
create function claim_bulk_job(p_lease interval)
  returns table (tenant_id uuid, job_id uuid)
  language sql volatile security definer set search_path = pg_catalog, pg_temp
  as $$
    update public.bulk_jobs j
       set locked_until = now() + p_lease,
           status = 'RUNNING',
           started_at = coalesce(j.started_at, now())
     where (j.tenant_id, j.id) = (
       select b.tenant_id, b.id from public.bulk_jobs b
        where b.status in ('PENDING', 'RUNNING') and (b.locked_until is null or b.locked_until < now())
        order by b.created_at
        limit 1
        for update skip locked)
    returning j.tenant_id, j.id
  $$;
comment on function claim_bulk_job(interval) is
  'Leases the oldest unleased bulk job of any tenant to a runner (the login role); the work itself then runs in that tenant''s transaction.';
revoke execute on function claim_bulk_job(interval) from public;
grant execute on function claim_bulk_job(interval) to :"login";
