-- Engagement events: append-only, partitioned by month. Raw IPs never reach the database (the server
-- stores a keyed hash). A recipient who withdrew tracking consent, or whose processing is restricted,
-- is counted only in aggregate: the row keeps tenant, template, type and time, never who.

create type engagement_type as enum ('email_opened', 'link_clicked', 'page_viewed', 'shared', 'linkedin_added',
                                     'downloaded', 'verified', 'claimed');

create table engagement_events (
  tenant_id uuid not null references tenants (id),
  id uuid not null default uuid_v7(),
  occurred_at timestamptz not null,
  type engagement_type not null,
  template_id uuid,
  credential_id uuid,
  recipient_id uuid,
  message_id uuid,
  channel text not null check (channel in ('email', 'web', 'api', 'linkedin', 'social', 'verifier')),
  network text check (length(network) <= 40),
  format text check (format in ('json', 'png', 'svg', 'pdf')),
  ua_class text not null check (ua_class in ('desktop', 'mobile', 'tablet', 'bot', 'mail_proxy', 'link_scanner', 'unknown')),
  ip_hash text check (length(ip_hash) <= 64),
  machine boolean not null default false,
  primary key (tenant_id, occurred_at, id)
) partition by range (occurred_at);
create index engagement_events_credential on engagement_events (tenant_id, credential_id, occurred_at) where credential_id is not null;
create index engagement_events_type_time on engagement_events (tenant_id, type, occurred_at);
alter table engagement_events enable row level security;
alter table engagement_events force row level security;
create policy engagement_events_tenant_isolation on engagement_events
  using (tenant_id = (select current_tenant_id())) with check (tenant_id = (select current_tenant_id()));
comment on policy engagement_events_tenant_isolation on engagement_events is 'Rows of the current tenant only; none without a tenant.';
create policy engagement_events_owner_maintenance on engagement_events to :"owner" using (true) with check (true);
comment on policy engagement_events_owner_maintenance on engagement_events is 'Migration owner and its SECURITY DEFINER functions only.';
-- Append-only: nobody at run time may update or delete an event.
grant select on engagement_events to :"member";

-- Partitions live in their own schema, which no runtime role may use: rows are reached only through
-- the parent, where the tenant policy applies.
create schema engagement_partitions;
create table engagement_partitions.engagement_events_default partition of engagement_events default;

create function ensure_engagement_partitions(p_months_ahead integer default 3)
  returns integer
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
  as $$
  declare
    month date := (date_trunc('month', now()) - interval '1 month')::date;
    last date := (date_trunc('month', now()) + make_interval(months => p_months_ahead))::date;
    name text;
    created integer := 0;
  begin
    while month <= last loop
      name := 'engagement_events_' || to_char(month, 'YYYY_MM');
      if to_regclass('engagement_partitions.' || name) is null then
        execute format('create table engagement_partitions.%I partition of public.engagement_events for values from (%L) to (%L)',
                       name, month, (month + interval '1 month')::date);
        created := created + 1;
      end if;
      month := (month + interval '1 month')::date;
    end loop;
    return created;
  end
  $$;
comment on function ensure_engagement_partitions(integer) is
  'Creates monthly partitions from last month to N months ahead; run by migrations and the worker''s daily cron.';
revoke execute on function ensure_engagement_partitions(integer) from public;
select ensure_engagement_partitions(3);

-- The ingestion buffer's flush: one call per batch. Consent and restriction are decided here, against
-- the recipient row as it is now, so a withdrawal takes effect for events still in flight.
create function record_engagement_events(p_events jsonb)
  returns integer
  language sql volatile security definer set search_path = pg_catalog, pg_temp
  as $$
    with incoming as materialized (
      select x.tenant_id, x.credential_id, x.message_id, x.type, x.channel, x.network, x.format, x.ua_class, x.ip_hash,
             coalesce(x.machine, false) as machine, coalesce(x.occurred_at, now()) as occurred_at,
             c.template_id, c.recipient_id, (r.tracking_consent and r.restricted_at is null) as personal
        from jsonb_to_recordset(p_events) as x(tenant_id uuid, credential_id uuid, message_id uuid, type public.engagement_type,
                                               channel text, network text, format text, ua_class text, ip_hash text,
                                               machine boolean, occurred_at timestamptz)
        join public.credentials c on c.tenant_id = x.tenant_id and c.id = x.credential_id
        join public.recipients r on r.tenant_id = c.tenant_id and r.id = c.recipient_id
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
  $$;
comment on function record_engagement_events(jsonb) is
  'Writes a batch of engagement events, each only into the tenant that owns its credential; consent and restriction decide whether it names anyone.';
revoke execute on function record_engagement_events(jsonb) from public;
grant execute on function record_engagement_events(jsonb) to :"anonymous";
