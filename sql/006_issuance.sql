-- Issuance: each tenant's issuer profile and signing keys, templates (OB 3.0 Achievements) with
-- immutable versions, recipients, credentials, and the Bitstring Status Lists that publish revocation
-- and suspension. Every table follows the tenant-table rules of 002.

create table issuer_profiles (
  tenant_id uuid not null references tenants (id),
  name text not null check (length(name) between 1 and 200),
  url text check (url ~ '^https?://'),
  email text check (email = lower(email) and length(email) <= 320),
  description text check (length(description) <= 5000),
  image_url text check (image_url ~ '^https?://'),
  updated_at timestamptz not null default now(),
  primary key (tenant_id)
);
create trigger issuer_profiles_touch before update on issuer_profiles for each row execute function touch_updated_at();
alter table issuer_profiles enable row level security;
alter table issuer_profiles force row level security;
create policy issuer_profiles_tenant_isolation on issuer_profiles
  using (tenant_id = (select current_tenant_id())) with check (tenant_id = (select current_tenant_id()));
comment on policy issuer_profiles_tenant_isolation on issuer_profiles is 'Rows of the current tenant only; none without a tenant.';
create policy issuer_profiles_owner_maintenance on issuer_profiles to :"owner" using (true) with check (true);
comment on policy issuer_profiles_owner_maintenance on issuer_profiles is 'Migration owner and its SECURITY DEFINER functions only.';
grant select, insert, update (name, url, email, description, image_url) on issuer_profiles to :"member";

-- Ed25519 keys. The secret half is sealed with AES-256-GCM under a key-encryption key from
-- configuration (kek_version says which); only the application can open it.
create table signing_keys (
  tenant_id uuid not null references tenants (id),
  id uuid not null default gen_random_uuid(),
  key_number integer not null check (key_number > 0),
  public_key_multibase text not null,
  sealed_secret_key bytea not null,
  kek_version integer not null,
  created_at timestamptz not null default now(),
  retired_at timestamptz,
  primary key (tenant_id, id),
  unique (tenant_id, key_number)
);
create unique index signing_keys_one_active on signing_keys (tenant_id) where retired_at is null;
alter table signing_keys enable row level security;
alter table signing_keys force row level security;
create policy signing_keys_tenant_isolation on signing_keys
  using (tenant_id = (select current_tenant_id())) with check (tenant_id = (select current_tenant_id()));
comment on policy signing_keys_tenant_isolation on signing_keys is 'Rows of the current tenant only; none without a tenant.';
create policy signing_keys_owner_maintenance on signing_keys to :"owner" using (true) with check (true);
comment on policy signing_keys_owner_maintenance on signing_keys is 'Migration owner and its SECURITY DEFINER functions only.';
grant select, insert (tenant_id, id, key_number, public_key_multibase, sealed_secret_key, kek_version),
      update (retired_at, sealed_secret_key, kek_version)
  on signing_keys to :"member";

create type template_kind as enum ('BADGE', 'CERTIFICATE');
create type template_status as enum ('DRAFT', 'ACTIVE', 'ARCHIVED');
create type validity_kind as enum ('NONE', 'DAYS_AFTER_ISSUE', 'FIXED_DATE');

create table templates (
  tenant_id uuid not null references tenants (id),
  id uuid not null default gen_random_uuid(),
  kind template_kind not null,
  status template_status not null default 'DRAFT',
  current_version integer not null default 1,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (tenant_id, id)
);
create index templates_tenant_status on templates (tenant_id, status, created_at desc);
create trigger templates_touch before update on templates for each row execute function touch_updated_at();
alter table templates enable row level security;
alter table templates force row level security;
create policy templates_tenant_isolation on templates
  using (tenant_id = (select current_tenant_id())) with check (tenant_id = (select current_tenant_id()));
comment on policy templates_tenant_isolation on templates is 'Rows of the current tenant only; none without a tenant.';
create policy templates_owner_maintenance on templates to :"owner" using (true) with check (true);
comment on policy templates_owner_maintenance on templates is 'Migration owner and its SECURITY DEFINER functions only.';
grant select, insert (tenant_id, id, kind), update (status, current_version) on templates to :"member";

-- A version is never changed once written: credentials point at the version they were issued from.
create table template_versions (
  tenant_id uuid not null,
  template_id uuid not null,
  version integer not null check (version > 0),
  name text not null check (length(name) between 1 and 200),
  description text not null check (length(description) between 1 and 5000),
  criteria_narrative text check (length(criteria_narrative) <= 10000),
  criteria_url text check (criteria_url ~ '^https?://'),
  image_url text check (image_url ~ '^https?://'),
  tags text[] not null default '{}',
  alignments jsonb not null default '[]',
  validity validity_kind not null default 'NONE',
  validity_days integer check (validity_days > 0),
  valid_until timestamptz,
  custom_fields jsonb not null default '[]',
  created_at timestamptz not null default now(),
  primary key (tenant_id, template_id, version),
  foreign key (tenant_id, template_id) references templates (tenant_id, id),
  check (criteria_narrative is not null or criteria_url is not null),
  check ((validity = 'DAYS_AFTER_ISSUE') = (validity_days is not null)),
  check ((validity = 'FIXED_DATE') = (valid_until is not null))
);
alter table template_versions enable row level security;
alter table template_versions force row level security;
create policy template_versions_tenant_isolation on template_versions
  using (tenant_id = (select current_tenant_id())) with check (tenant_id = (select current_tenant_id()));
comment on policy template_versions_tenant_isolation on template_versions is 'Rows of the current tenant only; none without a tenant.';
create policy template_versions_owner_maintenance on template_versions to :"owner" using (true) with check (true);
comment on policy template_versions_owner_maintenance on template_versions is 'Migration owner and its SECURITY DEFINER functions only.';
grant select, insert on template_versions to :"member";

create table recipients (
  tenant_id uuid not null references tenants (id),
  id uuid not null default gen_random_uuid(),
  email text not null check (email = lower(email) and length(email) <= 320 and email like '%_@_%'),
  name text check (length(name) <= 200),
  external_id text check (length(external_id) <= 200),
  locale text not null default 'en' check (locale ~ '^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$'),
  attributes jsonb not null default '{}',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (tenant_id, id),
  unique (tenant_id, email)
);
create unique index recipients_external_id on recipients (tenant_id, external_id) where external_id is not null;
create index recipients_tenant_name on recipients (tenant_id, lower(name) text_pattern_ops);
create trigger recipients_touch before update on recipients for each row execute function touch_updated_at();
alter table recipients enable row level security;
alter table recipients force row level security;
create policy recipients_tenant_isolation on recipients
  using (tenant_id = (select current_tenant_id())) with check (tenant_id = (select current_tenant_id()));
comment on policy recipients_tenant_isolation on recipients is 'Rows of the current tenant only; none without a tenant.';
create policy recipients_owner_maintenance on recipients to :"owner" using (true) with check (true);
comment on policy recipients_owner_maintenance on recipients is 'Migration owner and its SECURITY DEFINER functions only.';
grant select, insert (tenant_id, id, email, name, external_id, locale, attributes),
      update (email, name, external_id, locale, attributes), delete
  on recipients to :"member";

create type status_purpose as enum ('revocation', 'suspension');

-- One bitstring per purpose and tenant block of 131,072 entries (16 KiB, the spec's minimum).
-- Credentials take the next index of the tenant's open list; `version` moves when a bit flips, so the
-- published, signed list can be cached per version.
create table status_lists (
  tenant_id uuid not null references tenants (id),
  id uuid not null default gen_random_uuid(),
  purpose status_purpose not null,
  capacity integer not null default 131072 check (capacity >= 131072),
  next_index integer not null default 0,
  version integer not null default 1,
  created_at timestamptz not null default now(),
  primary key (tenant_id, id)
);
create index status_lists_tenant_open on status_lists (tenant_id, purpose, created_at);
alter table status_lists enable row level security;
alter table status_lists force row level security;
create policy status_lists_tenant_isolation on status_lists
  using (tenant_id = (select current_tenant_id())) with check (tenant_id = (select current_tenant_id()));
comment on policy status_lists_tenant_isolation on status_lists is 'Rows of the current tenant only; none without a tenant.';
create policy status_lists_owner_maintenance on status_lists to :"owner" using (true) with check (true);
comment on policy status_lists_owner_maintenance on status_lists is 'Migration owner and its SECURITY DEFINER functions only.';
grant select, insert (tenant_id, id, purpose), update (next_index, version) on status_lists to :"member";

create type credential_status as enum ('ACTIVE', 'SUSPENDED', 'REVOKED');

create table credentials (
  tenant_id uuid not null references tenants (id),
  id uuid not null default gen_random_uuid(),
  template_id uuid not null,
  template_version integer not null,
  recipient_id uuid not null,
  status credential_status not null default 'ACTIVE',
  status_list_id uuid not null,
  status_index integer not null check (status_index >= 0),
  suspension_list_id uuid not null,
  suspension_index integer not null check (suspension_index >= 0),
  issued_at timestamptz not null default now(),
  valid_from timestamptz not null,
  valid_until timestamptz,
  field_values jsonb not null default '{}',
  evidence jsonb not null default '[]',
  document jsonb not null,
  idempotency_key text check (length(idempotency_key) between 1 and 200),
  revoked_at timestamptz,
  revocation_reason text check (length(revocation_reason) <= 1000),
  suspended_at timestamptz,
  created_at timestamptz not null default now(),
  primary key (tenant_id, id),
  unique (tenant_id, idempotency_key),
  unique (tenant_id, status_list_id, status_index),
  unique (tenant_id, suspension_list_id, suspension_index),
  foreign key (tenant_id, template_id, template_version) references template_versions (tenant_id, template_id, version),
  foreign key (tenant_id, recipient_id) references recipients (tenant_id, id),
  foreign key (tenant_id, status_list_id) references status_lists (tenant_id, id),
  foreign key (tenant_id, suspension_list_id) references status_lists (tenant_id, id),
  check (valid_until is null or valid_until > valid_from)
);
create index credentials_tenant_recipient on credentials (tenant_id, recipient_id);
create index credentials_tenant_template on credentials (tenant_id, template_id, template_version);
create index credentials_tenant_issued on credentials (tenant_id, issued_at desc);
alter table credentials enable row level security;
alter table credentials force row level security;
create policy credentials_tenant_isolation on credentials
  using (tenant_id = (select current_tenant_id())) with check (tenant_id = (select current_tenant_id()));
comment on policy credentials_tenant_isolation on credentials is 'Rows of the current tenant only; none without a tenant.';
create policy credentials_owner_maintenance on credentials to :"owner" using (true) with check (true);
comment on policy credentials_owner_maintenance on credentials is 'Migration owner and its SECURITY DEFINER functions only.';
grant select, insert (tenant_id, id, template_id, template_version, recipient_id, status_list_id, status_index,
                      suspension_list_id, suspension_index, issued_at, valid_from, valid_until, field_values,
                      evidence, document, idempotency_key),
      update (status, revoked_at, revocation_reason, suspended_at)
  on credentials to :"member";
