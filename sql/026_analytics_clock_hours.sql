-- Found by QA (issue 9): HOUR buckets were wrong where a zone's offset changes by less than an hour
-- (Lord Howe's half-hour DST twice a year; Kathmandu 1986). They were the distinct date_trunc('hour', t,
-- zone) of 15-minute points, and PostgreSQL maps a truncated local time back to an instant with the
-- point's own offset, so April gave a bucket 14:30-15:30Z spanning two local hours. An hour bucket is
-- now a run of 15-minute slots with the same local clock hour AND the same UTC offset: 14:00-15:00Z
-- (01:00 at +11), 15:00-15:30Z (the repeated 01:30 at +10:30), 15:30-16:30Z (02:00). Each bucket also
-- says whether the range cuts it short (partial), which callers could not compute for such hours.
--
-- Found by the aggregates test's random ranges: where a zone's clock falls back across midnight
-- (America/Havana, first Sunday of November: 01:00 CDT -> 00:00 CST), date_trunc('day', t, zone) maps
-- the repeated local midnight to its LATER instant, so events in the first hour of that day (04:00-05:00Z)
-- were keyed to a day starting after them (05:00Z), and a range ending inside that hour counted them
-- twice. Day, week and month keys are now each unit's first instant (analytics_zone_start), in rollups,
-- covers and buckets alike; existing keys are moved.
--
-- And a tenant's zone must be one PostgreSQL knows: Node accepted "US/Pacific-New", after which every
-- statement that truncated in the zone (issuance's analytics trigger, every analytics read) failed.
-- The API checks names against pg_timezone_names; the table now refuses any other as a backstop.

/* The first instant of the calendar unit ('day', 'week', 'month') holding p_at in p_zone: date_trunc's
   answer, or the earlier instant showing the same local time when the clock fell back across it. */
create function analytics_zone_start(p_unit text, p_at timestamptz, p_zone text) returns timestamptz
  language sql immutable parallel safe set search_path = pg_catalog, pg_temp
  as $$
    select case when (s - interval '1 hour') at time zone p_zone = s at time zone p_zone then s - interval '1 hour'
                when (s - interval '30 minutes') at time zone p_zone = s at time zone p_zone then s - interval '30 minutes'
                else s end
      from (select date_trunc(p_unit, p_at, p_zone) as s) x
  $$;
comment on function analytics_zone_start(text, timestamptz, text) is
  'First instant of the day, week or month holding an instant in a zone (date_trunc, corrected where the clock fell back across it).';

create or replace function analytics_grain_floor(p_grain text, p_at timestamptz, p_zone text) returns timestamptz
  language sql immutable parallel safe set search_path = pg_catalog, pg_temp
  as $$
    select case p_grain when 'm' then public.analytics_zone_start('month', p_at, p_zone) when 'd' then public.analytics_zone_start('day', p_at, p_zone)
                        when 'h' then to_timestamp(floor(extract(epoch from p_at) / 3600) * 3600)
                        else to_timestamp(floor(extract(epoch from p_at) / 900) * 900) end
  $$;
create or replace function analytics_grain_ceil(p_grain text, p_at timestamptz, p_zone text) returns timestamptz
  language sql immutable parallel safe set search_path = pg_catalog, pg_temp
  as $$
    select case when f = p_at then f
                when p_grain = 'm' then public.analytics_zone_start('month', (date_trunc('month', p_at at time zone p_zone) + interval '1 month') at time zone p_zone, p_zone)
                when p_grain = 'd' then public.analytics_zone_start('day', (date_trunc('day', p_at at time zone p_zone) + interval '1 day') at time zone p_zone, p_zone)
                when p_grain = 'h' then f + interval '1 hour'
                else f + interval '15 minutes' end
      from (select public.analytics_grain_floor(p_grain, p_at, p_zone) as f) x
  $$;

drop function analytics_buckets(timestamptz, timestamptz, text, text);
/* Calendar buckets of [p_from, p_to) in p_zone, each clipped to the range, partial when the range cuts
   it: 'hour' (runs of 15-minute slots sharing the local hour and the UTC offset), 'day', 'week' (ISO,
   from Monday) or 'month' (local midnights, so days of 23 or 25 hours and zones that skipped a day
   are the zone's own). */
create function analytics_buckets(p_from timestamptz, p_to timestamptz, p_unit text, p_zone text)
  returns table (idx integer, lo timestamptz, hi timestamptz, partial boolean)
  language sql stable parallel safe set search_path = pg_catalog, pg_temp
  rows 60
  as $$
    with slots as (
      select g, date_trunc('hour', g at time zone p_zone) as clock, (g at time zone p_zone) - (g at time zone 'UTC') as off
        from generate_series(to_timestamp(floor(extract(epoch from p_from) / 900) * 900) - interval '2 hours', p_to + interval '2 hours',
                             interval '15 minutes') g
       where p_unit = 'hour'
    ),
    runs as (
      select g, sum(brk) over (order by g) as run from (
        select g, case when (clock, off) is not distinct from (lag(clock) over w, lag(off) over w) then 0 else 1 end as brk
          from slots window w as (order by g)) x
    ),
    starts as (
      select distinct public.analytics_zone_start(p_unit, l at time zone p_zone, p_zone) as s
        from generate_series(date_trunc(p_unit, p_from at time zone p_zone),
                             (p_to at time zone p_zone) + case p_unit when 'day' then interval '1 day' when 'week' then interval '1 week' else interval '1 month' end,
                             case p_unit when 'day' then interval '1 day' when 'week' then interval '1 week' else interval '1 month' end) l
       where p_unit <> 'hour'
    ),
    spans as (
      select min(g) as s, max(g) + interval '15 minutes' as e from runs group by run
      union all
      select s, e from (select s, lead(s) over (order by s) as e from starts) x where e is not null
    )
    select (row_number() over (order by s))::integer - 1, greatest(s, p_from), least(e, p_to), s < p_from or e > p_to
      from spans
     where s < p_to and e > p_from
  $$;
comment on function analytics_buckets(timestamptz, timestamptz, text, text) is
  'Calendar buckets (hour, day, week from Monday, month) of a range in a zone, clipped to it; partial when clipped.';

set local role :"gatekeeper";

/* Appends deltas at every grain (slot, UTC hour, tenant-zone day and month) and, for events, every dimension. */
create or replace function analytics_add_event_deltas(p analytics_event_delta[]) returns void
  language sql volatile set search_path = pg_catalog, pg_temp
  as $$
    insert into public.analytics_event_rollups (tenant_id, grain, bucket, dimension, value, type, template_id, machine, events, first_human, first_any)
    select d.tenant_id, g.grain, g.bucket, v.dimension, v.value, d.type, v.template_id, d.machine,
           sum(d.events), sum(d.first_human), sum(d.first_any)
      from unnest(p) d
      join public.tenants t on t.id = d.tenant_id
      cross join lateral (values ('s'::text, public.analytics_slot(d.at)), ('h', public.analytics_hour(d.at)),
                                 ('d', public.analytics_grain_floor('d', d.at, t.time_zone)), ('m', public.analytics_grain_floor('m', d.at, t.time_zone))) g(grain, bucket)
      cross join lateral (values ('*'::text, ''::text, public.analytics_zero_uuid()), ('t', d.template_id::text, d.template_id),
                                 ('j', d.bulk_job_id::text, d.template_id), ('c', d.channel, d.template_id), ('n', d.network, d.template_id),
                                 ('d', d.ua_class, d.template_id), ('f', d.format, d.template_id), ('l', d.locale, d.template_id)) v(dimension, value, template_id)
     group by 1, 2, 3, 4, 5, 6, 7, 8
    having sum(d.events) <> 0 or sum(d.first_human) <> 0 or sum(d.first_any) <> 0
  $$;

create or replace function analytics_add_cohort_deltas(p analytics_cohort_delta[]) returns void
  language sql volatile set search_path = pg_catalog, pg_temp
  as $$
    insert into public.analytics_cohort_rollups (tenant_id, grain, bucket, template_id, bulk_job_id, locale, status, human_mask, any_mask, credentials)
    select d.tenant_id, g.grain, g.bucket, d.template_id, d.bulk_job_id, d.locale, d.status, d.human_mask, d.any_mask, sum(d.credentials)
      from unnest(p) d
      join public.tenants t on t.id = d.tenant_id
      cross join lateral (values ('s'::text, public.analytics_slot(d.issued_at)), ('h', public.analytics_hour(d.issued_at)),
                                 ('d', public.analytics_grain_floor('d', d.issued_at, t.time_zone)), ('m', public.analytics_grain_floor('m', d.issued_at, t.time_zone))) g(grain, bucket)
     group by 1, 2, 3, 4, 5, 6, 7, 8, 9
    having sum(d.credentials) <> 0
  $$;

create or replace function analytics_add_latency_deltas(p analytics_latency_delta[]) returns void
  language sql volatile set search_path = pg_catalog, pg_temp
  as $$
    insert into public.analytics_latency_rollups (tenant_id, grain, bucket, template_id, stage, bin, credentials)
    select d.tenant_id, g.grain, g.bucket, d.template_id, d.stage, d.bin, sum(d.credentials)
      from unnest(p) d
      join public.tenants t on t.id = d.tenant_id
      cross join lateral (values ('s'::text, public.analytics_slot(d.issued_at)), ('h', public.analytics_hour(d.issued_at)),
                                 ('d', public.analytics_grain_floor('d', d.issued_at, t.time_zone)), ('m', public.analytics_grain_floor('m', d.issued_at, t.time_zone))) g(grain, bucket)
     group by 1, 2, 3, 4, 5, 6
    having sum(d.credentials) <> 0
  $$;

create or replace function analytics_add_delivery_deltas(p analytics_delivery_delta[]) returns void
  language sql volatile set search_path = pg_catalog, pg_temp
  as $$
    insert into public.analytics_delivery_rollups (tenant_id, grain, bucket, template_id, sender_domain, outcome, messages)
    select d.tenant_id, g.grain, g.bucket, d.template_id, d.sender_domain, d.outcome, sum(d.messages)
      from unnest(p) d
      join public.tenants t on t.id = d.tenant_id
      cross join lateral (values ('s'::text, public.analytics_slot(d.created_at)), ('h', public.analytics_hour(d.created_at)),
                                 ('d', public.analytics_grain_floor('d', d.created_at, t.time_zone)), ('m', public.analytics_grain_floor('m', d.created_at, t.time_zone))) g(grain, bucket)
     group by 1, 2, 3, 4, 5, 6
    having sum(d.messages) <> 0
  $$;

set local role :"owner";

-- Move the day, week and month keys date_trunc put after their unit's first instant (as deltas, which the
-- compactor folds into the keys' other rows).
with moved as (
  delete from analytics_event_rollups r using tenants t
   where t.id = r.tenant_id and r.grain in ('d', 'm') and r.bucket <> analytics_grain_floor(r.grain, r.bucket, t.time_zone)
  returning r.*, t.time_zone)
insert into analytics_event_rollups (tenant_id, grain, bucket, dimension, value, type, template_id, machine, events, first_human, first_any)
select tenant_id, grain, analytics_grain_floor(grain, bucket, time_zone), dimension, value, type, template_id, machine, events, first_human, first_any from moved;
with moved as (
  delete from analytics_cohort_rollups r using tenants t
   where t.id = r.tenant_id and r.grain in ('d', 'm') and r.bucket <> analytics_grain_floor(r.grain, r.bucket, t.time_zone)
  returning r.*, t.time_zone)
insert into analytics_cohort_rollups (tenant_id, grain, bucket, template_id, bulk_job_id, locale, status, human_mask, any_mask, credentials)
select tenant_id, grain, analytics_grain_floor(grain, bucket, time_zone), template_id, bulk_job_id, locale, status, human_mask, any_mask, credentials from moved;
with moved as (
  delete from analytics_latency_rollups r using tenants t
   where t.id = r.tenant_id and r.grain in ('d', 'm') and r.bucket <> analytics_grain_floor(r.grain, r.bucket, t.time_zone)
  returning r.*, t.time_zone)
insert into analytics_latency_rollups (tenant_id, grain, bucket, template_id, stage, bin, credentials)
select tenant_id, grain, analytics_grain_floor(grain, bucket, time_zone), template_id, stage, bin, credentials from moved;
with moved as (
  delete from analytics_delivery_rollups r using tenants t
   where t.id = r.tenant_id and r.grain in ('d', 'm') and r.bucket <> analytics_grain_floor(r.grain, r.bucket, t.time_zone)
  returning r.*, t.time_zone)
insert into analytics_delivery_rollups (tenant_id, grain, bucket, template_id, sender_domain, outcome, messages)
select tenant_id, grain, analytics_grain_floor(grain, bucket, time_zone), template_id, sender_domain, outcome, messages from moved;

create function is_known_time_zone(p_zone text) returns boolean
  language plpgsql immutable parallel safe set search_path = pg_catalog, pg_temp
  as $fn$
  begin
    perform timestamptz '2000-01-01 00:00:00+00' at time zone p_zone;
    return true;
  exception when invalid_parameter_value or feature_not_supported then
    return false;
  end
  $fn$;
comment on function is_known_time_zone(text) is 'Whether PostgreSQL can convert times to this zone (the tenants.time_zone backstop).';
-- A tenant already stored with a zone PostgreSQL does not know could neither issue nor read analytics;
-- it falls back to UTC (the default), which its owner can change.
update tenants set time_zone = 'UTC' where not is_known_time_zone(time_zone);
alter table tenants add constraint tenants_time_zone_known check (is_known_time_zone(time_zone));
