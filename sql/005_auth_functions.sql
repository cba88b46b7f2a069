-- The narrow doors through which callers who are not yet a tenant's member get in. Each is SECURITY
-- DEFINER (runs as the owner, whose policies reach every row), pins search_path, and is executable only
-- by the role that needs it. Errors carry custom SQLSTATEs (LR...) that the server maps to typed results.

create function authenticate_api_key(p_tenant_id uuid, p_key_id uuid, p_secret_hash bytea)
  returns table (tenant_id uuid, api_key_id uuid, scopes public.api_key_scope[], name text)
  language plpgsql security definer set search_path = pg_catalog, pg_temp
  as $$
  begin
    return query
      update public.api_keys k
         set last_used_at = now()
       where k.tenant_id = p_tenant_id and k.id = p_key_id and k.secret_hash = p_secret_hash
         and k.revoked_at is null and (k.expires_at is null or k.expires_at > now())
         and (k.last_used_at is null or k.last_used_at < now() - interval '1 minute')
      returning k.tenant_id, k.id, k.scopes, k.name;
    if not found then
      -- Used within the last minute: answer without a write, so hot keys do not serialize on one row.
      return query
        select k.tenant_id, k.id, k.scopes, k.name from public.api_keys k
         where k.tenant_id = p_tenant_id and k.id = p_key_id and k.secret_hash = p_secret_hash
           and k.revoked_at is null and (k.expires_at is null or k.expires_at > now());
    end if;
  end $$;
comment on function authenticate_api_key(uuid, uuid, bytea) is
  'Resolves an API key by (tenant, id, hash of secret) for the login role without granting it api_keys; touches last_used_at at most once a minute.';

create function authenticate_session(p_session_id uuid, p_secret_hash bytea)
  returns table (user_id uuid, tenant_id uuid, role public.member_role, expires_at timestamptz)
  language plpgsql security definer set search_path = pg_catalog, pg_temp
  as $$
  begin
    update public.sessions s set last_seen_at = now()
     where s.id = p_session_id and s.secret_hash = p_secret_hash
       and s.last_seen_at < now() - interval '1 minute';
    return query
      select s.user_id, m.tenant_id, m.role, s.expires_at
        from public.sessions s
        left join public.memberships m on m.tenant_id = s.active_tenant_id and m.user_id = s.user_id
       where s.id = p_session_id and s.secret_hash = p_secret_hash
         and s.revoked_at is null and s.expires_at > now();
  end $$;
comment on function authenticate_session(uuid, bytea) is
  'Resolves a session token for the login role; the tenant comes back only while the user is still its member.';

create function login_lookup(p_email text)
  returns table (user_id uuid, password_hash text)
  language sql stable security definer set search_path = pg_catalog, pg_temp
  as $$
    select u.id, p.hash from public.users u join public.user_passwords p on p.user_id = u.id
     where u.email = lower(p_email)
  $$;
comment on function login_lookup(text) is
  'Returns one user''s password hash by email so the server can verify a login; no role reads user_passwords.';

create function create_session(p_session_id uuid, p_user_id uuid, p_tenant_id uuid, p_secret_hash bytea, p_expires_at timestamptz, p_user_agent text)
  returns table (session_id uuid, tenant_id uuid)
  language plpgsql security definer set search_path = pg_catalog, pg_temp
  as $$
  declare
    v_tenant uuid;
    v_id uuid;
  begin
    if p_tenant_id is not null then
      select m.tenant_id into v_tenant from public.memberships m
       where m.tenant_id = p_tenant_id and m.user_id = p_user_id;
      if v_tenant is null then
        raise exception 'not a member of that tenant' using errcode = 'LRMBX';
      end if;
    else
      select m.tenant_id into v_tenant from public.memberships m
       where m.user_id = p_user_id order by m.created_at limit 1;
    end if;
    insert into public.sessions (id, user_id, active_tenant_id, secret_hash, expires_at, user_agent)
    values (p_session_id, p_user_id, v_tenant, p_secret_hash, p_expires_at, left(p_user_agent, 300))
    returning id into v_id;
    return query select v_id, v_tenant;
  end $$;
comment on function create_session(uuid, uuid, uuid, bytea, timestamptz, text) is
  'Opens a session after the server has verified the password; picks the user''s first tenant when none is named.';

create function sign_up(p_email text, p_name text, p_password_hash text, p_tenant_name text, p_tenant_slug text)
  returns table (user_id uuid, tenant_id uuid)
  language plpgsql security definer set search_path = pg_catalog, pg_temp
  as $$
  declare
    v_user uuid;
    v_tenant uuid;
  begin
    insert into public.users (email, name) values (lower(p_email), p_name) returning id into v_user;
    insert into public.user_passwords (user_id, hash) values (v_user, p_password_hash);
    insert into public.tenants (slug, name) values (p_tenant_slug, p_tenant_name) returning id into v_tenant;
    insert into public.memberships (tenant_id, user_id, role) values (v_tenant, v_user, 'owner');
    insert into public.audit_log (tenant_id, actor_kind, actor_id, action, target_type, target_id)
    values (v_tenant, 'user', v_user, 'tenant.created', 'Tenant', v_tenant::text);
    return query select v_user, v_tenant;
  end $$;
comment on function sign_up(text, text, text, text, text) is
  'Creates a user, their tenant and the owner membership in one step: nobody is a member yet who could.';

create function create_tenant(p_name text, p_slug text)
  returns uuid
  language plpgsql security definer set search_path = pg_catalog, pg_temp
  as $$
  declare
    v_user uuid := public.current_app_user_id();
    v_tenant uuid;
  begin
    if v_user is null then
      raise exception 'only a signed-in user can create a tenant' using errcode = 'LRAUT';
    end if;
    insert into public.tenants (slug, name) values (p_slug, p_name) returning id into v_tenant;
    insert into public.memberships (tenant_id, user_id, role) values (v_tenant, v_user, 'owner');
    insert into public.audit_log (tenant_id, actor_kind, actor_id, action, target_type, target_id)
    values (v_tenant, 'user', v_user, 'tenant.created', 'Tenant', v_tenant::text);
    return v_tenant;
  end $$;
comment on function create_tenant(text, text) is
  'A signed-in user opens another tenant and becomes its owner; the user comes from the transaction, not an argument.';

create function accept_invitation(p_tenant_id uuid, p_invitation_id uuid, p_secret_hash bytea, p_name text, p_password_hash text)
  returns table (user_id uuid, tenant_id uuid, membership_id uuid, role public.member_role)
  language plpgsql security definer set search_path = pg_catalog, pg_temp
  as $$
  declare
    v_inv public.invitations;
    v_user uuid := public.current_app_user_id();
    v_email text;
    v_membership uuid;
  begin
    select * into v_inv from public.invitations i
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
    return query select v_user, v_inv.tenant_id, v_membership, v_inv.role;
  end $$;
comment on function accept_invitation(uuid, uuid, bytea, text, text) is
  'Turns an invitation token into a membership: for the signed-in user whose email it was sent to, or a new account for that email.';

create function my_memberships()
  returns table (membership_id uuid, tenant_id uuid, tenant_name text, tenant_slug text, role public.member_role)
  language sql stable security definer set search_path = pg_catalog, pg_temp
  as $$
    select m.id, t.id, t.name, t.slug, m.role
      from public.memberships m join public.tenants t on t.id = m.tenant_id
     where m.user_id = public.current_app_user_id()
     order by m.created_at
  $$;
comment on function my_memberships() is
  'Lists the signed-in user''s tenants across the tenant wall: only their own memberships, only names.';

create function switch_session_tenant(p_session_id uuid, p_tenant_id uuid)
  returns public.member_role
  language plpgsql security definer set search_path = pg_catalog, pg_temp
  as $$
  declare
    v_role public.member_role;
  begin
    select m.role into v_role from public.memberships m
     where m.tenant_id = p_tenant_id and m.user_id = public.current_app_user_id();
    if v_role is null then
      raise exception 'not a member of that tenant' using errcode = 'LRMBX';
    end if;
    update public.sessions s set active_tenant_id = p_tenant_id
     where s.id = p_session_id and s.user_id = public.current_app_user_id();
    return v_role;
  end $$;
comment on function switch_session_tenant(uuid, uuid) is
  'Points the caller''s own session at another tenant they belong to; membership elsewhere is invisible to them otherwise.';

revoke execute on function authenticate_api_key(uuid, uuid, bytea), authenticate_session(uuid, bytea),
  login_lookup(text), create_session(uuid, uuid, uuid, bytea, timestamptz, text),
  sign_up(text, text, text, text, text), create_tenant(text, text),
  accept_invitation(uuid, uuid, bytea, text, text), my_memberships(), switch_session_tenant(uuid, uuid)
  from public;
grant execute on function authenticate_api_key(uuid, uuid, bytea), authenticate_session(uuid, bytea) to :"login";
grant execute on function login_lookup(text), create_session(uuid, uuid, uuid, bytea, timestamptz, text),
  sign_up(text, text, text, text, text), accept_invitation(uuid, uuid, bytea, text, text) to :"anonymous";
grant execute on function create_tenant(text, text), accept_invitation(uuid, uuid, bytea, text, text),
  my_memberships(), switch_session_tenant(uuid, uuid) to :"member";
