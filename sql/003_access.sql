-- How callers prove who they are: API keys (per tenant), sessions (per user) and invitations.
-- Secrets are stored only as sha256 of 32 random bytes; the runtime roles may write a hash but never
-- read one back: lookups go through the SECURITY DEFINER functions in 005.

create type api_key_scope as enum ('issue', 'read', 'analytics', 'export', 'admin');

create table api_keys (
  tenant_id uuid not null references tenants (id),
  id uuid not null default gen_random_uuid(),
  name text not null check (length(name) between 1 and 100),
  prefix text not null,
  secret_hash bytea not null check (length(secret_hash) = 32),
  scopes api_key_scope[] not null check (cardinality(scopes) > 0),
  created_by_user_id uuid references users (id),
  created_at timestamptz not null default now(),
  expires_at timestamptz,
  last_used_at timestamptz,
  revoked_at timestamptz,
  primary key (tenant_id, id)
);
create index api_keys_tenant_created on api_keys (tenant_id, created_at desc);
alter table api_keys enable row level security;
alter table api_keys force row level security;
create policy api_keys_tenant_isolation on api_keys
  using (tenant_id = (select current_tenant_id())) with check (tenant_id = (select current_tenant_id()));
comment on policy api_keys_tenant_isolation on api_keys is 'Rows of the current tenant only; none without a tenant.';
create policy api_keys_owner_maintenance on api_keys to :"owner" using (true) with check (true);
comment on policy api_keys_owner_maintenance on api_keys is 'Migration owner and its SECURITY DEFINER functions only.';
grant select (tenant_id, id, name, prefix, scopes, created_by_user_id, created_at, expires_at, last_used_at, revoked_at),
      insert (tenant_id, id, name, prefix, secret_hash, scopes, created_by_user_id, expires_at),
      update (revoked_at)
  on api_keys to :"member";

create table sessions (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references users (id) on delete cascade,
  active_tenant_id uuid references tenants (id),
  secret_hash bytea not null check (length(secret_hash) = 32),
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  last_seen_at timestamptz not null default now(),
  revoked_at timestamptz,
  user_agent text
);
create index sessions_user on sessions (user_id, created_at desc);
alter table sessions enable row level security;
alter table sessions force row level security;
create policy sessions_own on sessions
  using (user_id = (select current_app_user_id())) with check (user_id = (select current_app_user_id()));
comment on policy sessions_own on sessions is 'A user sees and ends only their own sessions.';
create policy sessions_owner_maintenance on sessions to :"owner" using (true) with check (true);
comment on policy sessions_owner_maintenance on sessions is 'Migration owner and its SECURITY DEFINER functions only.';
grant select (id, user_id, active_tenant_id, created_at, expires_at, last_seen_at, revoked_at, user_agent),
      update (active_tenant_id, revoked_at)
  on sessions to :"member";

create table invitations (
  tenant_id uuid not null references tenants (id),
  id uuid not null default gen_random_uuid(),
  email text not null check (email = lower(email) and length(email) <= 320),
  role member_role not null,
  secret_hash bytea not null check (length(secret_hash) = 32),
  invited_by_user_id uuid references users (id),
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  accepted_at timestamptz,
  accepted_by_user_id uuid references users (id),
  revoked_at timestamptz,
  primary key (tenant_id, id)
);
-- One open invitation per address and tenant.
create unique index invitations_open_email on invitations (tenant_id, email)
  where accepted_at is null and revoked_at is null;
create index invitations_tenant_created on invitations (tenant_id, created_at desc);
alter table invitations enable row level security;
alter table invitations force row level security;
create policy invitations_tenant_isolation on invitations
  using (tenant_id = (select current_tenant_id())) with check (tenant_id = (select current_tenant_id()));
comment on policy invitations_tenant_isolation on invitations is 'Rows of the current tenant only; none without a tenant.';
create policy invitations_owner_maintenance on invitations to :"owner" using (true) with check (true);
comment on policy invitations_owner_maintenance on invitations is 'Migration owner and its SECURITY DEFINER functions only.';
grant select (tenant_id, id, email, role, invited_by_user_id, created_at, expires_at, accepted_at, accepted_by_user_id, revoked_at),
      insert (tenant_id, id, email, role, secret_hash, invited_by_user_id, expires_at),
      update (revoked_at)
  on invitations to :"member";
