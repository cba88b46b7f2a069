-- The start-up check (src/startup.ts) asks which key-encryption key versions sealed the secrets still
-- in use, across every tenant, so that a deployment missing one refuses to start instead of failing on
-- the first signature or delivery. Since 017 the owner sees only the transaction's tenant, so the
-- question is asked through the gatekeeper: versions and counts only, never a secret or a tenant.

grant select (kek_version) on signing_keys to :"gatekeeper";
grant select (secret_kek_version) on webhook_endpoints to :"gatekeeper";

create function sealed_kek_versions()
  returns table (version integer, what text, n integer)
  language sql stable security definer set search_path = pg_catalog, pg_temp
  as $$
    select s.version, s.what, count(*)::int
      from (select k.kek_version as version, 'signing key' as what from public.signing_keys k where k.retired_at is null
            union all
            select e.secret_kek_version, 'webhook secret' from public.webhook_endpoints e) s
     group by s.version, s.what
     order by s.version, s.what
  $$;
comment on function sealed_kek_versions() is
  'Cross-tenant, for the start-up check only: which KEK versions seal active signing keys and webhook secrets, with counts; no secret, no tenant.';
revoke execute on function sealed_kek_versions() from public;
alter function sealed_kek_versions() owner to :"gatekeeper";
-- Said as its new owner (the owner hands functions over without inheriting the gatekeeper's rights).
set local role :"gatekeeper";
grant execute on function sealed_kek_versions() to :"owner";
set local role :"owner";
