-- Password resets: a member who forgot their password, or never had one (an account restored by a
-- tenant import arrives without a password hash: none ever leaves an export), proves they hold the
-- account's email address by using a one-time link Laurel emails to it. The link's token carries the
-- reset's id and a 256-bit secret of which only sha256 is stored (auth/tokens.ts).
--
-- An account is nobody's tenant's business: a reset belongs to the account, like its sessions, and its
-- email goes out as the platform's (auth/password-reset.ts), never through a tenant's outbox, sender
-- name or reply-to, and never into a tenant's audit log. Both doors are the gatekeeper's.

create table password_resets (
  id uuid primary key,
  user_id uuid not null references users (id) on delete cascade,
  secret_hash bytea not null check (length(secret_hash) = 32),
  created_at timestamptz not null default now(),
  expires_at timestamptz not null check (expires_at > created_at and expires_at <= created_at + interval '1 day'),
  used_at timestamptz check (used_at >= created_at)
);
create index password_resets_user on password_resets (user_id, created_at desc);
alter table password_resets enable row level security;
alter table password_resets force row level security;

grant select (id, user_id, secret_hash, created_at, expires_at, used_at), insert (id, user_id, secret_hash, expires_at),
      update (used_at)
  on password_resets to :"gatekeeper";
create policy password_resets_gatekeeper_read on password_resets for select to :"gatekeeper" using (true);
comment on policy password_resets_gatekeeper_read on password_resets is
  'start_password_reset() counts an account''s recent resets; reset_password() finds one by id and the hash of its secret.';
create policy password_resets_gatekeeper_create on password_resets for insert to :"gatekeeper" with check (true);
comment on policy password_resets_gatekeeper_create on password_resets is 'start_password_reset() writes a reset before anyone is signed in.';
create policy password_resets_gatekeeper_use on password_resets for update to :"gatekeeper" using (true) with check (true);
comment on policy password_resets_gatekeeper_use on password_resets is 'reset_password() marks the used reset and the account''s other open ones used.';

-- A reset replaces the hash (an imported account gets its first); sessions opened with the old password end.
grant update (hash, updated_at) on user_passwords to :"gatekeeper";
create policy user_passwords_gatekeeper_replace on user_passwords for update to :"gatekeeper" using (true) with check (true);
comment on policy user_passwords_gatekeeper_replace on user_passwords is 'reset_password() stores the new hash, after the emailed secret was proven.';
grant update (revoked_at) on sessions to :"gatekeeper";
grant select (name) on users to :"gatekeeper";

set local role :"gatekeeper";

create function start_password_reset(p_email text, p_reset_id uuid, p_secret_hash bytea, p_expires_at timestamptz)
  returns table (user_id uuid, user_name text, email text)
  language plpgsql security definer set search_path = pg_catalog, pg_temp
  as $fn$
  declare
    v_user record;
  begin
    if p_reset_id is null or p_secret_hash is null or length(p_secret_hash) <> 32 then
      raise exception 'a reset needs an id and the sha256 of its secret' using errcode = '22023';
    end if;
    if p_expires_at is null or p_expires_at <= now() or p_expires_at > now() + interval '1 day' then
      raise exception 'a reset link ends within a day' using errcode = '22023';
    end if;
    select u.id, u.name, u.email into v_user from public.users u where u.email = lower(p_email);
    if not found then
      return;
    end if;
    -- Concurrent requests for one account count one after the other.
    perform pg_advisory_xact_lock(hashtextextended('laurel.password_reset:' || v_user.id::text, 0));
    if (select count(*) from public.password_resets r
         where r.user_id = v_user.id and r.created_at > now() - interval '1 hour') >= 3 then
      return; -- at most three links an hour: the answer stays the same, the mailbox is spared
    end if;
    insert into public.password_resets (id, user_id, secret_hash, expires_at)
    values (p_reset_id, v_user.id, p_secret_hash, p_expires_at);
    return query select v_user.id, v_user.name, v_user.email;
  end $fn$;
comment on function start_password_reset(text, uuid, bytea, timestamptz) is
  'Writes a reset for the account with this email and says whom to email; nothing for an unknown email or a fourth request within the hour.';

create function reset_password(p_reset_id uuid, p_secret_hash bytea, p_password_hash text,
                               p_session_id uuid, p_session_secret_hash bytea, p_session_expires_at timestamptz, p_user_agent text)
  returns table (user_id uuid, tenant_id uuid, sessions_ended integer)
  language plpgsql security definer set search_path = pg_catalog, pg_temp
  as $fn$
  declare
    v_reset record;
    v_ended integer;
  begin
    if p_password_hash is null or p_password_hash !~ '^\$argon2id\$' then
      raise exception 'a password hash is an argon2id PHC string' using errcode = '22023';
    end if;
    select r.id, r.user_id into v_reset from public.password_resets r
     where r.id = p_reset_id and r.secret_hash = p_secret_hash and r.used_at is null and r.expires_at > now()
     for update;
    if not found then
      raise exception 'the reset link is invalid, used or expired' using errcode = 'LRRST';
    end if;
    update public.password_resets r set used_at = now() where r.user_id = v_reset.user_id and r.used_at is null;
    insert into public.user_passwords as p (user_id, hash) values (v_reset.user_id, p_password_hash)
      on conflict on constraint user_passwords_pkey do update set hash = excluded.hash, updated_at = now();
    update public.sessions s set revoked_at = now() where s.user_id = v_reset.user_id and s.revoked_at is null;
    get diagnostics v_ended = row_count;
    return query select s.user_id, s.tenant_id, v_ended
      from public.start_session(v_reset.user_id, null, p_session_id, p_session_secret_hash, p_session_expires_at, p_user_agent) s;
  end $fn$;
comment on function reset_password(uuid, bytea, text, uuid, bytea, timestamptz, text) is
  'Sets the account''s password after proof of an emailed reset secret, ends its other sessions and every open reset, and opens a new session.';

revoke execute on function start_password_reset(text, uuid, bytea, timestamptz),
  reset_password(uuid, bytea, text, uuid, bytea, timestamptz, text) from public;
grant execute on function start_password_reset(text, uuid, bytea, timestamptz),
  reset_password(uuid, bytea, text, uuid, bytea, timestamptz, text) to :"anonymous", :"member";
set local role :"owner";
