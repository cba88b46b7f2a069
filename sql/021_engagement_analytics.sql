-- Engagement analytics (issue 9): aggregates kept as events, issuance, status changes and email
-- outcomes are written, so analysts' questions are answered from counters, never by scanning raw
-- events, and the counters outlive the raw rows they summarise.
--
-- Measures are defined once (README "Analytics: what each number means"; src/modules/analytics/stages.ts):
--   * a credential's stage bits: delivered 1, opened 2 (email_opened or link_clicked), viewed 4
--     (page_viewed), engaged 8 (shared, linkedin_added, downloaded), claimed 16, verified 32. Two masks
--     per credential: by people (events with machine = false) and by anyone (machines too); the
--     delivered bit (a credential email with delivered_at) is in both.
--   * an event counts where it was stored; a credential counts for a type once, at its first event of
--     that type (ties broken by the event's id), among people's events and among all events. Events
--     stored without a credential (recipients who withheld tracking consent or restricted processing)
--     count as events but never as credentials.
--
-- Time: every rollup row has a grain: 's' a 15-minute UTC slot (every IANA offset today is a multiple
-- of 15 minutes, so any zone's hours and days are unions of slots), 'd' a calendar day and 'm' a
-- calendar month in the tenant's time zone (tenants.time_zone; changing it recomputes 'd' and 'm'
-- from the slots in the same transaction). A range is answered from the coarsest rows it contains
-- wholly (analytics_cover()).
--
-- Concurrency: rollup tables are append-only delta rows (compacted = false), so concurrent writers
-- never wait on a hot counter; compact_engagement_analytics() folds them into one compacted row per
-- key. Per-credential state (analytics_credentials, analytics_first_touches) is updated under row locks
-- taken in key order, and each update records the previous values it replaced, so deltas are exact
-- under concurrent flushes. A per-tenant advisory lock is taken shared by every writer and exclusively
-- by a rebuild or a time-zone change.

alter table credentials add column bulk_job_id uuid;
comment on column credentials.bulk_job_id is 'The bulk job (campaign) that issued it, if any; an analytics dimension.';
grant insert (bulk_job_id) on credentials to :"member";
alter table tenants add column minimum_group_size integer not null default 1 check (minimum_group_size between 1 and 1000);
comment on column tenants.minimum_group_size is
  'Analytics cells counting fewer distinct credentials than this are suppressed (1: off).';
grant update (minimum_group_size) on tenants to :"member";

grant select (locale) on recipients to :"gatekeeper";
grant select (bulk_job_id, template_version) on credentials to :"gatekeeper";
grant select (time_zone, minimum_group_size) on tenants to :"gatekeeper";
grant select (from_address, to_email) on email_outbox to :"gatekeeper";
grant select (id, template_id, recipient_id, message_id, channel, network, format, ua_class) on engagement_events to :"gatekeeper";

-- ---------------------------------------------------------------------------------------------
-- Per-credential state: who reached what, first. Never readable by runtime roles (it is per person).

create table analytics_credentials (
  tenant_id uuid not null references tenants (id),
  credential_id uuid not null,
  issued_at timestamptz not null,
  template_id uuid not null,
  bulk_job_id uuid not null,   -- zero uuid: issued alone
  locale text not null,        -- the recipient's when issued (or when last rebuilt)
  status credential_status not null,
  human_mask smallint not null default 0,
  any_mask smallint not null default 0,
  first_view_at timestamptz,   -- people's first page_viewed
  first_share_at timestamptz,  -- people's first shared or linkedin_added
  prev_status credential_status,
  prev_human_mask smallint,
  prev_any_mask smallint,
  prev_first_view_at timestamptz,
  prev_first_share_at timestamptz,
  primary key (tenant_id, credential_id)
);
comment on table analytics_credentials is 'Per-credential stage masks and first-touch times; prev_* hold what the last update replaced.';

create table analytics_first_touches (
  tenant_id uuid not null references tenants (id),
  credential_id uuid not null,
  type engagement_type not null,
  human boolean not null,      -- true: first among people's events; false: first among all events
  occurred_at timestamptz not null,
  event_id uuid not null,
  channel text not null,
  network text not null,
  format text not null,
  ua_class text not null,
  machine boolean not null,
  prev_occurred_at timestamptz,
  prev_channel text,
  prev_network text,
  prev_format text,
  prev_ua_class text,
  prev_machine boolean,
  primary key (tenant_id, credential_id, type, human)
);
comment on table analytics_first_touches is 'The event each credential is credited to, per type; prev_* hold the credit an earlier late event took away.';

-- ---------------------------------------------------------------------------------------------
-- Rollups (append-only deltas, compacted later). Dimensions use '' and the zero uuid for "none".

create table analytics_event_rollups (
  tenant_id uuid not null references tenants (id),
  id bigint generated always as identity,
  grain text not null check (grain in ('s', 'd', 'm')),
  bucket timestamptz not null,
  dimension text not null check (dimension in ('t', 'j', 'c', 'n', 'd', 'f', 'l')),
  value text not null,
  type engagement_type not null,
  template_id uuid not null,
  machine boolean not null,
  events bigint not null,
  first_human bigint not null,
  first_any bigint not null,
  compacted boolean not null default false,
  primary key (tenant_id, id)
);
comment on table analytics_event_rollups is
  'Events and first touches per grain, bucket and one dimension (t template, j bulk job, c channel, n network, d device class, f format, l locale).';
create index analytics_event_rollups_read on analytics_event_rollups (tenant_id, dimension, grain, bucket)
  include (value, type, template_id, machine, events, first_human, first_any);
create unique index analytics_event_rollups_key on analytics_event_rollups
  (tenant_id, grain, bucket, dimension, value, type, template_id, machine) where compacted;
create index analytics_event_rollups_deltas on analytics_event_rollups (tenant_id) where not compacted;

create table analytics_cohort_rollups (
  tenant_id uuid not null references tenants (id),
  id bigint generated always as identity,
  grain text not null check (grain in ('s', 'd', 'm')),
  bucket timestamptz not null,   -- of issued_at
  template_id uuid not null,
  bulk_job_id uuid not null,
  locale text not null,
  status credential_status not null,
  human_mask smallint not null,
  any_mask smallint not null,
  credentials bigint not null,
  compacted boolean not null default false,
  primary key (tenant_id, id)
);
comment on table analytics_cohort_rollups is 'Credentials by issue time, template, bulk job, locale, status and the stages they reached.';
create index analytics_cohort_rollups_read on analytics_cohort_rollups (tenant_id, grain, bucket)
  include (template_id, bulk_job_id, locale, status, human_mask, any_mask, credentials);
create unique index analytics_cohort_rollups_key on analytics_cohort_rollups
  (tenant_id, grain, bucket, template_id, bulk_job_id, locale, status, human_mask, any_mask) where compacted;
create index analytics_cohort_rollups_deltas on analytics_cohort_rollups (tenant_id) where not compacted;

create table analytics_latency_rollups (
  tenant_id uuid not null references tenants (id),
  id bigint generated always as identity,
  grain text not null check (grain in ('s', 'd', 'm')),
  bucket timestamptz not null,   -- of issued_at
  template_id uuid not null,
  stage text not null check (stage in ('v', 's')),   -- first view, first share
  bin smallint not null,         -- analytics_latency_bin(seconds from issue)
  credentials bigint not null,
  compacted boolean not null default false,
  primary key (tenant_id, id)
);
comment on table analytics_latency_rollups is 'Histogram of time from issue to people''s first view and first share, by issue time and template.';
create index analytics_latency_rollups_read on analytics_latency_rollups (tenant_id, grain, bucket)
  include (template_id, stage, bin, credentials);
create unique index analytics_latency_rollups_key on analytics_latency_rollups
  (tenant_id, grain, bucket, template_id, stage, bin) where compacted;
create index analytics_latency_rollups_deltas on analytics_latency_rollups (tenant_id) where not compacted;

create table analytics_delivery_rollups (
  tenant_id uuid not null references tenants (id),
  id bigint generated always as identity,
  grain text not null check (grain in ('s', 'd', 'm')),
  bucket timestamptz not null,   -- of the message's created_at (when it was queued)
  template_id uuid not null,
  sender_domain text not null,   -- '' until it is sent
  outcome text not null check (outcome in ('pending', 'stored', 'sent', 'delivered', 'bounced', 'complained', 'failed')),
  messages bigint not null,
  compacted boolean not null default false,
  primary key (tenant_id, id)
);
comment on table analytics_delivery_rollups is 'Credential emails by queue time, template, sender domain and current outcome.';
create index analytics_delivery_rollups_read on analytics_delivery_rollups (tenant_id, grain, bucket)
  include (template_id, sender_domain, outcome, messages);
create unique index analytics_delivery_rollups_key on analytics_delivery_rollups
  (tenant_id, grain, bucket, template_id, sender_domain, outcome) where compacted;
create index analytics_delivery_rollups_deltas on analytics_delivery_rollups (tenant_id) where not compacted;

do $$
declare
  t text;
begin
  foreach t in array array['analytics_credentials', 'analytics_first_touches', 'analytics_event_rollups',
                           'analytics_cohort_rollups', 'analytics_latency_rollups', 'analytics_delivery_rollups'] loop
    execute format('alter table %I enable row level security', t);
    execute format('alter table %I force row level security', t);
    execute format('create policy %I on %I using (tenant_id = (select current_tenant_id())) with check (tenant_id = (select current_tenant_id()))',
                   t || '_tenant_isolation', t);
    execute format('comment on policy %I on %I is %L', t || '_tenant_isolation', t, 'Rows of the current tenant only; none without a tenant.');
  end loop;
end $$;
-- Analysts read aggregates only: the per-credential tables are not granted to any runtime role.
grant select on analytics_event_rollups, analytics_cohort_rollups, analytics_latency_rollups, analytics_delivery_rollups to :"member";
grant select, insert, update, delete on analytics_credentials, analytics_first_touches, analytics_event_rollups,
  analytics_cohort_rollups, analytics_latency_rollups, analytics_delivery_rollups to :"gatekeeper";
create policy analytics_credentials_gatekeeper_maintain on analytics_credentials to :"gatekeeper" using (true) with check (true);
comment on policy analytics_credentials_gatekeeper_maintain on analytics_credentials is
  'The analytics triggers write rows only for the tenant whose rows fired them; rebuild and compaction take a tenant.';
create policy analytics_first_touches_gatekeeper_maintain on analytics_first_touches to :"gatekeeper" using (true) with check (true);
comment on policy analytics_first_touches_gatekeeper_maintain on analytics_first_touches is
  'The analytics triggers write rows only for the tenant whose rows fired them; rebuild and compaction take a tenant.';
create policy analytics_event_rollups_gatekeeper_maintain on analytics_event_rollups to :"gatekeeper" using (true) with check (true);
comment on policy analytics_event_rollups_gatekeeper_maintain on analytics_event_rollups is
  'The analytics triggers write rows only for the tenant whose rows fired them; rebuild and compaction take a tenant.';
create policy analytics_cohort_rollups_gatekeeper_maintain on analytics_cohort_rollups to :"gatekeeper" using (true) with check (true);
comment on policy analytics_cohort_rollups_gatekeeper_maintain on analytics_cohort_rollups is
  'The analytics triggers write rows only for the tenant whose rows fired them; rebuild and compaction take a tenant.';
create policy analytics_latency_rollups_gatekeeper_maintain on analytics_latency_rollups to :"gatekeeper" using (true) with check (true);
comment on policy analytics_latency_rollups_gatekeeper_maintain on analytics_latency_rollups is
  'The analytics triggers write rows only for the tenant whose rows fired them; rebuild and compaction take a tenant.';
create policy analytics_delivery_rollups_gatekeeper_maintain on analytics_delivery_rollups to :"gatekeeper" using (true) with check (true);
comment on policy analytics_delivery_rollups_gatekeeper_maintain on analytics_delivery_rollups is
  'The analytics triggers write rows only for the tenant whose rows fired them; rebuild and compaction take a tenant.';

-- ---------------------------------------------------------------------------------------------
-- Definitions shared by the writers, the rebuild and the readers.

create function analytics_zero_uuid() returns uuid language sql immutable parallel safe
  as $$ select '00000000-0000-0000-0000-000000000000'::uuid $$;

/* The 15-minute UTC slot an instant falls in. */
create function analytics_slot(p_at timestamptz) returns timestamptz language sql immutable parallel safe
  as $$ select to_timestamp(floor(extract(epoch from p_at) / 900) * 900) $$;

/* Stage bit of an event type (see the header); 0 for none. */
create function analytics_stage_bit(p_type engagement_type) returns smallint language sql immutable parallel safe
  as $$ select (case p_type when 'email_opened' then 2 when 'link_clicked' then 2 when 'page_viewed' then 4
                              when 'shared' then 8 when 'linkedin_added' then 8 when 'downloaded' then 8
                              when 'claimed' then 16 when 'verified' then 32 else 0 end)::smallint $$;

/* Latency histogram bin: floor(10 * ln(1 + seconds)), seconds clamped at 0. Bin b holds latencies in
   [exp(b/10) - 1, exp((b+1)/10) - 1) seconds: about 10.5% wide, from one second to decades. */
create function analytics_latency_bin(p_seconds double precision) returns smallint language sql immutable parallel safe
  as $$ select least(floor(10 * ln(1 + greatest(p_seconds, 0))), 32767)::smallint $$;

/* What a credential email's status means for delivery health. */
create function analytics_outcome(p_status email_status) returns text language sql immutable parallel safe
  as $$ select case p_status when 'queued' then 'pending' when 'sending' then 'pending' else p_status::text end $$;

create function analytics_sender_domain(p_from text) returns text language sql immutable parallel safe
  as $$ select coalesce(lower(substring(p_from from '@([^@>\s]+)>?\s*$')), '') $$;

/* Pieces of [p_from, p_to) (both on 15-minute boundaries) answered by the coarsest rollup rows that
   fit wholly inside: months and days in the tenant's zone, 15-minute slots for the rest. Each piece is
   (grain, lo, hi): rows of that grain with lo <= bucket < hi. */
create function analytics_cover(p_tenant uuid, p_from timestamptz, p_to timestamptz)
  returns table (grain text, lo timestamptz, hi timestamptz)
  language plpgsql stable parallel safe set search_path = pg_catalog, pg_temp
  as $fn$
  declare
    z text := coalesce((select t.time_zone from public.tenants t where t.id = p_tenant), 'UTC');
    m_lo timestamptz;
    m_hi timestamptz;
    part record;
    d_lo timestamptz;
    d_hi timestamptz;
  begin
    if p_to <= p_from then
      return;
    end if;
    m_lo := date_trunc('month', p_from, z);
    if m_lo < p_from then
      m_lo := (date_trunc('month', p_from at time zone z) + interval '1 month') at time zone z;
    end if;
    m_hi := date_trunc('month', p_to, z);
    if m_lo < m_hi then
      grain := 'm'; lo := m_lo; hi := m_hi; return next;
    else
      m_lo := p_to; m_hi := p_to;
    end if;
    for part in select * from (values (p_from, m_lo), (m_hi, p_to)) v(a, b) where v.a < v.b loop
      d_lo := date_trunc('day', part.a, z);
      if d_lo < part.a then
        d_lo := (date_trunc('day', part.a at time zone z) + interval '1 day') at time zone z;
      end if;
      d_hi := date_trunc('day', part.b, z);
      if d_lo < d_hi then
        grain := 'd'; lo := d_lo; hi := d_hi; return next;
        if part.a < d_lo then grain := 's'; lo := part.a; hi := d_lo; return next; end if;
        if d_hi < part.b then grain := 's'; lo := d_hi; hi := part.b; return next; end if;
      else
        grain := 's'; lo := part.a; hi := part.b; return next;
      end if;
    end loop;
  end
  $fn$;
comment on function analytics_cover(uuid, timestamptz, timestamptz) is
  'Splits a range into month, day and slot pieces of the tenant''s rollups; the caller''s RLS still applies to what it reads.';

/* Calendar buckets of [p_from, p_to) in p_zone, each clipped to the range: 'hour' (real hours, aligned
   to the zone's hours), 'day', 'week' (ISO, from Monday) or 'month'. */
create function analytics_buckets(p_from timestamptz, p_to timestamptz, p_unit text, p_zone text)
  returns table (idx integer, lo timestamptz, hi timestamptz)
  language sql stable parallel safe set search_path = pg_catalog, pg_temp
  as $$
    with starts as (
      select s
        from generate_series(date_trunc(p_unit, p_from, p_zone), p_to, interval '1 hour') s
       where p_unit = 'hour'
      union all
      select l at time zone p_zone
        from generate_series(date_trunc(p_unit, p_from at time zone p_zone), p_to at time zone p_zone,
                             case p_unit when 'day' then interval '1 day' when 'week' then interval '1 week' else interval '1 month' end) l
       where p_unit <> 'hour'
    ),
    ordered as (
      select s, lead(s) over (order by s) as e from (select distinct s from starts) x
    )
    select (row_number() over (order by s))::integer - 1, greatest(s, p_from), least(coalesce(e, p_to), p_to)
      from ordered
     where s < p_to and coalesce(e, p_to) > p_from
  $$;

-- ---------------------------------------------------------------------------------------------
-- Writers. They belong to the gatekeeper because engagement arrives through its cross-tenant
-- record_engagement_events() and provider webhooks through apply_email_event(); as trigger functions
-- they cannot be called directly, and they write only what the rows that fired them say.

set local role :"gatekeeper";

create type analytics_event_delta as (
  tenant_id uuid, at timestamptz, type engagement_type, template_id uuid, bulk_job_id uuid, locale text,
  channel text, network text, format text, ua_class text, machine boolean, events bigint, first_human bigint, first_any bigint);
create type analytics_cohort_delta as (
  tenant_id uuid, issued_at timestamptz, template_id uuid, bulk_job_id uuid, locale text, status credential_status,
  human_mask smallint, any_mask smallint, credentials bigint);
create type analytics_latency_delta as (
  tenant_id uuid, issued_at timestamptz, template_id uuid, stage text, bin smallint, credentials bigint);
create type analytics_delivery_delta as (
  tenant_id uuid, created_at timestamptz, template_id uuid, sender_domain text, outcome text, messages bigint);

/* Appends deltas at every grain (slot, tenant-zone day and month) and, for events, every dimension. */
create function analytics_add_event_deltas(p analytics_event_delta[]) returns void
  language sql volatile set search_path = pg_catalog, pg_temp
  as $$
    insert into public.analytics_event_rollups (tenant_id, grain, bucket, dimension, value, type, template_id, machine, events, first_human, first_any)
    select d.tenant_id, g.grain, g.bucket, v.dimension, v.value, d.type, d.template_id, d.machine,
           sum(d.events), sum(d.first_human), sum(d.first_any)
      from unnest(p) d
      join public.tenants t on t.id = d.tenant_id
      cross join lateral (values ('s'::text, public.analytics_slot(d.at)), ('d', date_trunc('day', d.at, t.time_zone)),
                                 ('m', date_trunc('month', d.at, t.time_zone))) g(grain, bucket)
      cross join lateral (values ('t'::text, d.template_id::text), ('j', d.bulk_job_id::text), ('c', d.channel), ('n', d.network),
                                 ('d', d.ua_class), ('f', d.format), ('l', d.locale)) v(dimension, value)
     group by 1, 2, 3, 4, 5, 6, 7, 8
    having sum(d.events) <> 0 or sum(d.first_human) <> 0 or sum(d.first_any) <> 0
  $$;

create function analytics_add_cohort_deltas(p analytics_cohort_delta[]) returns void
  language sql volatile set search_path = pg_catalog, pg_temp
  as $$
    insert into public.analytics_cohort_rollups (tenant_id, grain, bucket, template_id, bulk_job_id, locale, status, human_mask, any_mask, credentials)
    select d.tenant_id, g.grain, g.bucket, d.template_id, d.bulk_job_id, d.locale, d.status, d.human_mask, d.any_mask, sum(d.credentials)
      from unnest(p) d
      join public.tenants t on t.id = d.tenant_id
      cross join lateral (values ('s'::text, public.analytics_slot(d.issued_at)), ('d', date_trunc('day', d.issued_at, t.time_zone)),
                                 ('m', date_trunc('month', d.issued_at, t.time_zone))) g(grain, bucket)
     group by 1, 2, 3, 4, 5, 6, 7, 8, 9
    having sum(d.credentials) <> 0
  $$;

create function analytics_add_latency_deltas(p analytics_latency_delta[]) returns void
  language sql volatile set search_path = pg_catalog, pg_temp
  as $$
    insert into public.analytics_latency_rollups (tenant_id, grain, bucket, template_id, stage, bin, credentials)
    select d.tenant_id, g.grain, g.bucket, d.template_id, d.stage, d.bin, sum(d.credentials)
      from unnest(p) d
      join public.tenants t on t.id = d.tenant_id
      cross join lateral (values ('s'::text, public.analytics_slot(d.issued_at)), ('d', date_trunc('day', d.issued_at, t.time_zone)),
                                 ('m', date_trunc('month', d.issued_at, t.time_zone))) g(grain, bucket)
     group by 1, 2, 3, 4, 5, 6
    having sum(d.credentials) <> 0
  $$;

create function analytics_add_delivery_deltas(p analytics_delivery_delta[]) returns void
  language sql volatile set search_path = pg_catalog, pg_temp
  as $$
    insert into public.analytics_delivery_rollups (tenant_id, grain, bucket, template_id, sender_domain, outcome, messages)
    select d.tenant_id, g.grain, g.bucket, d.template_id, d.sender_domain, d.outcome, sum(d.messages)
      from unnest(p) d
      join public.tenants t on t.id = d.tenant_id
      cross join lateral (values ('s'::text, public.analytics_slot(d.created_at)), ('d', date_trunc('day', d.created_at, t.time_zone)),
                                 ('m', date_trunc('month', d.created_at, t.time_zone))) g(grain, bucket)
     group by 1, 2, 3, 4, 5, 6
    having sum(d.messages) <> 0
  $$;

/* Every writer holds its tenants' analytics lock shared (in tenant order); a rebuild or a change of
   time zone holds it exclusively, so no delta is written in a zone that is being replaced. */
create function analytics_lock_tenants(p_tenants uuid[]) returns void
  language plpgsql volatile set search_path = pg_catalog, pg_temp
  as $fn$
  declare
    t uuid;
  begin
    foreach t in array coalesce((select array_agg(distinct x order by x) from unnest(p_tenants) x), '{}') loop
      perform pg_advisory_xact_lock_shared(7411, hashtext(t::text));
    end loop;
  end $fn$;

/* Cohort and latency deltas of per-credential rows whose masks, status or first times an update just
   replaced (each row carries the values it replaced in prev_*). */
create function analytics_credential_changes(p_rows public.analytics_credentials[]) returns void
  language plpgsql volatile set search_path = pg_catalog, pg_temp
  as $fn$
  begin
    perform public.analytics_add_cohort_deltas(array(
      select row(f.tenant_id, f.issued_at, f.template_id, f.bulk_job_id, f.locale, x.status, x.h, x.a, x.n)::public.analytics_cohort_delta
        from unnest(p_rows) f
        cross join lateral (values (f.prev_status, f.prev_human_mask, f.prev_any_mask, -1::bigint),
                                   (f.status, f.human_mask, f.any_mask, 1::bigint)) x(status, h, a, n)
       where (f.prev_status, f.prev_human_mask, f.prev_any_mask) is distinct from (f.status, f.human_mask, f.any_mask)));
    perform public.analytics_add_latency_deltas(array(
      select row(f.tenant_id, f.issued_at, f.template_id, x.stage,
                 public.analytics_latency_bin(extract(epoch from x.at - f.issued_at)), x.n)::public.analytics_latency_delta
        from unnest(p_rows) f
        cross join lateral (values ('v'::text, f.prev_first_view_at, -1::bigint, f.prev_first_view_at is distinct from f.first_view_at),
                                   ('v', f.first_view_at, 1, f.prev_first_view_at is distinct from f.first_view_at),
                                   ('s', f.prev_first_share_at, -1, f.prev_first_share_at is distinct from f.first_share_at),
                                   ('s', f.first_share_at, 1, f.prev_first_share_at is distinct from f.first_share_at)) x(stage, at, n, changed)
       where x.changed and x.at is not null));
  end $fn$;

create function analytics_on_credentials_inserted() returns trigger
  language plpgsql security definer set search_path = pg_catalog, pg_temp
  as $fn$
  declare
    added public.analytics_credentials[];
  begin
    perform public.analytics_lock_tenants(array(select distinct n.tenant_id from new_rows n));
    with inserted as (
      insert into public.analytics_credentials (tenant_id, credential_id, issued_at, template_id, bulk_job_id, locale, status)
      select n.tenant_id, n.id, n.issued_at, n.template_id, coalesce(n.bulk_job_id, public.analytics_zero_uuid()), r.locale, n.status
        from new_rows n
        join public.recipients r on r.tenant_id = n.tenant_id and r.id = n.recipient_id
      returning *
    )
    select array_agg(i) into added from inserted i;
    perform public.analytics_add_cohort_deltas(array(
      select row(a.tenant_id, a.issued_at, a.template_id, a.bulk_job_id, a.locale, a.status, 0, 0, 1)::public.analytics_cohort_delta
        from unnest(coalesce(added, '{}')) a));
    return null;
  end $fn$;

create function analytics_on_credentials_updated() returns trigger
  language plpgsql security definer set search_path = pg_catalog, pg_temp
  as $fn$
  declare
    changed public.analytics_credentials[];
  begin
    if not exists (select 1 from new_rows n join old_rows o on o.tenant_id = n.tenant_id and o.id = n.id where o.status <> n.status) then
      return null;
    end if;
    perform public.analytics_lock_tenants(array(select distinct n.tenant_id from new_rows n));
    perform 1 from public.analytics_credentials f
      join new_rows n on n.tenant_id = f.tenant_id and n.id = f.credential_id
     order by f.tenant_id, f.credential_id
       for update of f;
    with moved as (
      update public.analytics_credentials f
         set prev_status = f.status, prev_human_mask = f.human_mask, prev_any_mask = f.any_mask,
             prev_first_view_at = f.first_view_at, prev_first_share_at = f.first_share_at, status = n.status
        from new_rows n
       where n.tenant_id = f.tenant_id and n.id = f.credential_id and n.status <> f.status
      returning f.*
    )
    select array_agg(m) into changed from moved m;
    perform public.analytics_credential_changes(coalesce(changed, '{}'));
    return null;
  end $fn$;

create function analytics_on_engagement_events() returns trigger
  language plpgsql security definer set search_path = pg_catalog, pg_temp
  as $fn$
  declare
    changed public.analytics_credentials[];
    deltas public.analytics_event_delta[];
  begin
    perform public.analytics_lock_tenants(array(select distinct n.tenant_id from new_events n));
    perform 1 from public.analytics_credentials f
     where (f.tenant_id, f.credential_id) in (select n.tenant_id, n.credential_id from new_events n where n.credential_id is not null)
     order by f.tenant_id, f.credential_id
       for update of f;
    with cand as (
      select distinct on (e.tenant_id, e.credential_id, e.type, h.human)
             e.tenant_id, e.credential_id, e.type, h.human, e.occurred_at, e.id as event_id, e.channel,
             coalesce(e.network, '') as network, coalesce(e.format, '') as format, e.ua_class, e.machine
        from new_events e
        cross join (values (true), (false)) h(human)
       where e.credential_id is not null and (not h.human or not e.machine)
       order by e.tenant_id, e.credential_id, e.type, h.human, e.occurred_at, e.id
    ),
    touched as (
      insert into public.analytics_first_touches as t
             (tenant_id, credential_id, type, human, occurred_at, event_id, channel, network, format, ua_class, machine)
      select c.tenant_id, c.credential_id, c.type, c.human, c.occurred_at, c.event_id, c.channel, c.network, c.format, c.ua_class, c.machine
        from cand c
       order by c.tenant_id, c.credential_id, c.type, c.human
      on conflict (tenant_id, credential_id, type, human) do update
         set prev_occurred_at = t.occurred_at, prev_channel = t.channel, prev_network = t.network, prev_format = t.format,
             prev_ua_class = t.ua_class, prev_machine = t.machine,
             occurred_at = excluded.occurred_at, event_id = excluded.event_id, channel = excluded.channel, network = excluded.network,
             format = excluded.format, ua_class = excluded.ua_class, machine = excluded.machine
       where (excluded.occurred_at, excluded.event_id) < (t.occurred_at, t.event_id)
      returning t.*
    ),
    masks as (
      select c.tenant_id, c.credential_id,
             coalesce(bit_or(public.analytics_stage_bit(c.type)) filter (where c.human), 0)::smallint as h,
             bit_or(public.analytics_stage_bit(c.type))::smallint as a,
             min(c.occurred_at) filter (where c.human and c.type = 'page_viewed') as view_at,
             min(c.occurred_at) filter (where c.human and c.type in ('shared', 'linkedin_added')) as share_at
        from cand c
       group by 1, 2
    ),
    moved as (
      update public.analytics_credentials f
         set prev_status = f.status, prev_human_mask = f.human_mask, prev_any_mask = f.any_mask,
             prev_first_view_at = f.first_view_at, prev_first_share_at = f.first_share_at,
             human_mask = f.human_mask | m.h, any_mask = f.any_mask | m.a,
             first_view_at = least(f.first_view_at, m.view_at), first_share_at = least(f.first_share_at, m.share_at)
        from masks m
       where f.tenant_id = m.tenant_id and f.credential_id = m.credential_id
         and ((f.human_mask | m.h) <> f.human_mask or (f.any_mask | m.a) <> f.any_mask
              or least(f.first_view_at, m.view_at) is distinct from f.first_view_at
              or least(f.first_share_at, m.share_at) is distinct from f.first_share_at)
      returning f.*
    ),
    credited as (
      -- each new event once, then the first-touch credit that moved: +1 where it went, -1 where it was
      select row(e.tenant_id, e.occurred_at, e.type, coalesce(e.template_id, public.analytics_zero_uuid()),
                 coalesce(f.bulk_job_id, public.analytics_zero_uuid()), coalesce(f.locale, ''), e.channel,
                 coalesce(e.network, ''), coalesce(e.format, ''), e.ua_class, e.machine, 1, 0, 0)::public.analytics_event_delta as d
        from new_events e
        left join public.analytics_credentials f on f.tenant_id = e.tenant_id and f.credential_id = e.credential_id
      union all
      select row(t.tenant_id, x.at, t.type, f.template_id, f.bulk_job_id, f.locale, x.channel, x.network, x.format, x.ua_class, x.machine,
                 0, case when t.human then x.n else 0 end, case when t.human then 0 else x.n end)::public.analytics_event_delta
        from touched t
        join public.analytics_credentials f on f.tenant_id = t.tenant_id and f.credential_id = t.credential_id
        cross join lateral (values (t.occurred_at, t.channel, t.network, t.format, t.ua_class, t.machine, 1::bigint),
                                   (t.prev_occurred_at, t.prev_channel, t.prev_network, t.prev_format, t.prev_ua_class, t.prev_machine, -1))
                   x(at, channel, network, format, ua_class, machine, n)
       where x.at is not null
    )
    select (select array_agg(m) from moved m), (select array_agg(c.d) from credited c) into changed, deltas;
    perform public.analytics_add_event_deltas(coalesce(deltas, '{}'));
    perform public.analytics_credential_changes(coalesce(changed, '{}'));
    return null;
  end $fn$;

create function analytics_on_email_inserted() returns trigger
  language plpgsql security definer set search_path = pg_catalog, pg_temp
  as $fn$
  begin
    if not exists (select 1 from new_rows n where n.credential_id is not null) then
      return null;
    end if;
    perform public.analytics_lock_tenants(array(select distinct n.tenant_id from new_rows n where n.credential_id is not null));
    perform public.analytics_add_delivery_deltas(array(
      select row(n.tenant_id, n.created_at, coalesce(f.template_id, public.analytics_zero_uuid()),
                 public.analytics_sender_domain(n.from_address), public.analytics_outcome(n.status), 1)::public.analytics_delivery_delta
        from new_rows n
        left join public.analytics_credentials f on f.tenant_id = n.tenant_id and f.credential_id = n.credential_id
       where n.credential_id is not null));
    return null;
  end $fn$;

create function analytics_on_email_updated() returns trigger
  language plpgsql security definer set search_path = pg_catalog, pg_temp
  as $fn$
  declare
    changed public.analytics_credentials[];
  begin
    if not exists (
      select 1 from new_rows n join old_rows o on o.tenant_id = n.tenant_id and o.id = n.id
       where n.credential_id is not null
         and (public.analytics_outcome(o.status) <> public.analytics_outcome(n.status)
              or public.analytics_sender_domain(o.from_address) <> public.analytics_sender_domain(n.from_address)
              or (o.delivered_at is null and n.delivered_at is not null))) then
      return null;
    end if;
    perform public.analytics_lock_tenants(array(select distinct n.tenant_id from new_rows n where n.credential_id is not null));
    perform public.analytics_add_delivery_deltas(array(
      select row(n.tenant_id, n.created_at, coalesce(f.template_id, public.analytics_zero_uuid()), x.domain, x.outcome, x.n)::public.analytics_delivery_delta
        from new_rows n
        join old_rows o on o.tenant_id = n.tenant_id and o.id = n.id
        left join public.analytics_credentials f on f.tenant_id = n.tenant_id and f.credential_id = n.credential_id
        cross join lateral (values (public.analytics_sender_domain(o.from_address), public.analytics_outcome(o.status), -1::bigint),
                                   (public.analytics_sender_domain(n.from_address), public.analytics_outcome(n.status), 1)) x(domain, outcome, n)
       where n.credential_id is not null
         and (public.analytics_outcome(o.status), public.analytics_sender_domain(o.from_address))
             <> (public.analytics_outcome(n.status), public.analytics_sender_domain(n.from_address))));
    -- The funnel's delivered stage: a credential email that reached the recipient's mail server.
    perform 1 from public.analytics_credentials f
      join new_rows n on n.tenant_id = f.tenant_id and n.credential_id = f.credential_id
     where n.delivered_at is not null
     order by f.tenant_id, f.credential_id
       for update of f;
    with moved as (
      update public.analytics_credentials f
         set prev_status = f.status, prev_human_mask = f.human_mask, prev_any_mask = f.any_mask,
             prev_first_view_at = f.first_view_at, prev_first_share_at = f.first_share_at,
             human_mask = f.human_mask | 1, any_mask = f.any_mask | 1
        from (select distinct n.tenant_id, n.credential_id from new_rows n where n.delivered_at is not null and n.credential_id is not null) d
       where f.tenant_id = d.tenant_id and f.credential_id = d.credential_id and (f.human_mask & 1 = 0 or f.any_mask & 1 = 0)
      returning f.*
    )
    select array_agg(m) into changed from moved m;
    perform public.analytics_credential_changes(coalesce(changed, '{}'));
    return null;
  end $fn$;

/* A tenant's new time zone: its day and month rows are recomputed from its slots (which every zone's
   days are made of), under the tenant's analytics lock, in the transaction that changes the zone. */
create function analytics_on_tenant_zone_changed() returns trigger
  language plpgsql security definer set search_path = pg_catalog, pg_temp
  as $fn$
  begin
    if new.time_zone is not distinct from old.time_zone then
      return null;
    end if;
    perform pg_advisory_xact_lock(7411, hashtext(new.id::text));
    perform public.analytics_regrain(new.id, new.time_zone);
    return null;
  end $fn$;

create function analytics_regrain(p_tenant uuid, p_zone text) returns void
  language plpgsql volatile set search_path = pg_catalog, pg_temp
  as $fn$
  begin
    delete from public.analytics_event_rollups where tenant_id = p_tenant and grain <> 's';
    delete from public.analytics_cohort_rollups where tenant_id = p_tenant and grain <> 's';
    delete from public.analytics_latency_rollups where tenant_id = p_tenant and grain <> 's';
    delete from public.analytics_delivery_rollups where tenant_id = p_tenant and grain <> 's';
    insert into public.analytics_event_rollups (tenant_id, grain, bucket, dimension, value, type, template_id, machine, events, first_human, first_any, compacted)
    select p_tenant, g.grain, date_trunc(g.unit, r.bucket, p_zone), r.dimension, r.value, r.type, r.template_id, r.machine,
           sum(r.events), sum(r.first_human), sum(r.first_any), true
      from public.analytics_event_rollups r cross join (values ('d'::text, 'day'), ('m', 'month')) g(grain, unit)
     where r.tenant_id = p_tenant and r.grain = 's'
     group by 1, 2, 3, 4, 5, 6, 7, 8
    having sum(r.events) <> 0 or sum(r.first_human) <> 0 or sum(r.first_any) <> 0;
    insert into public.analytics_cohort_rollups (tenant_id, grain, bucket, template_id, bulk_job_id, locale, status, human_mask, any_mask, credentials, compacted)
    select p_tenant, g.grain, date_trunc(g.unit, r.bucket, p_zone), r.template_id, r.bulk_job_id, r.locale, r.status, r.human_mask, r.any_mask,
           sum(r.credentials), true
      from public.analytics_cohort_rollups r cross join (values ('d'::text, 'day'), ('m', 'month')) g(grain, unit)
     where r.tenant_id = p_tenant and r.grain = 's'
     group by 1, 2, 3, 4, 5, 6, 7, 8, 9
    having sum(r.credentials) <> 0;
    insert into public.analytics_latency_rollups (tenant_id, grain, bucket, template_id, stage, bin, credentials, compacted)
    select p_tenant, g.grain, date_trunc(g.unit, r.bucket, p_zone), r.template_id, r.stage, r.bin, sum(r.credentials), true
      from public.analytics_latency_rollups r cross join (values ('d'::text, 'day'), ('m', 'month')) g(grain, unit)
     where r.tenant_id = p_tenant and r.grain = 's'
     group by 1, 2, 3, 4, 5, 6
    having sum(r.credentials) <> 0;
    insert into public.analytics_delivery_rollups (tenant_id, grain, bucket, template_id, sender_domain, outcome, messages, compacted)
    select p_tenant, g.grain, date_trunc(g.unit, r.bucket, p_zone), r.template_id, r.sender_domain, r.outcome, sum(r.messages), true
      from public.analytics_delivery_rollups r cross join (values ('d'::text, 'day'), ('m', 'month')) g(grain, unit)
     where r.tenant_id = p_tenant and r.grain = 's'
     group by 1, 2, 3, 4, 5, 6
    having sum(r.messages) <> 0;
  end $fn$;

/* Folds a tenant's delta rows into one compacted row per key (all tenants with deltas when p_tenant is
   null). Readers sum both kinds, so the totals they see never change. Returns delta rows folded. */
create function compact_engagement_analytics(p_tenant uuid default null) returns bigint
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
  as $fn$
  declare
    t uuid;
    folded bigint := 0;
    n bigint;
  begin
    for t in
      select x.tenant_id from (
        select distinct tenant_id from public.analytics_event_rollups where not compacted
        union select distinct tenant_id from public.analytics_cohort_rollups where not compacted
        union select distinct tenant_id from public.analytics_latency_rollups where not compacted
        union select distinct tenant_id from public.analytics_delivery_rollups where not compacted) x
       where p_tenant is null or x.tenant_id = p_tenant
       order by 1
    loop
      -- One compactor per tenant at a time; another finding it busy moves on.
      if not pg_try_advisory_xact_lock(7412, hashtext(t::text)) then
        continue;
      end if;
      perform public.analytics_lock_tenants(array[t]);
      with moved as (delete from public.analytics_event_rollups r where r.tenant_id = t and not r.compacted returning r.*),
      merged as (
        insert into public.analytics_event_rollups as c (tenant_id, grain, bucket, dimension, value, type, template_id, machine, events, first_human, first_any, compacted)
        select tenant_id, grain, bucket, dimension, value, type, template_id, machine, sum(events), sum(first_human), sum(first_any), true
          from moved group by 1, 2, 3, 4, 5, 6, 7, 8 order by 1, 2, 3, 4, 5, 6, 7, 8
        on conflict (tenant_id, grain, bucket, dimension, value, type, template_id, machine) where compacted do update
           set events = c.events + excluded.events, first_human = c.first_human + excluded.first_human, first_any = c.first_any + excluded.first_any
        returning 1)
      select count(*) into n from moved;
      folded := folded + n;
      with moved as (delete from public.analytics_cohort_rollups r where r.tenant_id = t and not r.compacted returning r.*),
      merged as (
        insert into public.analytics_cohort_rollups as c (tenant_id, grain, bucket, template_id, bulk_job_id, locale, status, human_mask, any_mask, credentials, compacted)
        select tenant_id, grain, bucket, template_id, bulk_job_id, locale, status, human_mask, any_mask, sum(credentials), true
          from moved group by 1, 2, 3, 4, 5, 6, 7, 8, 9 order by 1, 2, 3, 4, 5, 6, 7, 8, 9
        on conflict (tenant_id, grain, bucket, template_id, bulk_job_id, locale, status, human_mask, any_mask) where compacted do update
           set credentials = c.credentials + excluded.credentials
        returning 1)
      select count(*) into n from moved;
      folded := folded + n;
      with moved as (delete from public.analytics_latency_rollups r where r.tenant_id = t and not r.compacted returning r.*),
      merged as (
        insert into public.analytics_latency_rollups as c (tenant_id, grain, bucket, template_id, stage, bin, credentials, compacted)
        select tenant_id, grain, bucket, template_id, stage, bin, sum(credentials), true
          from moved group by 1, 2, 3, 4, 5, 6 order by 1, 2, 3, 4, 5, 6
        on conflict (tenant_id, grain, bucket, template_id, stage, bin) where compacted do update
           set credentials = c.credentials + excluded.credentials
        returning 1)
      select count(*) into n from moved;
      folded := folded + n;
      with moved as (delete from public.analytics_delivery_rollups r where r.tenant_id = t and not r.compacted returning r.*),
      merged as (
        insert into public.analytics_delivery_rollups as c (tenant_id, grain, bucket, template_id, sender_domain, outcome, messages, compacted)
        select tenant_id, grain, bucket, template_id, sender_domain, outcome, sum(messages), true
          from moved group by 1, 2, 3, 4, 5, 6 order by 1, 2, 3, 4, 5, 6
        on conflict (tenant_id, grain, bucket, template_id, sender_domain, outcome) where compacted do update
           set messages = c.messages + excluded.messages
        returning 1)
      select count(*) into n from moved;
      folded := folded + n;
    end loop;
    return folded;
  end $fn$;
comment on function analytics_on_credentials_inserted() is
  'Trigger: a new credential enters its cohort (stage masks 0) under its tenant.';
comment on function analytics_on_credentials_updated() is
  'Trigger: a status change moves the credential between cohort rows of its tenant.';
comment on function analytics_on_engagement_events() is
  'Trigger: events stored by record_engagement_events() (any tenant) update counters, first touches and stage masks of the tenant each row names.';
comment on function analytics_on_email_inserted() is
  'Trigger: a queued credential email is counted in its tenant''s delivery health.';
comment on function analytics_on_email_updated() is
  'Trigger: provider webhooks (apply_email_event, any tenant) and the worker move a credential email''s outcome; delivery sets the funnel''s delivered stage.';
comment on function analytics_on_tenant_zone_changed() is
  'Trigger: a tenant''s new time zone recomputes its day and month rollups from its slots.';
comment on function compact_engagement_analytics(uuid) is
  'Worker cron and the rebuild: folds analytics delta rows into compacted rows; totals are unchanged.';

/* Recomputes a tenant's aggregates from its raw rows (credentials, recipients' locales, credential
   emails, engagement events), for use after a migration or to check the incremental ones. Holds the
   tenant's analytics lock exclusively meanwhile, so writers of that tenant wait. Raw events that have
   expired are no longer counted after a rebuild. Returns row counts per table. */
create function rebuild_engagement_analytics(p_tenant uuid) returns jsonb
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
  as $fn$
  declare
    z text;
    zero uuid := public.analytics_zero_uuid();
  begin
    select t.time_zone into z from public.tenants t where t.id = p_tenant;
    if z is null then
      raise exception 'no tenant %', p_tenant using errcode = 'P0002';
    end if;
    perform pg_advisory_xact_lock(7411, hashtext(p_tenant::text));
    delete from public.analytics_event_rollups where tenant_id = p_tenant;
    delete from public.analytics_cohort_rollups where tenant_id = p_tenant;
    delete from public.analytics_latency_rollups where tenant_id = p_tenant;
    delete from public.analytics_delivery_rollups where tenant_id = p_tenant;
    delete from public.analytics_first_touches where tenant_id = p_tenant;
    delete from public.analytics_credentials where tenant_id = p_tenant;

    insert into public.analytics_first_touches (tenant_id, credential_id, type, human, occurred_at, event_id, channel, network, format, ua_class, machine)
    select distinct on (e.credential_id, e.type, h.human)
           p_tenant, e.credential_id, e.type, h.human, e.occurred_at, e.id, e.channel, coalesce(e.network, ''), coalesce(e.format, ''), e.ua_class, e.machine
      from public.engagement_events e
      cross join (values (true), (false)) h(human)
     where e.tenant_id = p_tenant and e.credential_id is not null and (not h.human or not e.machine)
     order by e.credential_id, e.type, h.human, e.occurred_at, e.id;

    insert into public.analytics_credentials (tenant_id, credential_id, issued_at, template_id, bulk_job_id, locale, status,
                                              human_mask, any_mask, first_view_at, first_share_at)
    select c.tenant_id, c.id, c.issued_at, c.template_id, coalesce(c.bulk_job_id, zero), r.locale, c.status,
           coalesce(ft.h, 0) | coalesce(d.bit, 0), coalesce(ft.a, 0) | coalesce(d.bit, 0), ft.view_at, ft.share_at
      from public.credentials c
      join public.recipients r on r.tenant_id = c.tenant_id and r.id = c.recipient_id
      left join (select t.credential_id,
                        coalesce(bit_or(public.analytics_stage_bit(t.type)) filter (where t.human), 0)::smallint as h,
                        coalesce(bit_or(public.analytics_stage_bit(t.type)) filter (where not t.human), 0)::smallint as a,
                        min(t.occurred_at) filter (where t.human and t.type = 'page_viewed') as view_at,
                        min(t.occurred_at) filter (where t.human and t.type in ('shared', 'linkedin_added')) as share_at
                   from public.analytics_first_touches t where t.tenant_id = p_tenant group by 1) ft on ft.credential_id = c.id
      left join (select distinct o.credential_id, 1::smallint as bit from public.email_outbox o
                  where o.tenant_id = p_tenant and o.credential_id is not null and o.delivered_at is not null) d on d.credential_id = c.id
     where c.tenant_id = p_tenant;

    insert into public.analytics_cohort_rollups (tenant_id, grain, bucket, template_id, bulk_job_id, locale, status, human_mask, any_mask, credentials, compacted)
    select p_tenant, 's', public.analytics_slot(f.issued_at), f.template_id, f.bulk_job_id, f.locale, f.status, f.human_mask, f.any_mask, count(*), true
      from public.analytics_credentials f where f.tenant_id = p_tenant
     group by 3, 4, 5, 6, 7, 8, 9;

    insert into public.analytics_latency_rollups (tenant_id, grain, bucket, template_id, stage, bin, credentials, compacted)
    select p_tenant, 's', public.analytics_slot(f.issued_at), f.template_id, x.stage,
           public.analytics_latency_bin(extract(epoch from x.at - f.issued_at)), count(*), true
      from public.analytics_credentials f
      cross join lateral (values ('v'::text, f.first_view_at), ('s', f.first_share_at)) x(stage, at)
     where f.tenant_id = p_tenant and x.at is not null
     group by 3, 4, 5, 6;

    insert into public.analytics_delivery_rollups (tenant_id, grain, bucket, template_id, sender_domain, outcome, messages, compacted)
    select p_tenant, 's', public.analytics_slot(o.created_at), coalesce(f.template_id, zero), public.analytics_sender_domain(o.from_address),
           public.analytics_outcome(o.status), count(*), true
      from public.email_outbox o
      left join public.analytics_credentials f on f.tenant_id = o.tenant_id and f.credential_id = o.credential_id
     where o.tenant_id = p_tenant and o.credential_id is not null
     group by 3, 4, 5, 6;

    insert into public.analytics_event_rollups (tenant_id, grain, bucket, dimension, value, type, template_id, machine, events, first_human, first_any, compacted)
    with fine as materialized (
      select public.analytics_slot(e.occurred_at) as slot, e.type, coalesce(e.template_id, zero) as template_id,
             coalesce(f.bulk_job_id, zero) as bulk_job_id, coalesce(f.locale, '') as locale, e.channel, coalesce(e.network, '') as network,
             coalesce(e.format, '') as format, e.ua_class, e.machine, count(*) as events, 0::bigint as first_human, 0::bigint as first_any
        from public.engagement_events e
        left join public.analytics_credentials f on f.tenant_id = e.tenant_id and f.credential_id = e.credential_id
       where e.tenant_id = p_tenant
       group by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10
      union all
      select public.analytics_slot(t.occurred_at), t.type, f.template_id, f.bulk_job_id, f.locale, t.channel, t.network, t.format, t.ua_class, t.machine,
             0, count(*) filter (where t.human), count(*) filter (where not t.human)
        from public.analytics_first_touches t
        join public.analytics_credentials f on f.tenant_id = t.tenant_id and f.credential_id = t.credential_id
       where t.tenant_id = p_tenant
       group by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10
    )
    select p_tenant, 's', x.slot, v.dimension, v.value, x.type, x.template_id, x.machine, sum(x.events), sum(x.first_human), sum(x.first_any), true
      from fine x
      cross join lateral (values ('t'::text, x.template_id::text), ('j', x.bulk_job_id::text), ('c', x.channel), ('n', x.network),
                                 ('d', x.ua_class), ('f', x.format), ('l', x.locale)) v(dimension, value)
     group by 3, 4, 5, 6, 7, 8;

    perform public.analytics_regrain(p_tenant, z);
    return jsonb_build_object(
      'credentials', (select count(*) from public.analytics_credentials where tenant_id = p_tenant),
      'firstTouches', (select count(*) from public.analytics_first_touches where tenant_id = p_tenant),
      'eventRollups', (select count(*) from public.analytics_event_rollups where tenant_id = p_tenant),
      'cohortRollups', (select count(*) from public.analytics_cohort_rollups where tenant_id = p_tenant),
      'latencyRollups', (select count(*) from public.analytics_latency_rollups where tenant_id = p_tenant),
      'deliveryRollups', (select count(*) from public.analytics_delivery_rollups where tenant_id = p_tenant));
  end $fn$;
comment on function rebuild_engagement_analytics(uuid) is
  'npm run analytics:rebuild: recomputes one tenant''s aggregates from its raw rows under its exclusive analytics lock.';

-- Existing tenants start from their raw rows (the gatekeeper sees every tenant's id).
select rebuild_engagement_analytics(t.id) from (select id from tenants order by id) t;

revoke execute on function analytics_add_event_deltas(analytics_event_delta[]), analytics_add_cohort_deltas(analytics_cohort_delta[]),
  analytics_add_latency_deltas(analytics_latency_delta[]), analytics_add_delivery_deltas(analytics_delivery_delta[]),
  analytics_lock_tenants(uuid[]), analytics_credential_changes(analytics_credentials[]), analytics_regrain(uuid, text),
  compact_engagement_analytics(uuid), rebuild_engagement_analytics(uuid),
  analytics_on_credentials_inserted(), analytics_on_credentials_updated(), analytics_on_engagement_events(),
  analytics_on_email_inserted(), analytics_on_email_updated(), analytics_on_tenant_zone_changed()
  from public;
-- The owner attaches the triggers (which needs EXECUTE) and runs compaction (worker cron) and rebuilds.
grant execute on function analytics_on_credentials_inserted(), analytics_on_credentials_updated(), analytics_on_engagement_events(),
  analytics_on_email_inserted(), analytics_on_email_updated(), analytics_on_tenant_zone_changed(),
  compact_engagement_analytics(uuid), rebuild_engagement_analytics(uuid)
  to :"owner";
set local role :"owner";

create trigger analytics_credentials_inserted after insert on credentials
  referencing new table as new_rows for each statement execute function analytics_on_credentials_inserted();
create trigger analytics_credentials_updated after update on credentials
  referencing old table as old_rows new table as new_rows for each statement execute function analytics_on_credentials_updated();
create trigger analytics_engagement_events after insert on engagement_events
  referencing new table as new_events for each statement execute function analytics_on_engagement_events();
create trigger analytics_email_inserted after insert on email_outbox
  referencing new table as new_rows for each statement execute function analytics_on_email_inserted();
create trigger analytics_email_updated after update on email_outbox
  referencing old table as old_rows new table as new_rows for each statement execute function analytics_on_email_updated();
create trigger analytics_tenant_zone_changed after update of time_zone on tenants
  for each row execute function analytics_on_tenant_zone_changed();

