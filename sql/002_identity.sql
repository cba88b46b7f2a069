-- Tenants, users and who belongs where. Users are global (one login, many tenants); everything a
-- tenant owns carries tenant_id and sits behind the tenant_isolation policy.

create type member_role as enum ('owner', 'admin', 'issuer', 'analyst', 'viewer');

create table tenants (
  id uuid primary key default gen_random_uuid(),
  slug text not null unique check (slug ~ '^[a-z0-9][a-z0-9-]{1,46}[a-z0-9]$'),
  name text not null check (length(name) between 1 and 200),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create trigger tenants_touch before update on tenants for each row execute function touch_updated_at();
alter table tenants enable row level security;
alter table tenants force row level security;
create policy tenants_current on tenants
  using (id = (select current_tenant_id())) with check (id = (select current_tenant_id()));
comment on policy tenants_current on tenants is 'A transaction sees and edits only the tenant it acts for.';
create policy tenants_owner_maintenance on tenants to :"owner" using (true) with check (true);
comment on policy tenants_owner_maintenance on tenants is
  'The migration owner (and the SECURITY DEFINER functions it owns) reaches every row; no runtime role is or inherits it.';
grant select, update (name) on tenants to :"member";

create table users (
  id uuid primary key default gen_random_uuid(),
  email text not null unique check (email = lower(email) and length(email) <= 320 and email like '%_@_%'),
  name text not null check (length(name) between 1 and 200),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create trigger users_touch before update on users for each row execute function touch_updated_at();
alter table users enable row level security;
alter table users force row level security;
create policy users_self_update on users for update
  using (id = (select current_app_user_id())) with check (id = (select current_app_user_id()));
comment on policy users_self_update on users is 'Users edit only their own profile.';
create policy users_owner_maintenance on users to :"owner" using (true) with check (true);
comment on policy users_owner_maintenance on users is 'Migration owner and its SECURITY DEFINER functions only.';
grant select, update (name) on users to :"member";

-- Password hashes live apart so no query of users can ever return one; only definer functions read it.
create table user_passwords (
  user_id uuid primary key references users (id) on delete cascade,
  hash text not null,
  updated_at timestamptz not null default now()
);
alter table user_passwords enable row level security;
alter table user_passwords force row level security;
create policy user_passwords_owner_maintenance on user_passwords to :"owner" using (true) with check (true);
comment on policy user_passwords_owner_maintenance on user_passwords is
  'No runtime role reads password hashes; login goes through login_lookup().';

create table memberships (
  tenant_id uuid not null references tenants (id),
  id uuid not null default gen_random_uuid(),
  user_id uuid not null references users (id),
  role member_role not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (tenant_id, id),
  unique (tenant_id, user_id)
);
create index memberships_tenant_role on memberships (tenant_id, role);
-- users_visible looks memberships up by user within a tenant: served by the unique (tenant_id, user_id).
create trigger memberships_touch before update on memberships for each row execute function touch_updated_at();
alter table memberships enable row level security;
alter table memberships force row level security;
create policy memberships_tenant_isolation on memberships
  using (tenant_id = (select current_tenant_id())) with check (tenant_id = (select current_tenant_id()));
comment on policy memberships_tenant_isolation on memberships is 'Rows of the current tenant only; none without a tenant.';
create policy memberships_owner_maintenance on memberships to :"owner" using (true) with check (true);
comment on policy memberships_owner_maintenance on memberships is 'Migration owner and its SECURITY DEFINER functions only.';
grant select, update (role), delete on memberships to :"member";

-- users_visible needs memberships to exist.
create policy users_visible on users for select
  using (id = (select current_app_user_id())
         or exists (select 1 from memberships m
                    where m.tenant_id = (select current_tenant_id()) and m.user_id = users.id));
comment on policy users_visible on users is 'A user sees themself and the members of the tenant the transaction acts for.';
-- Backstop for the service's lock: a tenant never ends a statement without an owner.
create function memberships_keep_an_owner() returns trigger
  language plpgsql
  as $$
  begin
    if old.role = 'owner' and not exists (
      select 1 from memberships where tenant_id = old.tenant_id and role = 'owner'
    ) then
      raise exception 'a tenant must keep at least one owner' using errcode = 'P0001', hint = 'last_owner';
    end if;
    return null;
  end $$;
create trigger memberships_keep_an_owner after update of role or delete on memberships
  for each row execute function memberships_keep_an_owner();
