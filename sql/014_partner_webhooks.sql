-- Partner webhooks: endpoints a tenant registers, one delivery per (event, endpoint), and every attempt
-- logged. Events are emitted in SQL so that each cause (an issuance, a provider's bounce, a recorded
-- view) creates its deliveries and their jobs in its own transaction.

create table webhook_endpoints (
  tenant_id uuid not null references tenants (id),
  id uuid not null default uuid_v7(),
  url text not null check (length(url) <= 2000 and url ~ '^https?://'),
  description text check (length(description) <= 500),
  event_types text[] not null check (cardinality(event_types) between 1 and 20),
  -- The signing secret, sealed under the deployment's key-encryption key (row id as AAD).
  secret_sealed bytea not null,
  secret_kek_version integer not null,
  enabled boolean not null default true,
  disabled_reason text check (length(disabled_reason) <= 500),
  disabled_at timestamptz,
  consecutive_failures integer not null default 0,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (tenant_id, id)
);
create trigger webhook_endpoints_touch before update on webhook_endpoints for each row execute function touch_updated_at();
alter table webhook_endpoints enable row level security;
alter table webhook_endpoints force row level security;
create policy webhook_endpoints_tenant_isolation on webhook_endpoints
  using (tenant_id = (select current_tenant_id())) with check (tenant_id = (select current_tenant_id()));
comment on policy webhook_endpoints_tenant_isolation on webhook_endpoints is 'Rows of the current tenant only; none without a tenant.';
create policy webhook_endpoints_owner_maintenance on webhook_endpoints to :"owner" using (true) with check (true);
comment on policy webhook_endpoints_owner_maintenance on webhook_endpoints is 'Migration owner and its SECURITY DEFINER functions only.';
grant select, insert (tenant_id, id, url, description, event_types, secret_sealed, secret_kek_version),
      update (url, description, event_types, secret_sealed, secret_kek_version, enabled, disabled_reason, disabled_at, consecutive_failures),
      delete
  on webhook_endpoints to :"member";

create type webhook_delivery_status as enum ('pending', 'succeeded', 'failed');
create table webhook_deliveries (
  tenant_id uuid not null references tenants (id),
  id uuid not null default uuid_v7(),
  endpoint_id uuid not null,
  event_type text not null,
  -- The Standard Webhooks message id: the same across retries, so receivers can deduplicate.
  message_id text not null default ('msg_' || replace(uuid_v7()::text, '-', '')),
  payload jsonb not null,
  status webhook_delivery_status not null default 'pending',
  attempts integer not null default 0,
  next_attempt_at timestamptz,
  last_status_code integer,
  last_error text check (length(last_error) <= 1000),
  delivered_at timestamptz,
  created_at timestamptz not null default now(),
  primary key (tenant_id, id),
  foreign key (tenant_id, endpoint_id) references webhook_endpoints (tenant_id, id) on delete cascade
);
create index webhook_deliveries_endpoint on webhook_deliveries (tenant_id, endpoint_id, id desc);
alter table webhook_deliveries enable row level security;
alter table webhook_deliveries force row level security;
create policy webhook_deliveries_tenant_isolation on webhook_deliveries
  using (tenant_id = (select current_tenant_id())) with check (tenant_id = (select current_tenant_id()));
comment on policy webhook_deliveries_tenant_isolation on webhook_deliveries is 'Rows of the current tenant only; none without a tenant.';
create policy webhook_deliveries_owner_maintenance on webhook_deliveries to :"owner" using (true) with check (true);
comment on policy webhook_deliveries_owner_maintenance on webhook_deliveries is 'Migration owner and its SECURITY DEFINER functions only.';
grant select, insert (tenant_id, id, endpoint_id, event_type, payload),
      update (status, attempts, next_attempt_at, last_status_code, last_error, delivered_at)
  on webhook_deliveries to :"member";

create table webhook_attempts (
  tenant_id uuid not null references tenants (id),
  id uuid not null default uuid_v7(),
  delivery_id uuid not null,
  attempt integer not null,
  status_code integer,
  error text check (length(error) <= 1000),
  duration_ms integer not null,
  response_excerpt text check (length(response_excerpt) <= 1000),
  attempted_at timestamptz not null default now(),
  primary key (tenant_id, id),
  foreign key (tenant_id, delivery_id) references webhook_deliveries (tenant_id, id) on delete cascade
);
create index webhook_attempts_delivery on webhook_attempts (tenant_id, delivery_id, attempt);
alter table webhook_attempts enable row level security;
alter table webhook_attempts force row level security;
create policy webhook_attempts_tenant_isolation on webhook_attempts
  using (tenant_id = (select current_tenant_id())) with check (tenant_id = (select current_tenant_id()));
comment on policy webhook_attempts_tenant_isolation on webhook_attempts is 'Rows of the current tenant only; none without a tenant.';
grant select, insert on webhook_attempts to :"member";

-- One delivery (and one job) per enabled endpoint of the tenant subscribed to the event type, for each
-- item of p_items (an array of event data objects: bulk issuance emits a chunk's events in one call).
create function emit_partner_events_for(p_tenant_id uuid, p_event_type text, p_items jsonb)
  returns integer
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
  as $$
  declare
    delivery record;
    n integer := 0;
  begin
    if not exists (select 1 from public.webhook_endpoints e
                    where e.tenant_id = p_tenant_id and e.enabled and p_event_type = any(e.event_types)) then
      return 0;
    end if;
    for delivery in
      insert into public.webhook_deliveries (tenant_id, endpoint_id, event_type, payload)
      select e.tenant_id, e.id, p_event_type,
             jsonb_build_object('type', p_event_type,
                                'timestamp', to_char(clock_timestamp() at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                                'data', item.value)
        from public.webhook_endpoints e cross join jsonb_array_elements(p_items) item
       where e.tenant_id = p_tenant_id and e.enabled and p_event_type = any(e.event_types)
      returning id
    loop
      perform public.queue_job_for(p_tenant_id, 'deliver_webhook', jsonb_build_object('deliveryId', delivery.id), null, null, 5);
      n := n + 1;
    end loop;
    return n;
  end
  $$;
comment on function emit_partner_events_for(uuid, text, jsonb) is
  'Owner-only: called by definer functions that have already established the tenant (provider webhooks, engagement).';
revoke execute on function emit_partner_events_for(uuid, text, jsonb) from public;

create function emit_partner_event_for(p_tenant_id uuid, p_event_type text, p_data jsonb)
  returns integer
  language sql volatile security definer set search_path = pg_catalog, pg_temp
  as $$ select public.emit_partner_events_for(p_tenant_id, p_event_type, jsonb_build_array(p_data)) $$;
comment on function emit_partner_event_for(uuid, text, jsonb) is
  'Owner-only: one event of emit_partner_events_for.';
revoke execute on function emit_partner_event_for(uuid, text, jsonb) from public;

create function emit_partner_events(p_event_type text, p_items jsonb)
  returns integer
  language sql volatile security definer set search_path = pg_catalog, pg_temp
  as $$ select public.emit_partner_events_for(public.current_tenant_id(), p_event_type, p_items) $$;
comment on function emit_partner_events(text, jsonb) is
  'Emits partner events for the current tenant only, in the current transaction.';
revoke execute on function emit_partner_events(text, jsonb) from public;
grant execute on function emit_partner_events(text, jsonb) to :"member";

-- A Resend webhook, applied once (by its svix-id) to the message it names. Statuses only move forward:
-- a late "sent" never undoes "delivered"; bounced and complained outrank delivered.
create function apply_email_event(p_event_id text, p_provider_message_id text, p_event_type text, p_occurred_at timestamptz, p_detail text)
  returns table (applied boolean, tenant_id uuid, message_id uuid, status public.email_status)
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
  as $$
  declare
    m public.email_outbox%rowtype;
    next_status public.email_status;
    -- The provider's "failed" (refused after accepting) outranks "sent"; delivery outranks both.
    rank_of constant jsonb := '{"queued":0,"sending":1,"sent":2,"failed":3,"delivered":4,"bounced":5,"complained":6}';
  begin
    -- Unknown message (not ours, or its send is not recorded yet): nothing is recorded, so the
    -- provider's retry can still apply it.
    select * into m from public.email_outbox o where o.provider_message_id = p_provider_message_id for update;
    if not found then
      return query select false, null::uuid, null::uuid, null::public.email_status;
      return;
    end if;
    insert into public.email_provider_events (event_id, provider_message_id, event_type)
    values (p_event_id, p_provider_message_id, p_event_type)
    on conflict (event_id) do nothing;
    if not found then
      return query select false, m.tenant_id, m.id, m.status;
      return;
    end if;
    next_status := case p_event_type
      when 'email.sent' then 'sent'
      when 'email.delivered' then 'delivered'
      when 'email.bounced' then 'bounced'
      when 'email.complained' then 'complained'
      when 'email.failed' then 'failed'
      when 'email.suppressed' then 'failed'
      else null end;
    if p_event_type = 'email.opened' then
      update public.email_outbox o set opened_at = coalesce(o.opened_at, p_occurred_at) where o.tenant_id = m.tenant_id and o.id = m.id;
    elsif p_event_type = 'email.clicked' then
      update public.email_outbox o set clicked_at = coalesce(o.clicked_at, p_occurred_at) where o.tenant_id = m.tenant_id and o.id = m.id;
    elsif next_status is not null and (rank_of ->> next_status::text)::int > (rank_of ->> m.status::text)::int then
      update public.email_outbox o
         set status = next_status,
             delivered_at = case when next_status = 'delivered' then p_occurred_at else o.delivered_at end,
             bounced_at = case when next_status = 'bounced' then p_occurred_at else o.bounced_at end,
             complained_at = case when next_status = 'complained' then p_occurred_at else o.complained_at end,
             status_detail = coalesce(left(p_detail, 1000), o.status_detail)
       where o.tenant_id = m.tenant_id and o.id = m.id;
      if m.credential_id is not null and next_status in ('delivered', 'bounced') then
        perform public.emit_partner_event_for(m.tenant_id, 'credential.' || next_status::text,
          jsonb_build_object('credentialId', m.credential_id, 'emailId', m.id, 'kind', m.kind));
      end if;
      return query select true, m.tenant_id, m.id, next_status;
      return;
    end if;
    return query select true, m.tenant_id, m.id, m.status;
  end
  $$;
comment on function apply_email_event(text, text, text, timestamptz, text) is
  'Applies a verified Resend webhook (the caller checked its signature) once, to the one message it names, in whichever tenant owns it.';
revoke execute on function apply_email_event(text, text, text, timestamptz, text) from public;
grant execute on function apply_email_event(text, text, text, timestamptz, text) to :"anonymous";
