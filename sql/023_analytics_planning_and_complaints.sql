-- Two findings of the analytics tests (issue 9):
--  * The planner took analytics_cover() and analytics_buckets() for 1,000 rows each (the default for a
--    set-returning function), so a day series over a year was costed in the millions and JIT-compiled
--    on every call (2.8 s of 3.0 s). A range has at most 5 pieces; a series at most a few thousand
--    buckets, mostly a few dozen.
--  * A complaint implies delivery: a credential whose email drew a complaint (even with no delivered
--    event before it, as providers sometimes send them) reaches the funnel's DELIVERED stage, as delivery
--    health already counts it as delivered.
alter function analytics_cover(uuid, timestamptz, timestamptz) rows 5;
alter function analytics_buckets(timestamptz, timestamptz, text, text) rows 60;

set local role :"gatekeeper";

create or replace function analytics_on_email_updated() returns trigger
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
              or (o.delivered_at is null and n.delivered_at is not null)
              or (o.complained_at is null and n.complained_at is not null))) then
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
     where n.delivered_at is not null or n.complained_at is not null
     order by f.tenant_id, f.credential_id
       for update of f;
    with moved as (
      update public.analytics_credentials f
         set prev_status = f.status, prev_human_mask = f.human_mask, prev_any_mask = f.any_mask,
             prev_first_view_at = f.first_view_at, prev_first_share_at = f.first_share_at,
             human_mask = f.human_mask | 1, any_mask = f.any_mask | 1
        from (select distinct n.tenant_id, n.credential_id from new_rows n where (n.delivered_at is not null or n.complained_at is not null) and n.credential_id is not null) d
       where f.tenant_id = d.tenant_id and f.credential_id = d.credential_id and (f.human_mask & 1 = 0 or f.any_mask & 1 = 0)
      returning f.*
    )
    select array_agg(m) into changed from moved m;
    perform public.analytics_credential_changes(coalesce(changed, '{}'));
    return null;
  end $fn$;

create or replace function rebuild_engagement_analytics(p_tenant uuid) returns jsonb
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
                  where o.tenant_id = p_tenant and o.credential_id is not null
                    and (o.delivered_at is not null or o.complained_at is not null)) d on d.credential_id = c.id
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

set local role :"owner";
