-- One-time links (GDPR Art. 12(6): identity verified before a request is answered). A person without an
-- account proves they hold the address on record by using a link Laurel emailed to it; a guardian
-- proves the same for the address a tenant gave for them. The link's URL carries an HMAC of the tenant and
-- the link's id (privacy/links.ts), so nothing secret is stored here; used_at makes it work once.

create type privacy_link_purpose as enum ('data_subject_request', 'guardian_consent', 'guardian_erasure');

create table privacy_links (
  tenant_id uuid not null references tenants (id),
  id uuid not null default uuid_v7(),
  purpose privacy_link_purpose not null,
  recipient_id uuid not null,
  -- The address the link was emailed to (the recipient's on record, or their guardian's).
  sent_to text not null check (sent_to = lower(sent_to) and length(sent_to) <= 320),
  -- What using the link does, e.g. {"kind": "erasure"}; never a secret.
  payload jsonb not null default '{}' check (jsonb_typeof(payload) = 'object' and length(payload::text) <= 4000),
  created_at timestamptz not null default now(),
  expires_at timestamptz not null check (expires_at > created_at),
  used_at timestamptz check (used_at >= created_at),
  primary key (tenant_id, id),
  foreign key (tenant_id, recipient_id) references recipients (tenant_id, id)
);
create index privacy_links_recipient on privacy_links (tenant_id, recipient_id, created_at desc);
alter table privacy_links enable row level security;
alter table privacy_links force row level security;
create policy privacy_links_tenant_isolation on privacy_links
  using (tenant_id = (select current_tenant_id())) with check (tenant_id = (select current_tenant_id()));
comment on policy privacy_links_tenant_isolation on privacy_links is
  'Rows of the current tenant only; none without a tenant.';
-- Created, then used once (used_at), deleted by erasure with the rest of the person; never rewritten.
grant select, insert (tenant_id, id, purpose, recipient_id, sent_to, payload, created_at, expires_at), update (used_at), delete
  on privacy_links to :"member";
