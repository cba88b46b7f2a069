-- People's rights (GDPR Art. 15-21, 7(3)): each request a person makes about their data is a row with
-- its state, who filed it, how identity was verified and its deadline; a tenant lists its public
-- holidays so that "seven working days" can skip them. Carrying requests out comes in later migrations.

-- A key scope for privacy:manage. Added here, used by no statement of this transaction (PostgreSQL
-- refuses a new enum value in the transaction that adds it).
alter type api_key_scope add value 'privacy';

create type data_subject_request_kind as enum
  ('access', 'portability', 'rectification', 'erasure', 'restriction', 'objection', 'consent_withdrawal');
create type data_subject_request_state as enum ('open', 'in_progress', 'completed', 'refused', 'cancelled');
create type data_subject_request_filer as enum ('staff', 'data_subject');
create type identity_verification_method as enum ('document_checked', 'email_link', 'known_contact', 'other');

create table data_subject_requests (
  tenant_id uuid not null references tenants (id),
  id uuid not null default uuid_v7(),
  kind data_subject_request_kind not null,
  state data_subject_request_state not null default 'open',
  -- The person, when they are one of the tenant's recipients; otherwise the address they wrote from.
  recipient_id uuid,
  subject_email text check (subject_email = lower(subject_email) and length(subject_email) <= 320),
  filed_by data_subject_request_filer not null,
  filed_by_user_id uuid references users (id) on delete set null,
  filed_by_api_key_id uuid,
  identity_method identity_verification_method not null,
  identity_note text check (length(identity_note) <= 1000),
  received_at timestamptz not null default now(),
  deadline_at timestamptz not null check (deadline_at > received_at),
  -- When the request reached a final state (completed, refused or cancelled).
  completed_at timestamptz,
  outcome text check (length(outcome) <= 2000),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (tenant_id, id),
  foreign key (tenant_id, recipient_id) references recipients (tenant_id, id),
  foreign key (tenant_id, filed_by_api_key_id) references api_keys (tenant_id, id) on delete set null (filed_by_api_key_id),
  check (recipient_id is not null or subject_email is not null),
  check (filed_by = 'staff' or (filed_by_user_id is null and filed_by_api_key_id is null)),
  check ((state in ('completed', 'refused', 'cancelled')) = (completed_at is not null))
);
create index data_subject_requests_newest on data_subject_requests (tenant_id, received_at desc, id desc);
create index data_subject_requests_pending_deadline on data_subject_requests (tenant_id, deadline_at)
  where state in ('open', 'in_progress');
create index data_subject_requests_recipient on data_subject_requests (tenant_id, recipient_id);
create trigger data_subject_requests_touch before update on data_subject_requests
  for each row execute function touch_updated_at();
alter table data_subject_requests enable row level security;
alter table data_subject_requests force row level security;
create policy data_subject_requests_tenant_isolation on data_subject_requests
  using (tenant_id = (select current_tenant_id())) with check (tenant_id = (select current_tenant_id()));
comment on policy data_subject_requests_tenant_isolation on data_subject_requests is
  'Rows of the current tenant only; none without a tenant.';
-- A request is a record: members open it and move its state; nobody rewrites who asked, when, or the deadline.
grant select,
      insert (tenant_id, id, kind, recipient_id, subject_email, filed_by, filed_by_user_id, filed_by_api_key_id,
              identity_method, identity_note, received_at, deadline_at),
      update (state, completed_at, outcome)
  on data_subject_requests to :"member";

create table tenant_holidays (
  tenant_id uuid not null references tenants (id),
  day date not null,
  name text not null check (length(name) between 1 and 100),
  primary key (tenant_id, day)
);
alter table tenant_holidays enable row level security;
alter table tenant_holidays force row level security;
create policy tenant_holidays_tenant_isolation on tenant_holidays
  using (tenant_id = (select current_tenant_id())) with check (tenant_id = (select current_tenant_id()));
comment on policy tenant_holidays_tenant_isolation on tenant_holidays is
  'Rows of the current tenant only; none without a tenant.';
-- The list is replaced as a whole (delete, then insert).
grant select, insert (tenant_id, day, name), delete on tenant_holidays to :"member";
