-- UTC hours between slots and days (issue 9, benchmark). Found: an hour series over a month read 2,880
-- slots per type, a series in a caller's zone over a year read 35,040, and a range's edges inside a day
-- up to 95 slots each. Every rollup table now also keeps grain 'h': the UTC hour (bucket = the hour's
-- start), which does not depend on the tenant's zone. analytics_cover() answers a range from months and
-- days (tenant's zone), then hours, then slots, so an edge is at most 23 hours and 3 slots; a series'
-- buckets whose bounds are whole UTC hours (every hour and day of a whole-hour zone) read hours.
--
-- Also: rebuild_engagement_analytics() plans its joins with nested loops off. Found by the benchmark:
-- rebuilding a tenant that the statistics of analytics_credentials / analytics_first_touches do not
-- yet hold (their rows were just deleted and re-inserted in the same call, which ANALYZE cannot see)
-- planned each join as a nested loop over "1 row" and ran for over an hour on a million credentials.
-- Every join in it reads a whole tenant, where hash and merge joins are the right plans.

do $$
declare
  t text;
begin
  foreach t in array array['analytics_event_rollups', 'analytics_cohort_rollups', 'analytics_latency_rollups', 'analytics_delivery_rollups'] loop
    execute format('alter table %I drop constraint %I', t, t || '_grain_check');
    execute format('alter table %I add constraint %I check (grain in (''s'', ''h'', ''d'', ''m''))', t, t || '_grain_check');
  end loop;
end $$;

/* The UTC hour holding an instant: its start. Shape as analytics_slot(). */
create function analytics_hour(p_at timestamptz) returns timestamptz language sql immutable parallel safe
  as $$ select to_timestamp(floor(extract(epoch from p_at) / 3600) * 3600) $$;
comment on function analytics_hour(timestamptz) is 'Start of the UTC hour holding an instant (rollup grain h).';

/* The first boundary of a grain at or after an instant, and the last at or before it: months and days
   in zone p_zone, hours in UTC, slots every 15 minutes. */
create function analytics_grain_floor(p_grain text, p_at timestamptz, p_zone text) returns timestamptz
  language sql immutable parallel safe set search_path = pg_catalog, pg_temp
  as $$
    select case p_grain when 'm' then date_trunc('month', p_at, p_zone) when 'd' then date_trunc('day', p_at, p_zone)
                        when 'h' then to_timestamp(floor(extract(epoch from p_at) / 3600) * 3600)
                        else to_timestamp(floor(extract(epoch from p_at) / 900) * 900) end
  $$;
create function analytics_grain_ceil(p_grain text, p_at timestamptz, p_zone text) returns timestamptz
  language sql immutable parallel safe set search_path = pg_catalog, pg_temp
  as $$
    select case when f = p_at then f
                when p_grain = 'm' then (date_trunc('month', p_at at time zone p_zone) + interval '1 month') at time zone p_zone
                when p_grain = 'd' then (date_trunc('day', p_at at time zone p_zone) + interval '1 day') at time zone p_zone
                when p_grain = 'h' then f + interval '1 hour'
                else f + interval '15 minutes' end
      from (select public.analytics_grain_floor(p_grain, p_at, p_zone) as f) x
  $$;

/* Splits [p_from, p_to) into pieces of the coarsest grains that fit, coarsest first in p_grains, then
   slots: each instant in exactly one piece. */
create function analytics_cover_grains(p_from timestamptz, p_to timestamptz, p_zone text, p_grains text[])
  returns table (grain text, lo timestamptz, hi timestamptz)
  language plpgsql immutable parallel safe set search_path = pg_catalog, pg_temp
  as $fn$
  declare
    a timestamptz;
    b timestamptz;
  begin
    if p_to <= p_from then
      return;
    end if;
    if cardinality(p_grains) = 0 then
      grain := 's'; lo := p_from; hi := p_to; return next;
      return;
    end if;
    a := public.analytics_grain_ceil(p_grains[1], p_from, p_zone);
    b := public.analytics_grain_floor(p_grains[1], p_to, p_zone);
    if a < b then
      grain := p_grains[1]; lo := a; hi := b; return next;
      return query select * from public.analytics_cover_grains(p_from, a, p_zone, p_grains[2:]);
      return query select * from public.analytics_cover_grains(b, p_to, p_zone, p_grains[2:]);
    else
      return query select * from public.analytics_cover_grains(p_from, p_to, p_zone, p_grains[2:]);
    end if;
  end
  $fn$;

drop function analytics_cover(uuid, timestamptz, timestamptz);
/* A range's pieces: months and days of the tenant's zone (from p_coarsest down: 'm', 'd' or 'h'), UTC
   hours, then 15-minute slots. Every piece's rows lie within the range, and with p_coarsest 'd' within
   one day of the tenant's zone (with 'h', within one UTC hour). */
create function analytics_cover(p_tenant uuid, p_from timestamptz, p_to timestamptz, p_coarsest text default 'm')
  returns table (grain text, lo timestamptz, hi timestamptz)
  language sql stable parallel safe set search_path = pg_catalog, pg_temp
  rows 7
  as $$
    select c.grain, c.lo, c.hi
      from public.analytics_cover_grains(p_from, p_to,
             coalesce((select t.time_zone from public.tenants t where t.id = p_tenant), 'UTC'),
             case p_coarsest when 'm' then array['m', 'd', 'h'] when 'd' then array['d', 'h'] when 'h' then array['h'] else array[]::text[] end) c
  $$;
comment on function analytics_cover(uuid, timestamptz, timestamptz, text) is
  'Splits a range into month, day (tenant''s zone), UTC hour and slot pieces of the tenant''s rollups; the caller''s RLS still applies to what it reads.';

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
                                 ('d', date_trunc('day', d.at, t.time_zone)), ('m', date_trunc('month', d.at, t.time_zone))) g(grain, bucket)
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
                                 ('d', date_trunc('day', d.issued_at, t.time_zone)), ('m', date_trunc('month', d.issued_at, t.time_zone))) g(grain, bucket)
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
                                 ('d', date_trunc('day', d.issued_at, t.time_zone)), ('m', date_trunc('month', d.issued_at, t.time_zone))) g(grain, bucket)
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
                                 ('d', date_trunc('day', d.created_at, t.time_zone)), ('m', date_trunc('month', d.created_at, t.time_zone))) g(grain, bucket)
     group by 1, 2, 3, 4, 5, 6
    having sum(d.messages) <> 0
  $$;

/* Every coarser grain from the slots: UTC hours (zone-free, but derived here with the rest so that one
   function makes them all), and days and months in p_zone. Used by the rebuild and a change of zone. */
create or replace function analytics_regrain(p_tenant uuid, p_zone text) returns void
  language plpgsql volatile set search_path = pg_catalog, pg_temp
  as $fn$
  begin
    delete from public.analytics_event_rollups where tenant_id = p_tenant and grain <> 's';
    delete from public.analytics_cohort_rollups where tenant_id = p_tenant and grain <> 's';
    delete from public.analytics_latency_rollups where tenant_id = p_tenant and grain <> 's';
    delete from public.analytics_delivery_rollups where tenant_id = p_tenant and grain <> 's';
    insert into public.analytics_event_rollups (tenant_id, grain, bucket, dimension, value, type, template_id, machine, events, first_human, first_any, compacted)
    select p_tenant, g.grain, public.analytics_grain_floor(g.grain, r.bucket, p_zone), r.dimension, r.value, r.type, r.template_id, r.machine,
           sum(r.events), sum(r.first_human), sum(r.first_any), true
      from public.analytics_event_rollups r cross join (values ('h'::text), ('d'), ('m')) g(grain)
     where r.tenant_id = p_tenant and r.grain = 's'
     group by 1, 2, 3, 4, 5, 6, 7, 8
    having sum(r.events) <> 0 or sum(r.first_human) <> 0 or sum(r.first_any) <> 0;
    insert into public.analytics_cohort_rollups (tenant_id, grain, bucket, template_id, bulk_job_id, locale, status, human_mask, any_mask, credentials, compacted)
    select p_tenant, g.grain, public.analytics_grain_floor(g.grain, r.bucket, p_zone), r.template_id, r.bulk_job_id, r.locale, r.status, r.human_mask, r.any_mask,
           sum(r.credentials), true
      from public.analytics_cohort_rollups r cross join (values ('h'::text), ('d'), ('m')) g(grain)
     where r.tenant_id = p_tenant and r.grain = 's'
     group by 1, 2, 3, 4, 5, 6, 7, 8, 9
    having sum(r.credentials) <> 0;
    insert into public.analytics_latency_rollups (tenant_id, grain, bucket, template_id, stage, bin, credentials, compacted)
    select p_tenant, g.grain, public.analytics_grain_floor(g.grain, r.bucket, p_zone), r.template_id, r.stage, r.bin, sum(r.credentials), true
      from public.analytics_latency_rollups r cross join (values ('h'::text), ('d'), ('m')) g(grain)
     where r.tenant_id = p_tenant and r.grain = 's'
     group by 1, 2, 3, 4, 5, 6
    having sum(r.credentials) <> 0;
    insert into public.analytics_delivery_rollups (tenant_id, grain, bucket, template_id, sender_domain, outcome, messages, compacted)
    select p_tenant, g.grain, public.analytics_grain_floor(g.grain, r.bucket, p_zone), r.template_id, r.sender_domain, r.outcome, sum(r.messages), true
      from public.analytics_delivery_rollups r cross join (values ('h'::text), ('d'), ('m')) g(grain)
     where r.tenant_id = p_tenant and r.grain = 's'
     group by 1, 2, 3, 4, 5, 6
    having sum(r.messages) <> 0;
  end $fn$;

alter function rebuild_engagement_analytics(uuid) set enable_nestloop = off;

set local role :"owner";

-- Hours for the rows there are (deltas included: an hour's row is the sum of its slots' rows either way).
insert into analytics_event_rollups (tenant_id, grain, bucket, dimension, value, type, template_id, machine, events, first_human, first_any, compacted)
select r.tenant_id, 'h', analytics_hour(r.bucket), r.dimension, r.value, r.type, r.template_id, r.machine, sum(r.events), sum(r.first_human), sum(r.first_any), true
  from analytics_event_rollups r where r.grain = 's'
 group by 1, 2, 3, 4, 5, 6, 7, 8
having sum(r.events) <> 0 or sum(r.first_human) <> 0 or sum(r.first_any) <> 0;
insert into analytics_cohort_rollups (tenant_id, grain, bucket, template_id, bulk_job_id, locale, status, human_mask, any_mask, credentials, compacted)
select r.tenant_id, 'h', analytics_hour(r.bucket), r.template_id, r.bulk_job_id, r.locale, r.status, r.human_mask, r.any_mask, sum(r.credentials), true
  from analytics_cohort_rollups r where r.grain = 's'
 group by 1, 2, 3, 4, 5, 6, 7, 8, 9
having sum(r.credentials) <> 0;
insert into analytics_latency_rollups (tenant_id, grain, bucket, template_id, stage, bin, credentials, compacted)
select r.tenant_id, 'h', analytics_hour(r.bucket), r.template_id, r.stage, r.bin, sum(r.credentials), true
  from analytics_latency_rollups r where r.grain = 's'
 group by 1, 2, 3, 4, 5, 6
having sum(r.credentials) <> 0;
insert into analytics_delivery_rollups (tenant_id, grain, bucket, template_id, sender_domain, outcome, messages, compacted)
select r.tenant_id, 'h', analytics_hour(r.bucket), r.template_id, r.sender_domain, r.outcome, sum(r.messages), true
  from analytics_delivery_rollups r where r.grain = 's'
 group by 1, 2, 3, 4, 5, 6
having sum(r.messages) <> 0;

-- Fresh statistics for what the backfill wrote (024's backfill left none, and the planner then read a
-- year's series through a nested loop for 15 s).
analyze analytics_event_rollups, analytics_cohort_rollups, analytics_latency_rollups, analytics_delivery_rollups;
