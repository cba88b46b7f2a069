-- Answering a whole tenant's series without reading every template's rows (issue 9, benchmark):
--  * dimension '*' holds every event once per grain, bucket, type and machine flag, with value '' and
--    the zero template: an unfiltered series over a year reads ~16 rows a day instead of one per
--    template and type;
--  * a second index leads with (dimension, value), so a series filtered to some templates (dimension
--    't', value = the template's id), a bulk job ('j') or a locale ('l') reads only their rows.
alter table analytics_event_rollups drop constraint analytics_event_rollups_dimension_check;
alter table analytics_event_rollups add constraint analytics_event_rollups_dimension_check
  check (dimension in ('*', 't', 'j', 'c', 'n', 'd', 'f', 'l'));
comment on table analytics_event_rollups is
  'Events and first touches per grain, bucket and one dimension (* all, t template, j bulk job, c channel, n network, d device class, f format, l locale).';
create index analytics_event_rollups_by_value on analytics_event_rollups (tenant_id, dimension, value, grain, bucket)
  include (type, template_id, machine, events, first_human, first_any);

set local role :"gatekeeper";

create or replace function analytics_add_event_deltas(p analytics_event_delta[]) returns void
  language sql volatile set search_path = pg_catalog, pg_temp
  as $$
    insert into public.analytics_event_rollups (tenant_id, grain, bucket, dimension, value, type, template_id, machine, events, first_human, first_any)
    select d.tenant_id, g.grain, g.bucket, v.dimension, v.value, d.type, v.template_id, d.machine,
           sum(d.events), sum(d.first_human), sum(d.first_any)
      from unnest(p) d
      join public.tenants t on t.id = d.tenant_id
      cross join lateral (values ('s'::text, public.analytics_slot(d.at)), ('d', date_trunc('day', d.at, t.time_zone)),
                                 ('m', date_trunc('month', d.at, t.time_zone))) g(grain, bucket)
      cross join lateral (values ('*'::text, ''::text, public.analytics_zero_uuid()), ('t', d.template_id::text, d.template_id),
                                 ('j', d.bulk_job_id::text, d.template_id), ('c', d.channel, d.template_id), ('n', d.network, d.template_id),
                                 ('d', d.ua_class, d.template_id), ('f', d.format, d.template_id), ('l', d.locale, d.template_id)) v(dimension, value, template_id)
     group by 1, 2, 3, 4, 5, 6, 7, 8
    having sum(d.events) <> 0 or sum(d.first_human) <> 0 or sum(d.first_any) <> 0
  $$;

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
    select p_tenant, 's', x.slot, v.dimension, v.value, x.type, v.template_id, x.machine, sum(x.events), sum(x.first_human), sum(x.first_any), true
      from fine x
      cross join lateral (values ('*'::text, ''::text, zero), ('t', x.template_id::text, x.template_id), ('j', x.bulk_job_id::text, x.template_id),
                                 ('c', x.channel, x.template_id), ('n', x.network, x.template_id), ('d', x.ua_class, x.template_id),
                                 ('f', x.format, x.template_id), ('l', x.locale, x.template_id)) v(dimension, value, template_id)
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

-- Existing rollups gain their '*' rows from the template rows (every dimension holds every event once).
insert into public.analytics_event_rollups (tenant_id, grain, bucket, dimension, value, type, template_id, machine, events, first_human, first_any, compacted)
select r.tenant_id, r.grain, r.bucket, '*', '', r.type, public.analytics_zero_uuid(), r.machine, sum(r.events), sum(r.first_human), sum(r.first_any), true
  from public.analytics_event_rollups r
 where r.dimension = 't'
 group by r.tenant_id, r.grain, r.bucket, r.type, r.machine
having sum(r.events) <> 0 or sum(r.first_human) <> 0 or sum(r.first_any) <> 0;

set local role :"owner";
