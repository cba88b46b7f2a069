-- One place decides what may be done with a person's data (GDPR Art. 18 restriction, Art. 21 objection,
-- Art. 7(3) consent withdrawal, Art. 8 children), and children under 13 get a guardian's consent first.
-- processing_allowed() is the rule; src/modules/privacy/processing.ts is the same rule in TypeScript, and a
-- test compares the two on every combination of flags. Every SQL path (engagement ingestion, partner
-- events, the reminder sweep, the send task's re-check) asks it, so queued work is re-checked at run time.

-- A child is marked, or has a birth date that makes them one while under 13 in the tenant's zone (computed
-- each time, never a stored flag that goes stale on their birthday).
alter table recipients
  add column is_child boolean not null default false,
  add column birth_date date check (birth_date >= date '1900-01-01'),
  add column guardian_consent_at timestamptz;
comment on column recipients.is_child is 'Marked as a child by staff: treated as under 13 whatever the birth date.';
comment on column recipients.birth_date is 'Makes the person a child while under 13 in the tenant''s zone; erased with them.';
comment on column recipients.guardian_consent_at is
  'When the guardian consent now in force was given (guardian_consents, state given); null when none is. Kept in the transaction that changes the consent.';
grant update (is_child, birth_date, guardian_consent_at) on recipients to :"member";
-- Engagement ingestion and partner events (gatekeeper definers) ask the rule per person: flags only, no name or address.
grant select (objected_at, is_child, birth_date, guardian_consent_at) on recipients to :"gatekeeper";

-- A message the rule stopped after it was queued: kept, with the reason in status_detail, never sent.
alter type email_status add value 'withheld' after 'failed';
-- Analytics counts it among the messages that did not go out (the rollups know seven outcomes).
create or replace function analytics_outcome(p_status email_status) returns text language sql immutable parallel safe
  as $$ select case p_status::text when 'queued' then 'pending' when 'sending' then 'pending' when 'withheld' then 'failed'
                    else p_status::text end $$;

-- The rule's refusal of a purpose it does not know (an error, never a silent yes or no).
create function processing_purpose_unknown(p_purpose text) returns boolean
  language plpgsql immutable set search_path = pg_catalog, pg_temp
  as $$ begin raise exception 'unknown processing purpose %', p_purpose using errcode = '22023'; end $$;

/* The rule. Purposes:
     issuance             issuing a credential to the person
     email                emails about their credential (issued, revoked, suspended, reinstated)
     reminders            follow-ups: unopened reminders, expiry notices
     issuance_event       the credential.issued partner event
     partner_events       every other partner event naming their credential (viewed, shared, delivered, ...)
     tracking             opens and clicks linked to them (the pixel, per-person engagement events)
     analytics_by_person  engagement counted per credential (funnel stages, first touches)
   A child without a guardian's consent: nothing. Restriction (Art. 18): storage only, so issuance (the
   record the tenant keeps) but no email, event or tracking. Objection (Art. 21): no reminders, tracking,
   partner events or per-person analytics; emails about the credential itself still go. Consent withdrawn
   (Art. 7(3)): no tracking. A child with consent: issuance, its email and its issuance event only. */
-- Plain SQL without SET, so the planner inlines it into the queries that call it per row (engagement
-- ingestion, compose, reminders): 100,000 calls take 30-45 ms, against 0.8-1.1 s as PL/pgSQL
-- (test/bench/processing-rule.ts). The zone is read only for a birth date (checking it costs a
-- subtransaction); an unknown zone computes in UTC, as the TypeScript rule does.
create function processing_allowed(p_purpose text, p_tracking_consent boolean, p_restricted_at timestamptz, p_objected_at timestamptz,
                                   p_is_child boolean, p_birth_date date, p_guardian_consent_at timestamptz,
                                   p_zone text, p_now timestamptz)
  returns boolean
  language sql stable parallel safe
  as $$
    -- "child" is written out where it is used (a FROM clause would stop the inlining).
    select case
      when p_purpose not in ('issuance', 'email', 'reminders', 'issuance_event', 'partner_events', 'tracking', 'analytics_by_person')
        then public.processing_purpose_unknown(p_purpose)
      when p_guardian_consent_at is null and (case when coalesce(p_is_child, false) then true when p_birth_date is null then false
                  else p_birth_date + interval '13 years'
                       > (p_now at time zone (case when public.is_known_time_zone(p_zone) then p_zone else 'UTC' end))::date end) then false
      when p_purpose = 'issuance' then true
      when p_purpose = 'email' then p_restricted_at is null
      when p_purpose = 'issuance_event' then p_restricted_at is null and p_objected_at is null
      when p_restricted_at is not null or p_objected_at is not null then false
      when (case when coalesce(p_is_child, false) then true when p_birth_date is null then false
                  else p_birth_date + interval '13 years'
                       > (p_now at time zone (case when public.is_known_time_zone(p_zone) then p_zone else 'UTC' end))::date end) then false
      when p_purpose = 'tracking' then coalesce(p_tracking_consent, false)
      else true
    end
  $$;
comment on function processing_allowed(text, boolean, timestamptz, timestamptz, boolean, date, timestamptz, text, timestamptz) is
  'The one rule on what may be done with a person''s data (mirrored by src/modules/privacy/processing.ts; a test compares them).';

create function try_uuid(p_text text) returns uuid language sql immutable parallel safe
  as $$ select case when p_text ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then p_text::uuid end $$;

/* The rule for one recipient of a tenant, now. A recipient that does not exist (erased rows stay) answers null. */
create function recipient_may_process(p_tenant_id uuid, p_recipient_id uuid, p_purpose text)
  returns boolean
  language sql stable set search_path = pg_catalog, pg_temp
  as $$
    select public.processing_allowed(p_purpose, r.tracking_consent, r.restricted_at, r.objected_at, r.is_child, r.birth_date,
                                     r.guardian_consent_at, t.time_zone, now())
      from public.recipients r join public.tenants t on t.id = r.tenant_id
     where r.tenant_id = p_tenant_id and r.id = p_recipient_id
  $$;

/* Whether a partner event may go: events that name a credential or recipient ask the rule for its person
   (credential.issued as issuance_event, every other one as partner_events); the rest name no one. */
create function partner_event_allowed(p_tenant_id uuid, p_event_type text, p_data jsonb)
  returns boolean
  language sql stable set search_path = pg_catalog, pg_temp
  as $$
    select coalesce(public.recipient_may_process(p_tenant_id,
             coalesce((select c.recipient_id from public.credentials c
                        where c.tenant_id = p_tenant_id and c.id = public.try_uuid(p_data ->> 'credentialId')),
                      public.try_uuid(p_data ->> 'recipientId')),
             case when p_event_type = 'credential.issued' then 'issuance_event' else 'partner_events' end), true)
  $$;

/* Which purpose an email of this kind serves; null: not processing of the person's data under the rule
   (staff invitations, deadline warnings, a guardian's consent request, answers to the person's own requests). */
create function email_purpose(p_kind text) returns text language sql immutable parallel safe
  as $$ select case when p_kind in ('credential_reminder', 'credential_expiring') then 'reminders'
                    when p_kind in ('credential_issued', 'credential_revoked', 'credential_suspended', 'credential_reinstated') then 'email'
               end $$;

-- Consent history: each choice about a person's data, when, and by whom or which request (Art. 7(1): the
-- controller must be able to show consent). Never rewritten: a later choice is a new row.
create type privacy_choice as enum ('tracking_consent', 'restriction', 'objection', 'child', 'guardian_consent');
create type privacy_choice_source as enum ('staff', 'data_subject_request', 'guardian');
create table privacy_choices (
  tenant_id uuid not null references tenants (id),
  id uuid not null default uuid_v7(),
  recipient_id uuid not null,
  choice privacy_choice not null,
  -- tracking_consent and guardian_consent: given (true) or withdrawn; the others: set (true) or lifted.
  value boolean not null,
  made_at timestamptz not null default now(),
  source privacy_choice_source not null,
  actor_kind actor_kind not null,
  actor_id uuid,
  request_id uuid,
  guardian_consent_id uuid,
  primary key (tenant_id, id),
  foreign key (tenant_id, recipient_id) references recipients (tenant_id, id),
  foreign key (tenant_id, request_id) references data_subject_requests (tenant_id, id),
  check (source <> 'data_subject_request' or request_id is not null)
);
create index privacy_choices_recipient on privacy_choices (tenant_id, recipient_id, made_at);
alter table privacy_choices enable row level security;
alter table privacy_choices force row level security;
create policy privacy_choices_tenant_isolation on privacy_choices
  using (tenant_id = (select current_tenant_id())) with check (tenant_id = (select current_tenant_id()));
comment on policy privacy_choices_tenant_isolation on privacy_choices is 'Rows of the current tenant only; none without a tenant.';
grant select, insert (tenant_id, id, recipient_id, choice, value, made_at, source, actor_kind, actor_id, request_id, guardian_consent_id)
  on privacy_choices to :"member";

-- A guardian's consent for a child (GDPR Art. 8): who, when, and the exact wording shown.
create type guardian_consent_state as enum ('pending', 'given', 'withdrawn', 'expired');
create table guardian_consents (
  tenant_id uuid not null references tenants (id),
  id uuid not null default uuid_v7(),
  recipient_id uuid not null,
  -- Null once the child is erased (erase_guardians() below).
  guardian_email text check (guardian_email = lower(guardian_email) and length(guardian_email) <= 320),
  guardian_name text check (length(guardian_name) between 1 and 200),
  wording text not null check (length(wording) between 1 and 4000),
  wording_version text not null check (length(wording_version) between 1 and 50),
  state guardian_consent_state not null default 'pending',
  requested_at timestamptz not null default now(),
  requested_by_user_id uuid references users (id) on delete set null,
  expires_at timestamptz not null,
  given_at timestamptz,
  withdrawn_at timestamptz,
  given_via text check (given_via in ('email_link', 'staff')),
  primary key (tenant_id, id),
  foreign key (tenant_id, recipient_id) references recipients (tenant_id, id),
  check (expires_at > requested_at),
  check (state not in ('given', 'withdrawn') or (given_at is not null and given_via is not null)),
  check ((state = 'withdrawn') = (withdrawn_at is not null))
);
-- At most one consent waiting and one in force per child.
create unique index guardian_consents_one_pending on guardian_consents (tenant_id, recipient_id) where state = 'pending';
create unique index guardian_consents_one_given on guardian_consents (tenant_id, recipient_id) where state = 'given';
alter table guardian_consents enable row level security;
alter table guardian_consents force row level security;
create policy guardian_consents_tenant_isolation on guardian_consents
  using (tenant_id = (select current_tenant_id())) with check (tenant_id = (select current_tenant_id()));
comment on policy guardian_consents_tenant_isolation on guardian_consents is 'Rows of the current tenant only; none without a tenant.';
-- What was asked and shown is fixed at request; only the state and its times move.
grant select,
      insert (tenant_id, id, recipient_id, guardian_email, guardian_name, wording, wording_version, requested_at,
              requested_by_user_id, expires_at),
      update (state, given_at, withdrawn_at, given_via)
  on guardian_consents to :"member";
alter table privacy_choices add foreign key (tenant_id, guardian_consent_id) references guardian_consents (tenant_id, id);

-- Engagement: whether an event names anyone is the rule's (tracking and analytics_by_person), not a copy of it.
set local role :"gatekeeper";
create or replace function record_engagement_events(p_events jsonb)
  returns integer
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
  as $fn$
  declare
    n integer;
  begin
    if jsonb_typeof(p_events) is distinct from 'array' then
      raise exception 'engagement events come as a JSON array' using errcode = '22023';
    end if;
    if jsonb_array_length(p_events) > 1000 then
      raise exception 'at most 1000 engagement events a call' using errcode = '54000';
    end if;
    with incoming as materialized (
      select x.tenant_id, x.credential_id, o.id as message_id, x.type, x.channel, x.network, x.format, x.ua_class, x.ip_hash,
             coalesce(x.machine, false) as machine,
             least(greatest(coalesce(x.occurred_at, now()), now() - interval '1 day'), now()) as occurred_at,
             c.template_id, c.recipient_id,
             -- One rule decides (sql/037): tracked and counted per person, or neither.
             (public.processing_allowed('tracking', r.tracking_consent, r.restricted_at, r.objected_at, r.is_child, r.birth_date,
                                        r.guardian_consent_at, t.time_zone, now())
              and public.processing_allowed('analytics_by_person', r.tracking_consent, r.restricted_at, r.objected_at, r.is_child,
                                            r.birth_date, r.guardian_consent_at, t.time_zone, now())) as personal
        from jsonb_to_recordset(p_events) as x(tenant_id uuid, credential_id uuid, message_id uuid, type public.engagement_type,
                                               channel text, network text, format text, ua_class text, ip_hash text,
                                               machine boolean, occurred_at timestamptz)
        join public.credentials c on c.tenant_id = x.tenant_id and c.id = x.credential_id
        join public.recipients r on r.tenant_id = c.tenant_id and r.id = c.recipient_id
        join public.tenants t on t.id = c.tenant_id
        left join public.email_outbox o on o.tenant_id = x.tenant_id and o.id = x.message_id and o.credential_id = x.credential_id
    ),
    inserted as (
      insert into public.engagement_events (tenant_id, occurred_at, type, template_id, credential_id, recipient_id, message_id,
                                            channel, network, format, ua_class, ip_hash, machine)
      select i.tenant_id,
             case when i.personal then i.occurred_at else date_trunc('hour', i.occurred_at) end,
             i.type, i.template_id,
             case when i.personal then i.credential_id end,
             case when i.personal then i.recipient_id end,
             case when i.personal then i.message_id end,
             i.channel, i.network, i.format, i.ua_class,
             case when i.personal then i.ip_hash end,
             i.machine
        from incoming i
      returning 1
    ),
    -- What people (not scanners) did, for reminders and the message's own record.
    engaged as (
      update public.credentials c
         set engaged_at = coalesce(c.engaged_at, f.first_at), claimed_at = coalesce(c.claimed_at, f.claimed_at)
        -- engaged_at comes from tracking, so only from recipients who allow it (it stops reminders);
        -- a claim is the recipient's own explicit act and is recorded either way.
        from (select i.tenant_id, i.credential_id, min(i.occurred_at) filter (where i.personal) as first_at,
                     min(i.occurred_at) filter (where i.type = 'claimed') as claimed_at
                from incoming i
               where not i.machine and i.type <> 'verified'
               group by 1, 2) f
       where c.tenant_id = f.tenant_id and c.id = f.credential_id
         -- Only rows that change: a popular credential is not rewritten on every view.
         and ((c.engaged_at is null and f.first_at is not null) or (c.claimed_at is null and f.claimed_at is not null))
      returning 1
    ),
    opened as (
      update public.email_outbox o
         set opened_at = coalesce(o.opened_at, f.opened_at), clicked_at = coalesce(o.clicked_at, f.clicked_at)
        from (select i.tenant_id, i.message_id,
                     min(i.occurred_at) filter (where i.type = 'email_opened') as opened_at,
                     min(i.occurred_at) filter (where i.type = 'link_clicked') as clicked_at
                from incoming i
               where not i.machine and i.personal and i.message_id is not null
               group by 1, 2) f
       where o.tenant_id = f.tenant_id and o.id = f.message_id
         and ((o.opened_at is null and f.opened_at is not null) or (o.clicked_at is null and f.clicked_at is not null))
      returning 1
    ),
    -- Partners hear about people's actions on credentials whose recipients allow it: once per
    -- credential and kind of event an hour, so a busy page (or someone reloading it) cannot flood
    -- the tenant's partners or the shared queue.
    emitted as (
      select public.emit_partner_event_for(f.tenant_id, f.event_type,
               jsonb_strip_nulls(jsonb_build_object('credentialId', f.credential_id, 'channel', f.channel, 'network', f.network,
                                                    'occurredAt', f.occurred_at)))
        from (select distinct on (i.tenant_id, i.credential_id, i.type) i.tenant_id, i.credential_id, i.channel, i.network, i.occurred_at,
                     case i.type when 'page_viewed' then 'credential.viewed' when 'verified' then 'credential.verified'
                                 else 'credential.shared' end as event_type, i.type
                from incoming i
               where i.personal and not i.machine and i.type in ('page_viewed', 'shared', 'linkedin_added', 'verified')
               order by i.tenant_id, i.credential_id, i.type, i.occurred_at) f
       where not exists (
         select 1 from public.engagement_events e
          where e.tenant_id = f.tenant_id and e.credential_id = f.credential_id and e.type = f.type and not e.machine
            and e.occurred_at > f.occurred_at - interval '1 hour' and e.occurred_at <= f.occurred_at)
    )
    select (select count(*) from inserted)::integer
           + 0 * ((select count(*) from engaged) + (select count(*) from opened) + (select count(*) from emitted))::integer
      into n;
    return n;
  end
  $fn$;
comment on function record_engagement_events(jsonb) is
  'Writes a batch of at most 1,000 engagement events, each only into the tenant that owns its credential (and a message only if it is that credential''s); processing_allowed() decides whether it names anyone.';

create or replace function emit_partner_events_for(p_tenant_id uuid, p_event_type text, p_items jsonb)
  returns integer
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
  as $$
  declare
    delivery record;
    n integer := 0;
    allowed jsonb;
  begin
    if not exists (select 1 from public.webhook_endpoints e
                    where e.tenant_id = p_tenant_id and e.enabled and p_event_type = any(e.event_types)) then
      return 0;
    end if;
    -- Events about a person the rule keeps from partners are never made (sql/037).
    select coalesce(jsonb_agg(item.value order by item.n), '[]') into allowed
      from jsonb_array_elements(p_items) with ordinality as item(value, n)
     where public.partner_event_allowed(p_tenant_id, p_event_type, item.value);
    for delivery in
      insert into public.webhook_deliveries (tenant_id, endpoint_id, event_type, payload)
      select e.tenant_id, e.id, p_event_type,
             jsonb_build_object('type', p_event_type,
                                'timestamp', to_char(clock_timestamp() at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                                'data', item.value)
        from public.webhook_endpoints e cross join jsonb_array_elements(allowed) item
       where e.tenant_id = p_tenant_id and e.enabled and p_event_type = any(e.event_types)
      returning id
    loop
      -- 25 attempts (WEBHOOK_JOB_ATTEMPTS): the job fails only for our own errors, retried for days.
      perform public.queue_job_for(p_tenant_id, 'deliver_webhook', jsonb_build_object('deliveryId', delivery.id), null, null, 25);
      n := n + 1;
    end loop;
    return n;
  end
  $$;
comment on function emit_partner_events_for(uuid, text, jsonb) is
  'Owner-only: called by definer functions that have already established the tenant (provider webhooks, engagement); drops items the processing rule withholds.';
set local role :"owner";

-- Erasure: a child's guardians are personal data too. A function of its own rather than another copy of
-- erase_recipient()'s body (which other migrations also replace): the erasure task calls it just before
-- erase_recipient(), in the same transaction. The guardians' addresses and names go, the child's birth
-- date too; that a consent was given, when, how and its wording (which names the organisation only) stay.
create function erase_guardians(p_recipient_id uuid)
  returns integer
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
  as $$
  declare
    tenant uuid := public.current_tenant_id();
    n integer;
  begin
    if tenant is null then
      raise exception 'erasure needs a tenant' using errcode = '42501';
    end if;
    update public.guardian_consents
       set guardian_email = null, guardian_name = null
     where tenant_id = tenant and recipient_id = p_recipient_id;
    get diagnostics n = row_count;
    update public.recipients set birth_date = null where tenant_id = tenant and id = p_recipient_id;
    return n;
  end
  $$;
comment on function erase_guardians(uuid) is
  'GDPR Art. 17 for a child: blanks their guardians'' names and addresses and their birth date, in the current tenant only (members may not rewrite a consent record).';
revoke execute on function erase_guardians(uuid) from public;
grant execute on function erase_guardians(uuid) to :"member";
