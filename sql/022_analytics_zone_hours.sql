-- Hour buckets follow the zone's clock hours (issue 9): stepping by absolute hours from the first
-- bucket drifts after a half-hour daylight-saving change (Australia/Lord_Howe moves by 30 minutes), so
-- an hour bucket is what date_trunc('hour', t, zone) makes of the instants in it, sampled every 15
-- minutes (every offset is a multiple of 15 minutes): the same rule that places an instant in a bucket.
create or replace function analytics_buckets(p_from timestamptz, p_to timestamptz, p_unit text, p_zone text)
  returns table (idx integer, lo timestamptz, hi timestamptz)
  language sql stable parallel safe set search_path = pg_catalog, pg_temp
  as $$
    with starts as (
      select date_trunc('hour', g, p_zone) as s
        from generate_series(p_from, p_to - interval '15 minutes', interval '15 minutes') g
       where p_unit = 'hour'
      union all
      select l at time zone p_zone as s
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
