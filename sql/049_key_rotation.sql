-- Key rotation without downtime (issue 13 part 2). A data-key rotation gives a tenant a new data key,
-- then the worker re-seals the tenant's sealed rows under it in batches (src/modules/vault/rotation.ts)
-- while the API keeps serving; once no row is left at an older version after every process's key cache
-- has expired, the old key is retired and its wrapped bytes erased (crypto-shredding). This table is the
-- rotation's record: state and progress, visible to the tenant's owners and admins. A KEK rotation only
-- re-wraps tenant_data_keys (vault/kek.ts); the start-up check now counts those rows too.

create table data_key_rotations (
  tenant_id uuid not null references tenants (id),
  id uuid not null default uuid_v7(),
  from_version integer not null check (from_version > 0),
  to_version integer not null,
  state text not null default 'running' check (state in ('running', 'completed', 'failed')),
  -- 'scheduled' by the daily job (LAUREL_DATA_KEY_ROTATION_DAYS), or 'requested' by an owner.
  reason text not null check (reason in ('scheduled', 'requested')),
  requested_by_user_id uuid references users (id) on delete set null,
  -- Per sealed table: {"recipients": {"done": n, "total": m}}; totals are counted when the rotation starts.
  progress jsonb not null default '{}' check (jsonb_typeof(progress) = 'object'),
  rows_done bigint not null default 0 check (rows_done >= 0),
  rows_total bigint not null default 0 check (rows_total >= 0),
  batches integer not null default 0 check (batches >= 0),
  started_at timestamptz not null default now(),
  -- Not before this instant may the old key be retired: every process's key cache has expired by then.
  retire_after timestamptz,
  finished_at timestamptz,
  last_error text check (length(last_error) <= 2000),
  updated_at timestamptz not null default now(),
  primary key (tenant_id, id),
  check (to_version > from_version),
  check ((state = 'running') = (finished_at is null))
);
create index data_key_rotations_newest on data_key_rotations (tenant_id, started_at desc, id desc);
-- One rotation at a time per tenant: a second would race the first for the same rows.
create unique index data_key_rotations_one_running on data_key_rotations (tenant_id) where state = 'running';
create trigger data_key_rotations_touch before update on data_key_rotations for each row execute function touch_updated_at();
alter table data_key_rotations enable row level security;
alter table data_key_rotations force row level security;
create policy data_key_rotations_tenant_isolation on data_key_rotations
  using (tenant_id = (select current_tenant_id())) with check (tenant_id = (select current_tenant_id()));
comment on policy data_key_rotations_tenant_isolation on data_key_rotations is 'Rows of the current tenant only; none without a tenant.';
grant select, insert (tenant_id, id, from_version, to_version, state, reason, requested_by_user_id, progress, rows_total),
      update (state, progress, rows_done, rows_total, batches, retire_after, finished_at, last_error)
  on data_key_rotations to :"member";

-- The scheduled job asks, across tenants, whose keys need work; the start-up check asks which KEK
-- versions wrap live data keys. Both through the gatekeeper, which sees versions and dates, never a key.
grant select (tenant_id, purpose, version, kek_version, created_at, retired_at) on tenant_data_keys to :"gatekeeper";
create policy tenant_data_keys_gatekeeper_read on tenant_data_keys for select to :"gatekeeper" using (true);
comment on policy tenant_data_keys_gatekeeper_read on tenant_data_keys is
  'sealed_kek_versions() and key_maintenance_tenants() count versions and dates; the wrapped column is not granted.';
grant select (tenant_id, state) on data_key_rotations to :"gatekeeper";
create policy data_key_rotations_gatekeeper_read on data_key_rotations for select to :"gatekeeper" using (true);
comment on policy data_key_rotations_gatekeeper_read on data_key_rotations is 'key_maintenance_tenants() finds rotations left running.';

set local role :"gatekeeper";

create or replace function sealed_kek_versions()
  returns table (version integer, what text, n integer)
  language sql stable security definer set search_path = pg_catalog, pg_temp
  as $$
    select s.version, s.what, count(*)::int
      from (select k.kek_version as version, 'signing key' as what from public.signing_keys k where k.retired_at is null
            union all
            select e.secret_kek_version, 'webhook secret' from public.webhook_endpoints e
            union all
            select d.kek_version, 'data key' from public.tenant_data_keys d where d.retired_at is null) s
     group by s.version, s.what
     order by s.version, s.what
  $$;
comment on function sealed_kek_versions() is
  'Cross-tenant, for the start-up check only: which KEK versions seal active signing keys, webhook secrets and live data keys, with counts; no secret, no tenant.';

create function key_maintenance_tenants(p_kek_version integer, p_rotate_before timestamptz)
  returns table (tenant_id uuid, rewrap boolean, rotate boolean, running boolean)
  language sql stable security definer set search_path = pg_catalog, pg_temp
  as $$
    select t.id,
           exists (select 1 from public.tenant_data_keys d
                    where d.tenant_id = t.id and d.retired_at is null and d.kek_version <> p_kek_version)
           or exists (select 1 from public.signing_keys k where k.tenant_id = t.id and k.retired_at is null and k.kek_version <> p_kek_version)
           or exists (select 1 from public.webhook_endpoints e where e.tenant_id = t.id and e.secret_kek_version <> p_kek_version),
           coalesce((select max(d.created_at) < p_rotate_before from public.tenant_data_keys d
                      where d.tenant_id = t.id and d.purpose = 'data' and d.retired_at is null), false),
           exists (select 1 from public.data_key_rotations r where r.tenant_id = t.id and r.state = 'running')
      from public.tenants t
     order by t.id
  $$;
comment on function key_maintenance_tenants(integer, timestamptz) is
  'Cross-tenant, for the key maintenance job: per tenant, whether a data key, signing key or webhook secret is sealed by another KEK, the current data key predates p_rotate_before, or a rotation is unfinished; no key.';
revoke execute on function key_maintenance_tenants(integer, timestamptz) from public;
grant execute on function key_maintenance_tenants(integer, timestamptz) to :"owner";

set local role :"owner";

-- The worker task an owner's rotateDataKey queues. The list is the current one (sql/038) plus rotate_data_key.
create or replace function queue_task_names() returns text[]
  language sql immutable parallel safe
  as $$ select array['send_emails', 'deliver_webhook', 'run_bulk_job', 'erase_person', 'export_person', 'rectify_person', 'export_tenant',
                     'rotate_data_key'] $$;
comment on function queue_task_names() is 'Tasks queue_job_for() accepts; replaced (alone) when a migration adds a task.';
