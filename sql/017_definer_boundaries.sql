-- Who may look across the tenant wall, and what each door in it trusts (issue 8, A and D).
--
-- Until now every SECURITY DEFINER function ran as the owner, whose *_owner_maintenance policies
-- reached every row of every table, except four tables (email_settings, sender_domains,
-- email_templates, webhook_attempts) where the owner had no policy, so the one guard that had to look
-- at other tenants' sender domains saw only the caller's and never fired. From here on:
--   * the owner role has no policy beyond the tenant's own: its definer functions see what the
--     transaction's tenant sees, and nothing else;
--   * the functions that must look across tenants (authentication, sign-up, public reads, provider
--     webhooks, engagement ingestion, the sender-domain guard, the reminder sweep's list of tenants)
--     belong to the NOLOGIN role :"gatekeeper", which holds column grants and per-command policies on
--     exactly the tables they read or write, each commented. The owner may hand functions to it but
--     does not inherit its rights (src/db/migrate.ts); to replace one of its functions, a migration
--     first does `set local role :"gatekeeper"`;
--   * no function returns a password hash or opens a session without proof of the password, an
--     invitation's secret or an account created in the same call; provider events are keyed by the
--     provider's message id and answer nothing about whose message it was; engagement batches are
--     bounded and each event must name a credential of the named tenant.
-- sql/README.md lists every definer function, who may call it and what it trusts the caller for.

-- ---------------------------------------------------------------------------------------------
-- 1. The owner keeps no policy that reaches beyond the transaction's tenant.

drop policy tenants_owner_maintenance on tenants;
drop policy users_owner_maintenance on users;
drop policy user_passwords_owner_maintenance on user_passwords;
drop policy memberships_owner_maintenance on memberships;
drop policy api_keys_owner_maintenance on api_keys;
drop policy sessions_owner_maintenance on sessions;
drop policy invitations_owner_maintenance on invitations;
drop policy audit_log_owner_maintenance on audit_log;
drop policy email_outbox_owner_maintenance on email_outbox;
drop policy issuer_profiles_owner_maintenance on issuer_profiles;
drop policy signing_keys_owner_maintenance on signing_keys;
drop policy templates_owner_maintenance on templates;
drop policy template_versions_owner_maintenance on template_versions;
drop policy recipients_owner_maintenance on recipients;
drop policy status_lists_owner_maintenance on status_lists;
drop policy credentials_owner_maintenance on credentials;
drop policy bulk_jobs_owner_maintenance on bulk_jobs;
drop policy bulk_job_rows_owner_maintenance on bulk_job_rows;
drop policy images_owner_maintenance on images;
drop policy webhook_endpoints_owner_maintenance on webhook_endpoints;
drop policy webhook_deliveries_owner_maintenance on webhook_deliveries;
drop policy engagement_events_owner_maintenance on engagement_events;
drop policy email_provider_events_owner_only on email_provider_events;

-- ---------------------------------------------------------------------------------------------
-- 2. The gatekeeper's rights: columns granted, and one policy per table and command.

grant select (id, name, slug, time_zone), insert (slug, name) on tenants to :"gatekeeper";
create policy tenants_gatekeeper_read on tenants for select to :"gatekeeper" using (true);
comment on policy tenants_gatekeeper_read on tenants is
  'Tenant names for public issuer profiles and a user''s list of their own tenants; ids for sign-up''s RETURNING.';
create policy tenants_gatekeeper_create on tenants for insert to :"gatekeeper" with check (true);
comment on policy tenants_gatekeeper_create on tenants is 'sign_up() and create_tenant() open a tenant that nobody belongs to yet.';

grant select (id, email), insert (email, name) on users to :"gatekeeper";
create policy users_gatekeeper_read on users for select to :"gatekeeper" using (true);
comment on policy users_gatekeeper_read on users is 'Log-in and invitations find an account by email before anyone is signed in.';
create policy users_gatekeeper_create on users for insert to :"gatekeeper" with check (true);
comment on policy users_gatekeeper_create on users is 'sign_up() and accept_invitation() create accounts.';

grant select (user_id, hash), insert (user_id, hash) on user_passwords to :"gatekeeper";
create policy user_passwords_gatekeeper_read on user_passwords for select to :"gatekeeper" using (true);
comment on policy user_passwords_gatekeeper_read on user_passwords is
  'login_parameters() and log_in() read a hash to derive and compare inside the database; no function returns one.';
create policy user_passwords_gatekeeper_create on user_passwords for insert to :"gatekeeper" with check (true);
comment on policy user_passwords_gatekeeper_create on user_passwords is 'sign_up() and accept_invitation() store a new account''s hash.';

grant select (tenant_id, id, user_id, role, created_at), insert (tenant_id, user_id, role) on memberships to :"gatekeeper";
create policy memberships_gatekeeper_read on memberships for select to :"gatekeeper" using (true);
comment on policy memberships_gatekeeper_read on memberships is
  'A session''s tenant and role, and a user''s own tenants, are looked up before any tenant is chosen.';
create policy memberships_gatekeeper_create on memberships for insert to :"gatekeeper" with check (true);
comment on policy memberships_gatekeeper_create on memberships is 'The first owner of a new tenant, and an accepted invitation''s member.';

grant select (tenant_id, id, secret_hash, scopes, name, revoked_at, expires_at, last_used_at), update (last_used_at)
  on api_keys to :"gatekeeper";
create policy api_keys_gatekeeper_read on api_keys for select to :"gatekeeper" using (true);
comment on policy api_keys_gatekeeper_read on api_keys is 'authenticate_api_key() resolves a key before its tenant is known.';
create policy api_keys_gatekeeper_touch on api_keys for update to :"gatekeeper" using (true) with check (true);
comment on policy api_keys_gatekeeper_touch on api_keys is 'authenticate_api_key() records last_used_at (its only updatable column).';

grant select (id, user_id, active_tenant_id, secret_hash, expires_at, last_seen_at, revoked_at),
      insert (id, user_id, active_tenant_id, secret_hash, expires_at, user_agent),
      update (last_seen_at, active_tenant_id)
  on sessions to :"gatekeeper";
create policy sessions_gatekeeper_read on sessions for select to :"gatekeeper" using (true);
comment on policy sessions_gatekeeper_read on sessions is 'authenticate_session() resolves a token before anyone is signed in.';
create policy sessions_gatekeeper_open on sessions for insert to :"gatekeeper" with check (true);
comment on policy sessions_gatekeeper_open on sessions is 'Sessions open only inside log_in(), sign_up() and accept_invitation(), after their proof.';
create policy sessions_gatekeeper_touch on sessions for update to :"gatekeeper" using (true) with check (true);
comment on policy sessions_gatekeeper_touch on sessions is
  'authenticate_session() records last_seen_at; switch_session_tenant() moves the caller''s own session.';

grant select (tenant_id, id, email, role, secret_hash, invited_by_user_id, created_at, expires_at, accepted_at,
              accepted_by_user_id, revoked_at),
      update (accepted_at, accepted_by_user_id)
  on invitations to :"gatekeeper";
create policy invitations_gatekeeper_read on invitations for select to :"gatekeeper" using (true);
comment on policy invitations_gatekeeper_read on invitations is 'accept_invitation() finds an invitation by (tenant, id, hash of its secret).';
create policy invitations_gatekeeper_accept on invitations for update to :"gatekeeper" using (true) with check (true);
comment on policy invitations_gatekeeper_accept on invitations is 'accept_invitation() marks the invitation accepted.';

grant insert (tenant_id, actor_kind, actor_id, action, target_type, target_id, details) on audit_log to :"gatekeeper";
create policy audit_log_gatekeeper_record on audit_log for insert to :"gatekeeper" with check (true);
comment on policy audit_log_gatekeeper_record on audit_log is 'Tenant creation and joining are recorded in the tenant they concern.';

grant select (tenant_id, name, url, email, description, image_url) on issuer_profiles to :"gatekeeper";
create policy issuer_profiles_gatekeeper_read on issuer_profiles for select to :"gatekeeper" using (true);
comment on policy issuer_profiles_gatekeeper_read on issuer_profiles is 'public_issuer(): the profile every credential already shows.';

grant select (tenant_id, key_number, public_key_multibase, retired_at) on signing_keys to :"gatekeeper";
create policy signing_keys_gatekeeper_read on signing_keys for select to :"gatekeeper" using (true);
comment on policy signing_keys_gatekeeper_read on signing_keys is 'public_issuer(): public keys for DID documents; the sealed secret column is not granted.';

grant select (tenant_id, id, kind, status, reminder_count, reminder_interval_days, expiry_reminder_days) on templates to :"gatekeeper";
create policy templates_gatekeeper_read on templates for select to :"gatekeeper" using (true);
comment on policy templates_gatekeeper_read on templates is 'public_achievement() hides drafts; tenants_due_for_reminders() reads reminder settings.';

grant select (tenant_id, template_id, version, name, description, criteria_narrative, criteria_url, image_url, tags, alignments)
  on template_versions to :"gatekeeper";
create policy template_versions_gatekeeper_read on template_versions for select to :"gatekeeper" using (true);
comment on policy template_versions_gatekeeper_read on template_versions is 'public_achievement(): achievement data every issued credential already shows.';

grant select (tenant_id, id, tracking_consent, restricted_at) on recipients to :"gatekeeper";
create policy recipients_gatekeeper_read on recipients for select to :"gatekeeper" using (true);
comment on policy recipients_gatekeeper_read on recipients is
  'record_engagement_events() decides consent and restriction per event; no name or email column is granted.';

grant select (tenant_id, id, purpose, capacity, version) on status_lists to :"gatekeeper";
create policy status_lists_gatekeeper_read on status_lists for select to :"gatekeeper" using (true);
comment on policy status_lists_gatekeeper_read on status_lists is 'public_status_list(): published lists.';

grant select (tenant_id, id, template_id, recipient_id, status, status_list_id, status_index, suspension_list_id, suspension_index,
              issued_at, valid_from, valid_until, document, revoked_at, suspended_at, revocation_reason, engaged_at, claimed_at, reminders_sent,
              last_reminded_at, expiry_reminded_at, expired_notified_at),
      update (engaged_at, claimed_at)
  on credentials to :"gatekeeper";
create policy credentials_gatekeeper_read on credentials for select to :"gatekeeper" using (true);
comment on policy credentials_gatekeeper_read on credentials is
  'Public credential and status-list reads, engagement events (which name a credential) and the reminder sweep''s due tenants.';
create policy credentials_gatekeeper_engaged on credentials for update to :"gatekeeper" using (true) with check (true);
comment on policy credentials_gatekeeper_engaged on credentials is 'record_engagement_events() sets engaged_at and claimed_at (its only updatable columns).';

grant select (tenant_id, id, content_type, bytes, sha256) on images to :"gatekeeper";
create policy images_gatekeeper_read on images for select to :"gatekeeper" using (true);
comment on policy images_gatekeeper_read on images is 'public_image(): uploaded images are public parts of credentials.';

grant select (tenant_id, domain, status) on sender_domains to :"gatekeeper";
create policy sender_domains_gatekeeper_read on sender_domains for select to :"gatekeeper" using (true);
comment on policy sender_domains_gatekeeper_read on sender_domains is
  'sender_domain_claimed_elsewhere() must see other tenants'' verified domains (it answers yes or no only).';

grant select (tenant_id, id, kind, status, credential_id, provider, provider_message_id, created_at, opened_at, clicked_at,
              delivered_at, bounced_at, complained_at, status_detail),
      update (status, delivered_at, bounced_at, complained_at, status_detail, opened_at, clicked_at)
  on email_outbox to :"gatekeeper";
create policy email_outbox_gatekeeper_read on email_outbox for select to :"gatekeeper" using (true);
comment on policy email_outbox_gatekeeper_read on email_outbox is
  'apply_email_event() finds a message by the provider''s id; record_engagement_events() checks a message belongs to its credential.';
create policy email_outbox_gatekeeper_status on email_outbox for update to :"gatekeeper" using (true) with check (true);
comment on policy email_outbox_gatekeeper_status on email_outbox is 'Delivery status (forward only) and first open and click.';

grant select, insert on email_provider_events to :"gatekeeper";
create policy email_provider_events_gatekeeper on email_provider_events to :"gatekeeper" using (true) with check (true);
comment on policy email_provider_events_gatekeeper on email_provider_events is 'apply_email_event() applies each provider event once.';

grant select (tenant_id, id, enabled, event_types) on webhook_endpoints to :"gatekeeper";
create policy webhook_endpoints_gatekeeper_read on webhook_endpoints for select to :"gatekeeper" using (true);
comment on policy webhook_endpoints_gatekeeper_read on webhook_endpoints is
  'emit_partner_events_for() finds the subscribed endpoints of the tenant its caller established; secrets are not granted.';

grant select (tenant_id, id), insert (tenant_id, endpoint_id, event_type, payload) on webhook_deliveries to :"gatekeeper";
create policy webhook_deliveries_gatekeeper_read on webhook_deliveries for select to :"gatekeeper" using (true);
comment on policy webhook_deliveries_gatekeeper_read on webhook_deliveries is 'emit_partner_events_for() reads back the ids it queues jobs for.';
create policy webhook_deliveries_gatekeeper_create on webhook_deliveries for insert to :"gatekeeper" with check (true);
comment on policy webhook_deliveries_gatekeeper_create on webhook_deliveries is 'Partner events caused by provider webhooks and engagement.';

grant select (tenant_id, credential_id, type, machine, occurred_at),
      insert (tenant_id, occurred_at, type, template_id, credential_id, recipient_id, message_id, channel, network, format,
              ua_class, ip_hash, machine)
  on engagement_events to :"gatekeeper";
create policy engagement_events_gatekeeper_read on engagement_events for select to :"gatekeeper" using (true);
comment on policy engagement_events_gatekeeper_read on engagement_events is 'The hourly limit on partner events looks at the credential''s recent events.';
create policy engagement_events_gatekeeper_record on engagement_events for insert to :"gatekeeper" with check (true);
comment on policy engagement_events_gatekeeper_record on engagement_events is 'record_engagement_events() writes each event into the tenant that owns its credential.';

grant execute on function queue_job_for(uuid, text, jsonb, timestamptz, text, integer) to :"gatekeeper";

-- A key that only the gatekeeper reads: it makes login_parameters() answer an unknown email with
-- parameters indistinguishable from a real account's (same every time, unpredictable without it).
create schema laurel_private;
comment on schema laurel_private is 'Secrets of the database''s own functions; no runtime role may use it.';
grant usage on schema laurel_private to :"gatekeeper";
create table laurel_private.login_decoy_key (
  singleton boolean primary key default true check (singleton),
  key bytea not null check (length(key) >= 32)
);
insert into laurel_private.login_decoy_key (key)
values (decode(replace(gen_random_uuid()::text || gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex'));
alter table laurel_private.login_decoy_key enable row level security;
alter table laurel_private.login_decoy_key force row level security;
grant select on laurel_private.login_decoy_key to :"gatekeeper";
create policy login_decoy_key_gatekeeper_read on laurel_private.login_decoy_key for select to :"gatekeeper" using (true);
comment on policy login_decoy_key_gatekeeper_read on laurel_private.login_decoy_key is 'Read by login_parameters() only.';

-- ---------------------------------------------------------------------------------------------
-- 3. Passwords: the database never hands out a hash. The server asks for the parameters and salt of
-- an email's argon2 hash, derives the raw hash from the password it was given, and log_in() compares
-- and opens the session in one call.

create function argon2_phc(p_encoded text)
  returns table (algorithm text, version integer, memory_cost integer, time_cost integer, parallelism integer, salt bytea, hash bytea)
  language sql immutable parallel safe set search_path = pg_catalog, pg_temp
  as $fn$
    select m[1], m[2]::integer, m[3]::integer, m[4]::integer, m[5]::integer,
           decode(rpad(m[6], (length(m[6]) + 3) / 4 * 4, '='), 'base64'),
           decode(rpad(m[7], (length(m[7]) + 3) / 4 * 4, '='), 'base64')
      from regexp_match(p_encoded,
             '^\$(argon2id|argon2i|argon2d)\$v=(16|19)\$m=([0-9]{1,8}),t=([0-9]{1,4}),p=([0-9]{1,3})\$([A-Za-z0-9+/]{11,})\$([A-Za-z0-9+/]{16,})$') as m
     where m is not null
  $fn$;
comment on function argon2_phc(text) is
  'Splits an argon2 hash in PHC string format into its parameters, salt and raw hash; no row when it is not one.';
revoke execute on function argon2_phc(text) from public;
grant execute on function argon2_phc(text) to :"gatekeeper";

create function login_parameters(p_email text)
  returns table (algorithm text, version integer, memory_cost integer, time_cost integer, parallelism integer, salt bytea,
                 output_length integer)
  language sql stable security definer set search_path = pg_catalog, pg_temp
  as $fn$
    select coalesce(p.algorithm, 'argon2id'), coalesce(p.version, 19), coalesce(p.memory_cost, 19456),
           coalesce(p.time_cost, 2), coalesce(p.parallelism, 1),
           coalesce(p.salt, substring(sha256(k.key || convert_to(lower(p_email), 'UTF8')) from 1 for 16)),
           coalesce(length(p.hash), 32)
      from laurel_private.login_decoy_key k
      left join lateral (
        select ph.* from public.users u
          join public.user_passwords pw on pw.user_id = u.id
          cross join lateral public.argon2_phc(pw.hash) ph
         where u.email = lower(p_email)) p on true
  $fn$;
comment on function login_parameters(text) is
  'The argon2 parameters and salt to derive a log-in attempt''s hash with; an unknown email gets the same answer every time, made from a key only the database holds, so it does not tell who has an account.';

-- Opens a session for an account its caller has just proven (log_in, sign_up, accept_invitation):
-- not a definer function, and executable by the gatekeeper alone.
create function start_session(p_user_id uuid, p_tenant_id uuid, p_session_id uuid, p_secret_hash bytea, p_expires_at timestamptz,
                              p_user_agent text)
  returns table (user_id uuid, tenant_id uuid)
  language plpgsql volatile set search_path = pg_catalog, pg_temp
  as $fn$
  declare
    v_tenant uuid;
  begin
    if p_session_id is null or p_secret_hash is null or length(p_secret_hash) <> 32 then
      raise exception 'a session needs an id and the sha256 of its secret' using errcode = '22023';
    end if;
    if p_expires_at is null or p_expires_at <= now() or p_expires_at > now() + interval '366 days' then
      raise exception 'a session ends within a year' using errcode = '22023';
    end if;
    if p_tenant_id is not null then
      select m.tenant_id into v_tenant from public.memberships m where m.tenant_id = p_tenant_id and m.user_id = p_user_id;
      if v_tenant is null then
        raise exception 'not a member of that tenant' using errcode = 'LRMBX';
      end if;
    else
      select m.tenant_id into v_tenant from public.memberships m where m.user_id = p_user_id order by m.created_at limit 1;
    end if;
    insert into public.sessions (id, user_id, active_tenant_id, secret_hash, expires_at, user_agent)
    values (p_session_id, p_user_id, v_tenant, p_secret_hash, p_expires_at, left(p_user_agent, 300));
    return query select p_user_id, v_tenant;
  end $fn$;
comment on function start_session(uuid, uuid, uuid, bytea, timestamptz, text) is
  'Inserts a session for a user whose proof the calling gatekeeper function has checked; the tenant must be theirs.';
revoke execute on function start_session(uuid, uuid, uuid, bytea, timestamptz, text) from public;

create function log_in(p_email text, p_password_hash bytea, p_tenant_id uuid, p_session_id uuid, p_session_secret_hash bytea,
                       p_expires_at timestamptz, p_user_agent text)
  returns table (user_id uuid, tenant_id uuid)
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
  as $fn$
  declare
    v_user uuid;
  begin
    select u.id into v_user
      from public.users u
      join public.user_passwords pw on pw.user_id = u.id
      cross join lateral public.argon2_phc(pw.hash) ph
     where u.email = lower(p_email) and ph.hash = p_password_hash;
    if v_user is null then
      return; -- wrong password or no such account: no row, and nothing written
    end if;
    return query select s.user_id, s.tenant_id
                   from public.start_session(v_user, p_tenant_id, p_session_id, p_session_secret_hash, p_expires_at, p_user_agent) s;
  end $fn$;
comment on function log_in(text, bytea, uuid, uuid, bytea, timestamptz, text) is
  'Compares the raw argon2 hash the server derived (login_parameters) with the stored one and, only when they match, opens the session in the same call.';

drop function login_lookup(text);
drop function create_session(uuid, uuid, uuid, bytea, timestamptz, text);

drop function sign_up(text, text, text, text, text);
create function sign_up(p_email text, p_name text, p_password_hash text, p_tenant_name text, p_tenant_slug text,
                        p_session_id uuid default null, p_session_secret_hash bytea default null,
                        p_session_expires_at timestamptz default null, p_user_agent text default null)
  returns table (user_id uuid, tenant_id uuid)
  language plpgsql security definer set search_path = pg_catalog, pg_temp
  as $fn$
  declare
    v_user uuid;
    v_tenant uuid;
  begin
    insert into public.users (email, name) values (lower(p_email), p_name) returning id into v_user;
    -- A value that is not an argon2 PHC string is stored as given and simply never matches at log-in.
    insert into public.user_passwords (user_id, hash) values (v_user, p_password_hash);
    insert into public.tenants (slug, name) values (p_tenant_slug, p_tenant_name) returning id into v_tenant;
    insert into public.memberships (tenant_id, user_id, role) values (v_tenant, v_user, 'owner');
    insert into public.audit_log (tenant_id, actor_kind, actor_id, action, target_type, target_id)
    values (v_tenant, 'user', v_user, 'tenant.created', 'Tenant', v_tenant::text);
    if p_session_id is not null then
      perform public.start_session(v_user, v_tenant, p_session_id, p_session_secret_hash, p_session_expires_at, p_user_agent);
    end if;
    return query select v_user, v_tenant;
  end $fn$;
comment on function sign_up(text, text, text, text, text, uuid, bytea, timestamptz, text) is
  'Creates a user, their tenant and the owner membership in one step (nobody is a member yet who could), and the new account''s first session when asked.';

drop function accept_invitation(uuid, uuid, bytea, text, text);
create function accept_invitation(p_tenant_id uuid, p_invitation_id uuid, p_secret_hash bytea, p_name text, p_password_hash text,
                                  p_session_id uuid default null, p_session_secret_hash bytea default null,
                                  p_session_expires_at timestamptz default null, p_user_agent text default null)
  returns table (user_id uuid, tenant_id uuid, membership_id uuid, role public.member_role, session_opened boolean)
  language plpgsql security definer set search_path = pg_catalog, pg_temp
  as $fn$
  declare
    v_inv record;
    v_user uuid := public.current_app_user_id();
    v_created boolean := false;
    v_email text;
    v_membership uuid;
  begin
    select i.tenant_id, i.id, i.email, i.role into v_inv from public.invitations i
     where i.tenant_id = p_tenant_id and i.id = p_invitation_id and i.secret_hash = p_secret_hash
       and i.accepted_at is null and i.revoked_at is null and i.expires_at > now()
     for update;
    if not found then
      raise exception 'invitation is invalid, used, revoked or expired' using errcode = 'LRINV';
    end if;
    if v_user is null then
      if exists (select 1 from public.users u where u.email = v_inv.email) then
        raise exception 'an account exists for this email: sign in, then accept' using errcode = 'LRLGN';
      end if;
      if p_password_hash is null or p_name is null then
        raise exception 'a name and password are needed to create the account' using errcode = 'LRPWD';
      end if;
      insert into public.users (email, name) values (v_inv.email, p_name) returning id into v_user;
      insert into public.user_passwords (user_id, hash) values (v_user, p_password_hash);
      v_created := true;
    else
      select u.email into v_email from public.users u where u.id = v_user;
      if v_email is distinct from v_inv.email then
        raise exception 'this invitation was sent to another email address' using errcode = 'LREML';
      end if;
    end if;
    insert into public.memberships (tenant_id, user_id, role) values (v_inv.tenant_id, v_user, v_inv.role)
    on conflict on constraint memberships_tenant_id_user_id_key do nothing
    returning id into v_membership;
    if v_membership is null then
      raise exception 'already a member of this tenant' using errcode = 'LRMBR';
    end if;
    update public.invitations i set accepted_at = now(), accepted_by_user_id = v_user
     where i.tenant_id = v_inv.tenant_id and i.id = v_inv.id;
    insert into public.audit_log (tenant_id, actor_kind, actor_id, action, target_type, target_id, details)
    values (v_inv.tenant_id, 'user', v_user, 'member.joined', 'Membership', v_membership::text,
            jsonb_build_object('invitationId', v_inv.id, 'role', v_inv.role));
    -- Only an account made here, with the invitation's secret as its proof, gets a session from it.
    if v_created and p_session_id is not null then
      perform public.start_session(v_user, v_inv.tenant_id, p_session_id, p_session_secret_hash, p_session_expires_at, p_user_agent);
    end if;
    return query select v_user, v_inv.tenant_id, v_membership, v_inv.role, v_created and p_session_id is not null;
  end $fn$;
comment on function accept_invitation(uuid, uuid, bytea, text, text, uuid, bytea, timestamptz, text) is
  'Turns an invitation token into a membership: for the signed-in user whose email it was sent to, or a new account for that email, which may get its first session here.';

-- ---------------------------------------------------------------------------------------------
-- 4. The guard that must see other tenants (issue 8 A), now able to.

create or replace function sender_domain_claimed_elsewhere(p_domain text)
  returns boolean
  language sql stable security definer set search_path = pg_catalog, pg_temp
  as $fn$
    select exists (select 1 from public.sender_domains d
                    where d.domain = lower(p_domain) and d.status = 'verified'
                      and d.tenant_id is distinct from public.current_tenant_id())
  $fn$;

-- A domain is verified for one tenant at a time, even when two verify at once. Where the broken guard
-- let two tenants verify one domain, the first to verify keeps it (the owner sees every row only while
-- this migration lifts FORCE, within its own transaction).
alter table sender_domains no force row level security;
update sender_domains d set status = 'pending', verified_at = null
 where d.status = 'verified'
   and exists (select 1 from sender_domains e
                where e.domain = d.domain and e.status = 'verified'
                  and (coalesce(e.verified_at, e.created_at), e.id) < (coalesce(d.verified_at, d.created_at), d.id));
alter table sender_domains force row level security;
create unique index sender_domains_verified_once on sender_domains (domain) where status = 'verified';
comment on index sender_domains_verified_once is
  'cross-tenant: one verified tenant per domain; says only that the domain is taken, as sender_domain_claimed_elsewhere() does.';

-- The reminder sweep's one cross-tenant question, asked by the worker's owner connection.
create function tenants_due_for_reminders()
  returns setof uuid
  language sql stable security definer set search_path = pg_catalog, pg_temp
  as $fn$
    select distinct c.tenant_id from public.credentials c
      join public.templates t on t.tenant_id = c.tenant_id and t.id = c.template_id
     where (c.engaged_at is null and c.status = 'ACTIVE' and c.reminders_sent < t.reminder_count
            and coalesce(c.last_reminded_at, c.issued_at) <= now() - make_interval(days => t.reminder_interval_days))
        or (c.valid_until is not null and c.expired_notified_at is null and c.valid_until <= now())
        or (c.valid_until is not null and c.expiry_reminded_at is null and t.expiry_reminder_days is not null and c.status = 'ACTIVE'
            and c.valid_until > now() and c.valid_until - make_interval(days => t.expiry_reminder_days) <= now())
  $fn$;
comment on function tenants_due_for_reminders() is
  'Which tenants have a reminder, expiry notice or expiry event due: tenant ids only; each tenant is then worked in its own transaction.';
revoke execute on function tenants_due_for_reminders() from public;

-- ---------------------------------------------------------------------------------------------
-- 5. Provider events: found by the provider's message id only, forward only, and the caller learns
-- whether the message was known and what its status is now, not whose it was.

drop function apply_email_event(text, text, text, timestamptz, text);
create function apply_email_event(p_event_id text, p_provider_message_id text, p_event_type text, p_occurred_at timestamptz, p_detail text)
  returns table (known boolean, applied boolean, status public.email_status)
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
  as $fn$
  declare
    m record;
    next_status public.email_status;
    v_at timestamptz;
    -- The provider's "failed" (refused after accepting) outranks "sent"; delivery outranks both.
    rank_of constant jsonb := '{"queued":0,"sending":1,"sent":2,"failed":3,"delivered":4,"bounced":5,"complained":6}';
  begin
    if p_event_id is null or length(p_event_id) > 200 or p_provider_message_id is null or length(p_provider_message_id) > 200 then
      return query select false, false, null::public.email_status;
      return;
    end if;
    -- Unknown message (not ours, or its send is not recorded yet): nothing is recorded, so the
    -- provider's retry can still apply it. Only messages this provider sent can be named.
    select o.tenant_id, o.id, o.status, o.kind, o.credential_id, o.created_at into m
      from public.email_outbox o
     where o.provider_message_id = p_provider_message_id and o.provider = 'resend'
       for update;
    if not found then
      return query select false, false, null::public.email_status;
      return;
    end if;
    if p_event_type not in ('email.sent', 'email.delivered', 'email.delivery_delayed', 'email.bounced', 'email.complained',
                            'email.failed', 'email.suppressed', 'email.opened', 'email.clicked') then
      return query select true, false, m.status;
      return;
    end if;
    insert into public.email_provider_events (event_id, provider_message_id, event_type)
    values (p_event_id, p_provider_message_id, p_event_type)
    on conflict (event_id) do nothing;
    if not found then
      return query select true, false, m.status;
      return;
    end if;
    -- An event happens after its message was created and not after now.
    v_at := least(greatest(coalesce(p_occurred_at, now()), m.created_at), now());
    next_status := case p_event_type
      when 'email.sent' then 'sent'
      when 'email.delivered' then 'delivered'
      when 'email.bounced' then 'bounced'
      when 'email.complained' then 'complained'
      when 'email.failed' then 'failed'
      when 'email.suppressed' then 'failed'
      else null end;
    if p_event_type = 'email.opened' then
      update public.email_outbox o set opened_at = coalesce(o.opened_at, v_at) where o.tenant_id = m.tenant_id and o.id = m.id;
    elsif p_event_type = 'email.clicked' then
      update public.email_outbox o set clicked_at = coalesce(o.clicked_at, v_at) where o.tenant_id = m.tenant_id and o.id = m.id;
    elsif next_status is not null and (rank_of ->> next_status::text)::int > (rank_of ->> m.status::text)::int then
      update public.email_outbox o
         set status = next_status,
             delivered_at = case when next_status = 'delivered' then v_at else o.delivered_at end,
             bounced_at = case when next_status = 'bounced' then v_at else o.bounced_at end,
             complained_at = case when next_status = 'complained' then v_at else o.complained_at end,
             status_detail = coalesce(left(p_detail, 1000), o.status_detail)
       where o.tenant_id = m.tenant_id and o.id = m.id;
      if m.credential_id is not null and next_status in ('delivered', 'bounced') then
        perform public.emit_partner_event_for(m.tenant_id, 'credential.' || next_status::text,
          jsonb_build_object('credentialId', m.credential_id, 'emailId', m.id, 'kind', m.kind));
      end if;
      return query select true, true, next_status;
      return;
    end if;
    return query select true, true, m.status;
  end
  $fn$;
comment on function apply_email_event(text, text, text, timestamptz, text) is
  'Applies a verified Resend webhook (the caller checked its signature) once, forward only, to the one Resend message it names by Resend''s own id; answers known/applied/status, never whose message it was.';

-- ---------------------------------------------------------------------------------------------
-- 6. Engagement: at most 1,000 events a call; each must name a credential of the tenant it names;
-- a message id counts only if it is that credential's message; times are clamped to the last day.

create or replace function record_engagement_events(p_events jsonb)
  returns integer
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
  as $fn$
  declare
    n integer;
  begin
    if jsonb_typeof(p_events) is distinct from 'array' then
      raise exception 'engagement events come as a JSON array' using errcode = '22023';
    end if;
    if jsonb_array_length(p_events) > 1000 then
      raise exception 'at most 1000 engagement events a call' using errcode = '54000';
    end if;
    with incoming as materialized (
      select x.tenant_id, x.credential_id, o.id as message_id, x.type, x.channel, x.network, x.format, x.ua_class, x.ip_hash,
             coalesce(x.machine, false) as machine,
             least(greatest(coalesce(x.occurred_at, now()), now() - interval '1 day'), now()) as occurred_at,
             c.template_id, c.recipient_id, (r.tracking_consent and r.restricted_at is null) as personal
        from jsonb_to_recordset(p_events) as x(tenant_id uuid, credential_id uuid, message_id uuid, type public.engagement_type,
                                               channel text, network text, format text, ua_class text, ip_hash text,
                                               machine boolean, occurred_at timestamptz)
        join public.credentials c on c.tenant_id = x.tenant_id and c.id = x.credential_id
        join public.recipients r on r.tenant_id = c.tenant_id and r.id = c.recipient_id
        left join public.email_outbox o on o.tenant_id = x.tenant_id and o.id = x.message_id and o.credential_id = x.credential_id
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
      into n;
    return n;
  end
  $fn$;
comment on function record_engagement_events(jsonb) is
  'Writes a batch of at most 1,000 engagement events, each only into the tenant that owns its credential (and a message only if it is that credential''s); consent and restriction decide whether it names anyone.';

-- ---------------------------------------------------------------------------------------------
-- 7. Only an owner may make or unmake an owner, whatever the application checked first (issue 8 C);
-- the user comes from the transaction's claims, and API keys never act as owners.

create function only_owners_grant_owner() returns trigger
  language plpgsql set search_path = pg_catalog, pg_temp
  as $fn$
  declare
    touches_owner boolean := new.role = 'owner';
  begin
    if tg_op = 'UPDATE' then
      touches_owner := touches_owner or old.role = 'owner';
    end if;
    if touches_owner and not exists (
      select 1 from public.memberships m
       where m.tenant_id = new.tenant_id and m.user_id = public.current_app_user_id() and m.role = 'owner') then
      raise exception 'only an owner can grant, change or remove the owner role' using errcode = 'LROWN';
    end if;
    return new;
  end $fn$;
comment on function only_owners_grant_owner() is 'Backstop for members:manage callers: the owner role moves only by an owner''s hand.';
create trigger memberships_only_owners_grant_owner before update of role on memberships
  for each row when (old.role is distinct from new.role) execute function only_owners_grant_owner();
create trigger invitations_only_owners_grant_owner before insert on invitations
  for each row when (new.role = 'owner') execute function only_owners_grant_owner();

-- ---------------------------------------------------------------------------------------------
-- 8. Who owns each definer function, and who may execute it.

alter function authenticate_api_key(uuid, uuid, bytea) owner to :"gatekeeper";
alter function authenticate_session(uuid, bytea) owner to :"gatekeeper";
alter function login_parameters(text) owner to :"gatekeeper";
alter function log_in(text, bytea, uuid, uuid, bytea, timestamptz, text) owner to :"gatekeeper";
alter function start_session(uuid, uuid, uuid, bytea, timestamptz, text) owner to :"gatekeeper";
alter function sign_up(text, text, text, text, text, uuid, bytea, timestamptz, text) owner to :"gatekeeper";
alter function create_tenant(text, text) owner to :"gatekeeper";
alter function accept_invitation(uuid, uuid, bytea, text, text, uuid, bytea, timestamptz, text) owner to :"gatekeeper";
alter function my_memberships() owner to :"gatekeeper";
alter function switch_session_tenant(uuid, uuid) owner to :"gatekeeper";
alter function public_issuer(uuid) owner to :"gatekeeper";
alter function public_credential(uuid, uuid) owner to :"gatekeeper";
alter function public_status_list(uuid, uuid) owner to :"gatekeeper";
alter function public_image(uuid, uuid) owner to :"gatekeeper";
alter function public_achievement(uuid, uuid, integer) owner to :"gatekeeper";
alter function sender_domain_claimed_elsewhere(text) owner to :"gatekeeper";
alter function tenants_due_for_reminders() owner to :"gatekeeper";
alter function apply_email_event(text, text, text, timestamptz, text) owner to :"gatekeeper";
alter function record_engagement_events(jsonb) owner to :"gatekeeper";
alter function emit_partner_events_for(uuid, text, jsonb) owner to :"gatekeeper";
alter function emit_partner_event_for(uuid, text, jsonb) owner to :"gatekeeper";

-- The owner hands these over without inheriting them: what follows is said as their owner.
set local role :"gatekeeper";
revoke execute on function login_parameters(text), log_in(text, bytea, uuid, uuid, bytea, timestamptz, text),
  sign_up(text, text, text, text, text, uuid, bytea, timestamptz, text),
  accept_invitation(uuid, uuid, bytea, text, text, uuid, bytea, timestamptz, text),
  apply_email_event(text, text, text, timestamptz, text)
  from public;
-- A signed-in caller may still sign up another account or log in again: its transaction runs as member.
grant execute on function login_parameters(text), log_in(text, bytea, uuid, uuid, bytea, timestamptz, text),
  sign_up(text, text, text, text, text, uuid, bytea, timestamptz, text),
  accept_invitation(uuid, uuid, bytea, text, text, uuid, bytea, timestamptz, text)
  to :"anonymous", :"member";
grant execute on function apply_email_event(text, text, text, timestamptz, text) to :"anonymous";
-- The owner's tenant-scoped emit_partner_events() and the worker's sweep call into the gatekeeper.
grant execute on function emit_partner_events_for(uuid, text, jsonb), tenants_due_for_reminders() to :"owner";
set local role :"owner";
