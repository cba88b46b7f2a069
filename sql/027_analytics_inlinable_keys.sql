-- Found by the analytics benchmark (issue 9): the key functions of 025/026 carried SET search_path, which
-- keeps PostgreSQL from inlining a SQL function, so each call was a function invocation of its own: an
-- hour series over a month spent 350 ms of its 390 ms computing two hour bounds per bucket, and the
-- rebuild and every flush's deltas paid the same per row. They are invoker functions over built-ins
-- (nothing to pin: pg_catalog is searched first) and STABLE, as date_trunc in a zone is, so they inline.

create or replace function analytics_zone_start(p_unit text, p_at timestamptz, p_zone text) returns timestamptz
  language sql stable parallel safe
  as $$
    select case when (s - interval '1 hour') at time zone p_zone = s at time zone p_zone then s - interval '1 hour'
                when (s - interval '30 minutes') at time zone p_zone = s at time zone p_zone then s - interval '30 minutes'
                else s end
      from (select date_trunc(p_unit, p_at, p_zone) as s) x
  $$;

create or replace function analytics_grain_floor(p_grain text, p_at timestamptz, p_zone text) returns timestamptz
  language sql stable parallel safe
  as $$
    select case p_grain when 'm' then public.analytics_zone_start('month', p_at, p_zone) when 'd' then public.analytics_zone_start('day', p_at, p_zone)
                        when 'h' then to_timestamp(floor(extract(epoch from p_at) / 3600) * 3600)
                        else to_timestamp(floor(extract(epoch from p_at) / 900) * 900) end
  $$;

create or replace function analytics_grain_ceil(p_grain text, p_at timestamptz, p_zone text) returns timestamptz
  language sql stable parallel safe
  as $$
    select case when f = p_at then f
                when p_grain = 'm' then public.analytics_zone_start('month', (date_trunc('month', p_at at time zone p_zone) + interval '1 month') at time zone p_zone, p_zone)
                when p_grain = 'd' then public.analytics_zone_start('day', (date_trunc('day', p_at at time zone p_zone) + interval '1 day') at time zone p_zone, p_zone)
                when p_grain = 'h' then f + interval '1 hour'
                else f + interval '15 minutes' end
      from (select public.analytics_grain_floor(p_grain, p_at, p_zone) as f) x
  $$;

-- analytics_cover_grains (plpgsql) is IMMUTABLE over these now-STABLE functions: say what it is.
alter function analytics_cover_grains(timestamptz, timestamptz, text, text[]) stable;
