-- Found by the analytics benchmark (issue 9): a flush of 500 events spent 68 of its 336 ms computing the
-- day and month keys of every delta (date_trunc in the tenant's zone and the fall-back check, per row).
-- A flush's events share a few 15-minute slots, and every key of an instant is its slot's key (zone
-- offsets since 1972 are whole quarter hours), so the writers compute the keys once per tenant and slot.

set local role :"gatekeeper";

create or replace function analytics_add_event_deltas(p analytics_event_delta[]) returns void
  language sql volatile set search_path = pg_catalog, pg_temp
  as $$
    with d as (select x.*, public.analytics_slot(x.at) as slot from unnest(p) x),
    keys as materialized (
      select s.tenant_id, s.slot, g.grain, g.bucket
        from (select distinct d.tenant_id, d.slot from d) s
        join public.tenants t on t.id = s.tenant_id
        cross join lateral (values ('s'::text, s.slot), ('h', public.analytics_hour(s.slot)),
                                   ('d', public.analytics_grain_floor('d', s.slot, t.time_zone)),
                                   ('m', public.analytics_grain_floor('m', s.slot, t.time_zone))) g(grain, bucket))
    insert into public.analytics_event_rollups (tenant_id, grain, bucket, dimension, value, type, template_id, machine, events, first_human, first_any)
    select d.tenant_id, k.grain, k.bucket, v.dimension, v.value, d.type, v.template_id, d.machine,
           sum(d.events), sum(d.first_human), sum(d.first_any)
      from d
      join keys k on k.tenant_id = d.tenant_id and k.slot = d.slot
      cross join lateral (values ('*'::text, ''::text, public.analytics_zero_uuid()), ('t', d.template_id::text, d.template_id),
                                 ('j', d.bulk_job_id::text, d.template_id), ('c', d.channel, d.template_id), ('n', d.network, d.template_id),
                                 ('d', d.ua_class, d.template_id), ('f', d.format, d.template_id), ('l', d.locale, d.template_id)) v(dimension, value, template_id)
     group by 1, 2, 3, 4, 5, 6, 7, 8
    having sum(d.events) <> 0 or sum(d.first_human) <> 0 or sum(d.first_any) <> 0
  $$;

create or replace function analytics_add_cohort_deltas(p analytics_cohort_delta[]) returns void
  language sql volatile set search_path = pg_catalog, pg_temp
  as $$
    with d as (select x.*, public.analytics_slot(x.issued_at) as slot from unnest(p) x),
    keys as materialized (
      select s.tenant_id, s.slot, g.grain, g.bucket
        from (select distinct d.tenant_id, d.slot from d) s
        join public.tenants t on t.id = s.tenant_id
        cross join lateral (values ('s'::text, s.slot), ('h', public.analytics_hour(s.slot)),
                                   ('d', public.analytics_grain_floor('d', s.slot, t.time_zone)),
                                   ('m', public.analytics_grain_floor('m', s.slot, t.time_zone))) g(grain, bucket))
    insert into public.analytics_cohort_rollups (tenant_id, grain, bucket, template_id, bulk_job_id, locale, status, human_mask, any_mask, credentials)
    select d.tenant_id, k.grain, k.bucket, d.template_id, d.bulk_job_id, d.locale, d.status, d.human_mask, d.any_mask, sum(d.credentials)
      from d
      join keys k on k.tenant_id = d.tenant_id and k.slot = d.slot
     group by 1, 2, 3, 4, 5, 6, 7, 8, 9
    having sum(d.credentials) <> 0
  $$;

create or replace function analytics_add_latency_deltas(p analytics_latency_delta[]) returns void
  language sql volatile set search_path = pg_catalog, pg_temp
  as $$
    with d as (select x.*, public.analytics_slot(x.issued_at) as slot from unnest(p) x),
    keys as materialized (
      select s.tenant_id, s.slot, g.grain, g.bucket
        from (select distinct d.tenant_id, d.slot from d) s
        join public.tenants t on t.id = s.tenant_id
        cross join lateral (values ('s'::text, s.slot), ('h', public.analytics_hour(s.slot)),
                                   ('d', public.analytics_grain_floor('d', s.slot, t.time_zone)),
                                   ('m', public.analytics_grain_floor('m', s.slot, t.time_zone))) g(grain, bucket))
    insert into public.analytics_latency_rollups (tenant_id, grain, bucket, template_id, stage, bin, credentials)
    select d.tenant_id, k.grain, k.bucket, d.template_id, d.stage, d.bin, sum(d.credentials)
      from d
      join keys k on k.tenant_id = d.tenant_id and k.slot = d.slot
     group by 1, 2, 3, 4, 5, 6
    having sum(d.credentials) <> 0
  $$;

create or replace function analytics_add_delivery_deltas(p analytics_delivery_delta[]) returns void
  language sql volatile set search_path = pg_catalog, pg_temp
  as $$
    with d as (select x.*, public.analytics_slot(x.created_at) as slot from unnest(p) x),
    keys as materialized (
      select s.tenant_id, s.slot, g.grain, g.bucket
        from (select distinct d.tenant_id, d.slot from d) s
        join public.tenants t on t.id = s.tenant_id
        cross join lateral (values ('s'::text, s.slot), ('h', public.analytics_hour(s.slot)),
                                   ('d', public.analytics_grain_floor('d', s.slot, t.time_zone)),
                                   ('m', public.analytics_grain_floor('m', s.slot, t.time_zone))) g(grain, bucket))
    insert into public.analytics_delivery_rollups (tenant_id, grain, bucket, template_id, sender_domain, outcome, messages)
    select d.tenant_id, k.grain, k.bucket, d.template_id, d.sender_domain, d.outcome, sum(d.messages)
      from d
      join keys k on k.tenant_id = d.tenant_id and k.slot = d.slot
     group by 1, 2, 3, 4, 5, 6
    having sum(d.messages) <> 0
  $$;

set local role :"owner";
