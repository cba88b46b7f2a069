-- Retention of usage data (issue 13 part 3). Each tenant says how long raw usage data is kept, within
-- bounds (the README's "Retention" says why each bound is where it is); a daily worker job removes what is
-- older: whole monthly engagement partitions when every tenant allows it, batched deletes otherwise.
--
-- Analytics totals never change when raw events go: the rollups (sql/021) are written by triggers in the
-- same transaction as each event, so they already hold every event that can be deleted. Two readers of
-- raw events remain, and each keeps its answer:
--   * per-credential counts (Credential.engagement) add engagement_expired_counts, into which every
--     deletion of events (batched or a dropped partition) moves its counts in the same transaction;
--   * engagementSummary reads rollups before tenants.engagement_raw_since and raw events after it.
-- rebuild_engagement_analytics() recomputes from raw rows, so after expiry it would forget expired
-- events: the rebuild CLI refuses a tenant whose events have expired (src/modules/analytics/rebuild-cli.ts).

alter table tenants
  add column retention_engagement_months integer not null default 13 check (retention_engagement_months between 1 and 25),
  add column retention_delivery_log_days integer not null default 90 check (retention_delivery_log_days between 7 and 365),
  add column retention_email_body_days integer not null default 30 check (retention_email_body_days between 1 and 365),
  add column retention_export_file_days integer not null default 7 check (retention_export_file_days between 1 and 7),
  add column retention_audit_log_days integer not null default 730 check (retention_audit_log_days between 365 and 3650),
  -- Raw engagement events before this instant may be gone (the retention job's last cutoff, a UTC day
  -- start); never moves back, so lengthening retention does not pretend expired events still exist.
  add column engagement_raw_since timestamptz;
comment on column tenants.engagement_raw_since is
  'Raw engagement events before this may have expired (set only by advance_engagement_horizon()); readers use rollups before it.';
grant update (retention_engagement_months, retention_delivery_log_days, retention_email_body_days, retention_export_file_days,
              retention_audit_log_days)
  on tenants to :"member";
grant select (retention_delivery_log_days, engagement_raw_since) on tenants to :"gatekeeper";

-- What expired events counted, per credential, so all-time per-credential counts survive expiry.
create table engagement_expired_counts (
  tenant_id uuid not null references tenants (id),
  credential_id uuid not null,
  type engagement_type not null,
  machine boolean not null,
  events bigint not null check (events > 0),
  primary key (tenant_id, credential_id, type, machine)
);
comment on table engagement_expired_counts is 'Counts of expired raw engagement events per credential, type and machine flag.';
alter table engagement_expired_counts enable row level security;
alter table engagement_expired_counts force row level security;
create policy engagement_expired_counts_tenant_isolation on engagement_expired_counts
  using (tenant_id = (select current_tenant_id())) with check (tenant_id = (select current_tenant_id()));
comment on policy engagement_expired_counts_tenant_isolation on engagement_expired_counts is 'Rows of the current tenant only; none without a tenant.';
grant select on engagement_expired_counts to :"member";
grant select, insert, update on engagement_expired_counts to :"gatekeeper";
create policy engagement_expired_counts_gatekeeper_fold on engagement_expired_counts to :"gatekeeper" using (true) with check (true);
comment on policy engagement_expired_counts_gatekeeper_fold on engagement_expired_counts is
  'fold_expired_engagement() counts a whole partition of every tenant just before it is dropped.';

grant delete on email_provider_events to :"gatekeeper";
create index email_provider_events_received on email_provider_events (received_at);
create index webhook_attempts_tenant_time on webhook_attempts (tenant_id, attempted_at);
create index webhook_deliveries_tenant_time on webhook_deliveries (tenant_id, created_at) where status <> 'pending';
create index person_exports_tenant_time on person_exports (tenant_id, created_at);

-- ---------------------------------------------------------------------------------------------
-- Within the transaction's tenant (owner; the job calls them in a tenant transaction as the member).

/* Moves the current tenant's engagement horizon up to the start of the UTC day its retention reaches back
   to (never back); returns it. */
create function advance_engagement_horizon() returns timestamptz
  language sql volatile security definer set search_path = pg_catalog, pg_temp
  as $$
    update public.tenants t
       set engagement_raw_since = greatest(t.engagement_raw_since,
             date_trunc('day', now() - make_interval(months => t.retention_engagement_months), 'UTC'))
     where t.id = public.current_tenant_id()
    returning t.engagement_raw_since
  $$;
comment on function advance_engagement_horizon() is
  'Retention job: the current tenant''s engagement horizon follows its own setting, forward only.';

/* The email bodies (the message as sent) of the current tenant's finished messages done before p_before:
   at most p_batch are nulled; returns how many. Done: delivered, bounced or complained when the provider
   said so, else sent, else (failed, stored) last changed. Queued and sending messages keep theirs. */
create function blank_email_bodies(p_before timestamptz, p_batch integer) returns integer
  language sql volatile security definer set search_path = pg_catalog, pg_temp
  as $$
    with due as (
      select o.tenant_id, o.id from public.email_outbox o
       where o.tenant_id = public.current_tenant_id()
         and o.status in ('sent', 'delivered', 'bounced', 'complained', 'failed', 'stored')
         and coalesce(o.delivered_at, o.bounced_at, o.complained_at, o.sent_at, o.updated_at) < p_before
         and (o.subject is not null or o.html is not null or o.text_body is not null or o.content is not null)
       limit p_batch
       for update skip locked),
    blanked as (
      update public.email_outbox o set subject = null, html = null, text_body = null, content = null
        from due where o.tenant_id = due.tenant_id and o.id = due.id
      returning 1)
    select count(*)::integer from blanked
  $$;
comment on function blank_email_bodies(timestamptz, integer) is
  'Retention job: nulls the current tenant''s finished emails'' bodies (subject, html, text_body, content), a batch at a time.';

/* One batch (at most p_batch rows, 1 to 10,000) of the current tenant's rows of one category that are older
   than the tenant's own setting: deleted (or, for email bodies, nulled). Returns how many; fewer than
   p_batch means the category is done. Rows another transaction holds are skipped (the next run gets them). */
create function expire_tenant_rows(p_category text, p_batch integer) returns integer
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
  as $fn$
  declare
    tid uuid := public.current_tenant_id();
    s record;
    n integer;
  begin
    if tid is null then
      raise exception 'retention runs within a tenant' using errcode = '42501';
    end if;
    if p_batch is null or p_batch not between 1 and 10000 then
      raise exception 'a batch is 1 to 10,000 rows' using errcode = '22023';
    end if;
    select t.engagement_raw_since, t.retention_delivery_log_days, t.retention_email_body_days, t.retention_export_file_days,
           t.retention_audit_log_days
      into s from public.tenants t where t.id = tid;
    case p_category
    when 'engagement_events' then
      -- Only before the horizon, which readers already answer from rollups; the counts move in the same statement.
      if s.engagement_raw_since is null then
        return 0;
      end if;
      with gone as (
        delete from public.engagement_events e
         where (e.tenant_id, e.occurred_at, e.id) in (
           select x.tenant_id, x.occurred_at, x.id from public.engagement_events x
            where x.tenant_id = tid and x.occurred_at < s.engagement_raw_since
            limit p_batch for update skip locked)
        returning e.credential_id, e.type, e.machine),
      counted as (
        insert into public.engagement_expired_counts as c (tenant_id, credential_id, type, machine, events)
        select tid, g.credential_id, g.type, g.machine, count(*) from gone g where g.credential_id is not null group by 2, 3, 4
        on conflict (tenant_id, credential_id, type, machine) do update set events = c.events + excluded.events
        returning 1)
      select count(*) into n from gone;
    when 'webhook_attempts' then
      delete from public.webhook_attempts a
       where (a.tenant_id, a.id) in (
         select x.tenant_id, x.id from public.webhook_attempts x
          where x.tenant_id = tid and x.attempted_at < now() - make_interval(days => s.retention_delivery_log_days)
          limit p_batch for update skip locked);
      get diagnostics n = row_count;
    when 'webhook_deliveries' then
      -- Finished deliveries only (their attempts go with them); a pending one is still being retried.
      delete from public.webhook_deliveries d
       where (d.tenant_id, d.id) in (
         select x.tenant_id, x.id from public.webhook_deliveries x
          where x.tenant_id = tid and x.status <> 'pending' and x.created_at < now() - make_interval(days => s.retention_delivery_log_days)
          limit p_batch for update skip locked);
      get diagnostics n = row_count;
    when 'email_bodies' then
      n := public.blank_email_bodies(now() - make_interval(days => s.retention_email_body_days), p_batch);
    when 'person_exports' then
      delete from public.person_exports p
       where (p.tenant_id, p.id) in (
         select x.tenant_id, x.id from public.person_exports x
          where x.tenant_id = tid and x.created_at < now() - make_interval(days => s.retention_export_file_days)
          limit p_batch for update skip locked);
      get diagnostics n = row_count;
    when 'audit_log' then
      delete from public.audit_log a
       where (a.tenant_id, a.id) in (
         select x.tenant_id, x.id from public.audit_log x
          where x.tenant_id = tid and x.at < now() - make_interval(days => s.retention_audit_log_days)
          limit p_batch for update skip locked);
      get diagnostics n = row_count;
    else
      raise exception 'unknown retention category %', p_category using errcode = '22023';
    end case;
    return n;
  end
  $fn$;
comment on function expire_tenant_rows(text, integer) is
  'Retention job: one batch of the current tenant''s rows older than its own settings; deletes nothing the daily job would not.';

revoke execute on function advance_engagement_horizon(), blank_email_bodies(timestamptz, integer), expire_tenant_rows(text, integer)
  from public;
grant execute on function advance_engagement_horizon(), expire_tenant_rows(text, integer) to :"member";

-- ---------------------------------------------------------------------------------------------
-- Across tenants (gatekeeper; called by the owner, the worker's cron connection).

set local role :"gatekeeper";

create function tenants_for_retention() returns setof uuid
  language sql stable security definer set search_path = pg_catalog, pg_temp
  as $$ select t.id from public.tenants t order by t.id $$;
comment on function tenants_for_retention() is
  'Retention job: every tenant''s id (ids only); each tenant is then worked in its own transactions.';

/* The instant before which every tenant's raw engagement events may go: the earliest horizon; null while
   any tenant has none yet (or there is no tenant). */
create function engagement_expiry_floor() returns timestamptz
  language sql stable security definer set search_path = pg_catalog, pg_temp
  as $$
    select case when count(*) = count(t.engagement_raw_since) then min(t.engagement_raw_since) end
      from public.tenants t
  $$;
comment on function engagement_expiry_floor() is
  'Retention job: the earliest engagement horizon of all tenants (null while one has none); a timestamp only.';

/* Adds the counts of every event in [p_from, p_to) to engagement_expired_counts, for a partition about to
   be dropped in the same transaction; refuses a range past any tenant's horizon. Returns the events counted. */
create function fold_expired_engagement(p_from timestamptz, p_to timestamptz) returns bigint
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
  as $fn$
  declare
    n bigint;
  begin
    if p_to is null or p_from is null or p_to > public.engagement_expiry_floor() is not false then
      raise exception 'events from % to % have not expired for every tenant', p_from, p_to using errcode = '22023';
    end if;
    with counted as (
      select e.tenant_id, e.credential_id, e.type, e.machine, count(*) as events
        from public.engagement_events e
       where e.occurred_at >= p_from and e.occurred_at < p_to and e.credential_id is not null
       group by 1, 2, 3, 4),
    folded as (
      insert into public.engagement_expired_counts as c (tenant_id, credential_id, type, machine, events)
      select * from counted order by 1, 2, 3, 4
      on conflict (tenant_id, credential_id, type, machine) do update set events = c.events + excluded.events
      returning 1)
    select coalesce(sum(events), 0) into n from counted;
    return n;
  end
  $fn$;
comment on function fold_expired_engagement(timestamptz, timestamptz) is
  'Retention job: per-credential counts of a whole expired partition (every tenant), just before the owner drops it.';

/* One batch of provider webhook events (platform-wide dedupe rows) older than the delivery-log retention
   of the tenant whose message each names (90 days for a message nobody knows). */
create function expire_provider_events(p_batch integer) returns integer
  language sql volatile security definer set search_path = pg_catalog, pg_temp
  as $$
    with due as (
      select e.event_id from public.email_provider_events e
        left join public.email_outbox o on o.provider_message_id = e.provider_message_id
        left join public.tenants t on t.id = o.tenant_id
       where e.received_at < now() - make_interval(days => coalesce(t.retention_delivery_log_days, 90))
         and e.received_at < now() - interval '7 days'
       limit least(greatest(p_batch, 1), 10000)),
    gone as (delete from public.email_provider_events e using due where e.event_id = due.event_id returning 1)
    select count(*)::integer from gone
  $$;
comment on function expire_provider_events(integer) is
  'Retention job: deletes provider webhook dedupe rows past their tenant''s delivery-log retention; answers a count only.';

revoke execute on function tenants_for_retention(), engagement_expiry_floor(), fold_expired_engagement(timestamptz, timestamptz),
  expire_provider_events(integer) from public;
grant execute on function tenants_for_retention(), engagement_expiry_floor(), fold_expired_engagement(timestamptz, timestamptz),
  expire_provider_events(integer) to :"owner";
set local role :"owner";

-- ---------------------------------------------------------------------------------------------
-- Whole partitions (owner, which owns them; called by the owner only).

/* Detaches and drops the oldest monthly engagement partition that ends at or before every tenant's horizon,
   after folding its per-credential counts, all in one transaction (so a failure leaves it whole and a
   second run does not count it twice). Waits at most 5 s for the table lock (a long read of the events
   defers the drop to the next run: 55P03). The default partition is never dropped. Returns the dropped
   partition's name, or null when none is due. */
create function drop_expired_engagement_partition() returns text
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
  as $fn$
  declare
    horizon timestamptz;
    p record;
  begin
    perform pg_advisory_xact_lock(7413, 1);
    horizon := public.engagement_expiry_floor();
    if horizon is null then
      return null;
    end if;
    select n.nspname, c.relname, b[1]::timestamptz as lo, b[2]::timestamptz as hi into p
      from pg_inherits i
      join pg_class c on c.oid = i.inhrelid
      join pg_namespace n on n.oid = c.relnamespace
      cross join lateral regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \(''([^'']+)''\) TO \(''([^'']+)''\)') b
     where i.inhparent = 'public.engagement_events'::regclass and b[2]::timestamptz <= horizon
     order by b[1]::timestamptz
     limit 1;
    if not found then
      return null;
    end if;
    perform set_config('lock_timeout', '5s', true);
    perform public.fold_expired_engagement(p.lo, p.hi);
    execute format('alter table public.engagement_events detach partition %I.%I', p.nspname, p.relname);
    execute format('drop table %I.%I', p.nspname, p.relname);
    return p.relname;
  end
  $fn$;
comment on function drop_expired_engagement_partition() is
  'Retention job: drops the oldest engagement partition every tenant''s retention has passed, its counts kept.';
revoke execute on function drop_expired_engagement_partition() from public;
