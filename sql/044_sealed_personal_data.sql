-- Personal data sealed at rest (issue 13). Each tenant gets its own random data keys, stored only
-- wrapped by the deployment's key-encryption keys (LAUREL_KEKS); recipients' email, name and attributes
-- are stored as AES-256-GCM ciphertext under them (src/modules/vault/), with the row's identity bound in,
-- so a dump, a disk snapshot or a leaked backup shows no one's name or address. Equality lookups go
-- through keyed blind indexes (HMAC-SHA-256 under the tenant's index key): by email, and by whole name
-- word for search. Rows written before this migration keep their text in legacy_* columns until the
-- vault seals them (vault/legacy.ts, run at start-up); nothing reads the legacy columns otherwise.

create table tenant_data_keys (
  tenant_id uuid not null references tenants (id),
  purpose text not null check (purpose in ('data', 'index')),
  version integer not null check (version > 0),
  wrapped bytea not null,
  kek_version integer not null,
  created_at timestamptz not null default now(),
  -- A data key no row is sealed under any more (a finished rotation); its wrapped bytes are erased.
  retired_at timestamptz,
  primary key (tenant_id, purpose, version),
  check (purpose = 'data' or version = 1)
);
comment on table tenant_data_keys is 'Per-tenant data keys, wrapped by a KEK (AES-256-GCM, AAD = tenant, purpose, version); never stored unwrapped.';
alter table tenant_data_keys enable row level security;
alter table tenant_data_keys force row level security;
create policy tenant_data_keys_tenant_isolation on tenant_data_keys
  using (tenant_id = (select current_tenant_id())) with check (tenant_id = (select current_tenant_id()));
comment on policy tenant_data_keys_tenant_isolation on tenant_data_keys is 'Rows of the current tenant only; none without a tenant.';
grant select, insert (tenant_id, purpose, version, wrapped, kek_version), update (wrapped, kek_version, retired_at)
  on tenant_data_keys to :"member";

-- Recipients: the text columns become legacy, the sealed ones take their place.
alter table recipients drop constraint recipients_tenant_id_email_key;
drop index recipients_tenant_name;
alter table recipients drop constraint recipients_email_check;
alter table recipients drop constraint recipients_name_check;
alter table recipients rename column email to legacy_email;
alter table recipients rename column name to legacy_name;
alter table recipients rename column attributes to legacy_attributes;
alter table recipients alter column legacy_email drop not null;
alter table recipients alter column legacy_attributes drop not null;
alter table recipients alter column legacy_attributes drop default;
alter table recipients
  add column key_version integer,
  add column email_sealed bytea,
  add column email_index bytea,
  add column name_sealed bytea,
  add column name_words bytea[] not null default '{}',
  add column attributes_sealed bytea,
  add constraint recipients_sealed_or_legacy check (
    (key_version is not null and email_sealed is not null and email_index is not null and attributes_sealed is not null)
    or (key_version is null and legacy_email is not null));
comment on column recipients.key_version is 'Data-key version that sealed this row''s fields; null while the row is legacy plain text.';
comment on column recipients.email_index is 'Blind index of the normalised email (HMAC-SHA-256 under the tenant''s index key).';
comment on column recipients.name_words is 'Blind indexes of the name''s words, for whole-word search.';
create unique index recipients_email_index on recipients (tenant_id, email_index) where email_index is not null;
create unique index recipients_legacy_email on recipients (tenant_id, legacy_email) where legacy_email is not null;
create index recipients_name_words on recipients using gin (name_words);
comment on index recipients_name_words is
  'cross-tenant: GIN cannot lead with tenant_id without btree_gin; each word index is an HMAC under its tenant''s own key, so no two tenants share entries, and every query also filters tenant_id (RLS).';
create index recipients_key_version on recipients (tenant_id, key_version);

revoke insert, update on recipients from :"member";
grant insert (tenant_id, id, key_version, email_sealed, email_index, name_sealed, name_words, attributes_sealed, external_id, locale),
      update (key_version, email_sealed, email_index, name_sealed, name_words, attributes_sealed, external_id, locale,
              legacy_email, legacy_name, legacy_attributes,
              tracking_consent, restricted_at, objected_at, is_child, birth_date, guardian_consent_at)
  on recipients to :"member";
