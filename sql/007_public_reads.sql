-- What anyone may read without signing in: an issuer's public profile and keys, one credential as
-- published (the signed document carries a salted hash of the recipient's email, never the email),
-- and a status list's set bits. Only through these functions, only as the anonymous role.

create function public_issuer(p_tenant_id uuid)
  returns table (tenant_name text, name text, url text, email text, description text, image_url text, keys jsonb)
  language sql stable security definer set search_path = pg_catalog, pg_temp
  as $$
    select t.name, p.name, p.url, p.email, p.description, p.image_url,
           coalesce((select jsonb_agg(jsonb_build_object('keyNumber', k.key_number, 'publicKeyMultibase', k.public_key_multibase,
                                                         'retiredAt', k.retired_at) order by k.key_number)
                       from public.signing_keys k where k.tenant_id = t.id), '[]'::jsonb)
      from public.tenants t left join public.issuer_profiles p on p.tenant_id = t.id
     where t.id = p_tenant_id
  $$;
comment on function public_issuer(uuid) is
  'Public issuer profile and public keys for the DID document; no secret key material, no members.';

create function public_credential(p_tenant_id uuid, p_credential_id uuid)
  returns table (document jsonb, status public.credential_status, valid_until timestamptz, revoked_at timestamptz, suspended_at timestamptz)
  language sql stable security definer set search_path = pg_catalog, pg_temp
  as $$
    select c.document, c.status, c.valid_until, c.revoked_at, c.suspended_at
      from public.credentials c
     where c.tenant_id = p_tenant_id and c.id = p_credential_id
  $$;
comment on function public_credential(uuid, uuid) is
  'One credential as its holder may show it to anyone: the signed document and its state, nothing about the recipient beyond the document.';

create function public_status_list(p_tenant_id uuid, p_list_id uuid)
  returns table (purpose public.status_purpose, capacity integer, version integer, set_indexes integer[])
  language sql stable security definer set search_path = pg_catalog, pg_temp
  as $$
    select l.purpose, l.capacity, l.version,
           case l.purpose
             when 'revocation' then array(select c.status_index from public.credentials c
                                           where c.tenant_id = l.tenant_id and c.status_list_id = l.id and c.status = 'REVOKED')
             else array(select c.suspension_index from public.credentials c
                         where c.tenant_id = l.tenant_id and c.suspension_list_id = l.id and c.status = 'SUSPENDED')
           end
      from public.status_lists l
     where l.tenant_id = p_tenant_id and l.id = p_list_id
  $$;
comment on function public_status_list(uuid, uuid) is
  'The set bits of one published status list: positions only, no credential or recipient data.';

revoke execute on function public_issuer(uuid), public_credential(uuid, uuid), public_status_list(uuid, uuid) from public;
grant execute on function public_issuer(uuid), public_credential(uuid, uuid), public_status_list(uuid, uuid) to :"anonymous";
