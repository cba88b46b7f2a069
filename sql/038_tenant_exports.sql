-- A tenant's full export (issue 10, point 2): the worker streams every table the tenant owns into one
-- NDJSON part file per table, then one ZIP with a manifest. The ZIP lives on disk (LAUREL_EXPORT_DIR),
-- not in the database: a large tenant's export is gigabytes. These two tables are its bookkeeping: the
-- export's state and progress, and per table a checkpoint (keyset position, rows and bytes written) so a
-- worker that crashed mid-way resumes where the last committed checkpoint left it instead of from zero.

create type tenant_export_state as enum ('queued', 'running', 'completed', 'failed');

create table tenant_exports (
  tenant_id uuid not null references tenants (id),
  id uuid not null default uuid_v7(),
  state tenant_export_state not null default 'queued',
  requested_by_user_id uuid references users (id) on delete set null,
  format_version text not null,
  tables_total integer not null default 0 check (tables_total >= 0),
  tables_done integer not null default 0 check (tables_done between 0 and tables_total),
  rows_written bigint not null default 0 check (rows_written >= 0),
  -- Attempts of the worker task so far (a resumed export has more than one).
  attempts integer not null default 0,
  started_at timestamptz,
  finished_at timestamptz,
  -- The finished ZIP: its name inside the export directory, size and digest; the link expires with it.
  file_name text check (file_name ~ '^[0-9a-f-]{36}/[0-9a-f-]{36}\.zip$'),
  bytes bigint check (bytes >= 0),
  sha256 text check (sha256 ~ '^[0-9a-f]{64}$'),
  expires_at timestamptz,
  failure text check (length(failure) <= 2000),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (tenant_id, id),
  check ((state = 'completed') = (file_name is not null and sha256 is not null and expires_at is not null))
);
create index tenant_exports_newest on tenant_exports (tenant_id, created_at desc, id desc);
-- At most one export runs per tenant: a second would only read the same rows again.
create unique index tenant_exports_one_pending on tenant_exports (tenant_id) where state in ('queued', 'running');
create trigger tenant_exports_touch before update on tenant_exports for each row execute function touch_updated_at();
alter table tenant_exports enable row level security;
alter table tenant_exports force row level security;
create policy tenant_exports_tenant_isolation on tenant_exports
  using (tenant_id = (select current_tenant_id())) with check (tenant_id = (select current_tenant_id()));
comment on policy tenant_exports_tenant_isolation on tenant_exports is 'Rows of the current tenant only; none without a tenant.';
-- Requested by the owner, moved along by the worker; who asked and when is never rewritten. (Prisma
-- writes the columns' defaults itself on insert, hence state and the counters in the insert grant.)
grant select, insert (tenant_id, id, requested_by_user_id, format_version, state, tables_total, tables_done, rows_written, attempts),
      update (state, tables_total, tables_done, rows_written, attempts, started_at, finished_at, file_name, bytes, sha256, expires_at, failure)
  on tenant_exports to :"member";

-- One checkpoint per table of an export. last_key is the primary key (after tenant_id) of the last row
-- in the part file as a JSON array; bytes is the part file's committed length (a longer file is cut back
-- to it on resume); sha256 is set once the table is done.
create table tenant_export_parts (
  tenant_id uuid not null references tenants (id),
  export_id uuid not null,
  table_name text not null check (table_name ~ '^[a-z_][a-z0-9_]{0,62}$'),
  position integer not null check (position >= 0),
  done boolean not null default false,
  rows bigint not null default 0 check (rows >= 0),
  bytes bigint not null default 0 check (bytes >= 0),
  last_key jsonb check (jsonb_typeof(last_key) = 'array'),
  sha256 text check (sha256 ~ '^[0-9a-f]{64}$'),
  updated_at timestamptz not null default now(),
  primary key (tenant_id, export_id, table_name),
  unique (tenant_id, export_id, position),
  foreign key (tenant_id, export_id) references tenant_exports (tenant_id, id) on delete cascade,
  check (not done or sha256 is not null)
);
alter table tenant_export_parts enable row level security;
alter table tenant_export_parts force row level security;
create policy tenant_export_parts_tenant_isolation on tenant_export_parts
  using (tenant_id = (select current_tenant_id())) with check (tenant_id = (select current_tenant_id()));
comment on policy tenant_export_parts_tenant_isolation on tenant_export_parts is 'Rows of the current tenant only; none without a tenant.';
grant select, insert (tenant_id, export_id, table_name, position, done, rows, bytes), update (done, rows, bytes, last_key, sha256, updated_at)
  on tenant_export_parts to :"member";

-- The worker task that writes the export. The list is the current one (sql/036) plus export_tenant.
create or replace function queue_task_names() returns text[]
  language sql immutable parallel safe
  as $$ select array['send_emails', 'deliver_webhook', 'run_bulk_job', 'erase_person', 'export_person', 'rectify_person', 'export_tenant'] $$;
comment on function queue_task_names() is 'Tasks queue_job_for() accepts; replaced (alone) when a migration adds a task.';
