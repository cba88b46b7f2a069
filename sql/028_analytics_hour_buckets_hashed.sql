-- Found by the analytics benchmark (issue 9): analytics_buckets() spent ~11 ms of a month's HOUR series
-- finding runs of 15-minute slots with two window passes. A (local clock hour, UTC offset) pair cannot
-- recur within the few hours around a range, so its slots are one run: a hash aggregate finds them.
create or replace function analytics_buckets(p_from timestamptz, p_to timestamptz, p_unit text, p_zone text)
  returns table (idx integer, lo timestamptz, hi timestamptz, partial boolean)
  language sql stable parallel safe set search_path = pg_catalog, pg_temp
  rows 60
  as $$
    with hours as (
      select min(g) as s, max(g) + interval '15 minutes' as e
        from (select g, g at time zone p_zone as l
                from generate_series(to_timestamp(floor(extract(epoch from p_from) / 900) * 900) - interval '2 hours', p_to + interval '2 hours',
                                     interval '15 minutes') g
               where p_unit = 'hour') x
       group by date_trunc('hour', x.l), x.l - (x.g at time zone 'UTC')
    ),
    starts as (
      select distinct public.analytics_zone_start(p_unit, l at time zone p_zone, p_zone) as s
        from generate_series(date_trunc(p_unit, p_from at time zone p_zone),
                             (p_to at time zone p_zone) + case p_unit when 'day' then interval '1 day' when 'week' then interval '1 week' else interval '1 month' end,
                             case p_unit when 'day' then interval '1 day' when 'week' then interval '1 week' else interval '1 month' end) l
       where p_unit <> 'hour'
    ),
    spans as (
      select s, e from hours
      union all
      select s, e from (select s, lead(s) over (order by s) as e from starts) x where e is not null
    )
    select (row_number() over (order by s))::integer - 1, greatest(s, p_from), least(e, p_to), s < p_from or e > p_to
      from spans
     where s < p_to and e > p_from
  $$;
