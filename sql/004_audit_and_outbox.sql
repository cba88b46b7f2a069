-- The audit log (append-only: the runtime roles may insert and read, never change) and the outbox of
-- emails that the delivery worker sends. Both are written in the transaction of the change they record.

create type actor_kind as enum ('user', 'api_key', 'system');

create table audit_log (
  tenant_id uuid not null references tenants (id),
  id uuid not null default uuid_v7(),
  at timestamptz not null default now(),
  actor_kind actor_kind not null,
  actor_id uuid,
  action text not null check (action ~ '^[a-z_]+(\.[a-z_]+)+$'),
  target_type text,
  target_id text,
  request_id text,
  details jsonb not null default '{}',
  primary key (tenant_id, id)
);
create index audit_log_tenant_action on audit_log (tenant_id, action, id desc);
create index audit_log_tenant_actor on audit_log (tenant_id, actor_id, id desc);
create index audit_log_tenant_at on audit_log (tenant_id, at desc);
alter table audit_log enable row level security;
alter table audit_log force row level security;
create policy audit_log_tenant_isolation on audit_log
  using (tenant_id = (select current_tenant_id())) with check (tenant_id = (select current_tenant_id()));
comment on policy audit_log_tenant_isolation on audit_log is 'Rows of the current tenant only; none without a tenant.';
create policy audit_log_owner_maintenance on audit_log to :"owner" using (true) with check (true);
comment on policy audit_log_owner_maintenance on audit_log is 'Migration owner and its SECURITY DEFINER functions only.';
grant select, insert on audit_log to :"member";

create type outbox_status as enum ('pending', 'sending', 'sent', 'failed');

create table email_outbox (
  tenant_id uuid not null references tenants (id),
  id uuid not null default uuid_v7(),
  kind text not null,
  to_email text not null check (length(to_email) <= 320),
  locale text not null default 'en',
  payload jsonb not null default '{}',
  idempotency_key text not null,
  status outbox_status not null default 'pending',
  attempts integer not null default 0,
  last_error text,
  created_at timestamptz not null default now(),
  sent_at timestamptz,
  primary key (tenant_id, id),
  unique (tenant_id, idempotency_key)
);
create index email_outbox_tenant_status on email_outbox (tenant_id, status, id);
alter table email_outbox enable row level security;
alter table email_outbox force row level security;
create policy email_outbox_tenant_isolation on email_outbox
  using (tenant_id = (select current_tenant_id())) with check (tenant_id = (select current_tenant_id()));
comment on policy email_outbox_tenant_isolation on email_outbox is 'Rows of the current tenant only; none without a tenant.';
create policy email_outbox_owner_maintenance on email_outbox to :"owner" using (true) with check (true);
comment on policy email_outbox_owner_maintenance on email_outbox is 'Migration owner and its SECURITY DEFINER functions only.';
grant select (tenant_id, id, kind, to_email, locale, idempotency_key, status, attempts, last_error, created_at, sent_at),
      insert (tenant_id, id, kind, to_email, locale, payload, idempotency_key)
  on email_outbox to :"member";
