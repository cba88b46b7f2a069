-- What a credential says about dates and people, right for every tenant:
--   * each tenant has an IANA time zone (default UTC) in which calendar dates are read and shown;
--   * a template version's per-recipient text (merge fields allowed) lives apart from its achievement
--     texts, which every credential of the version shares and which therefore take no merge fields;
--   * the public credential read returns what the page, the certificate and the OB 2.0 Assertion need:
--     the tenant's time zone, the credential's validFrom, the reason given at revocation.

alter table tenants add column time_zone text not null default 'UTC' check (length(time_zone) between 1 and 64);
comment on column tenants.time_zone is
  'IANA zone name, checked against the runtime''s zone database when set; calendar dates (pages, emails, LinkedIn, date-only inputs) are taken in it.';
grant update (time_zone) on tenants to :"member";

alter table template_versions add column credential_description text check (length(credential_description) <= 5000);
comment on column template_versions.credential_description is
  'Per-recipient text (Mustache merge fields) rendered into each credential''s own description; the achievement texts beside it are shared and take none.';

comment on column credentials.issued_at is
  'When the row was recorded (reminders count from it); the issue date the credential states, and the API''s Credential.issuedAt, is valid_from.';

drop function public_credential(uuid, uuid);
create function public_credential(p_tenant_id uuid, p_credential_id uuid)
  returns table (document json, status public.credential_status, valid_from timestamptz, valid_until timestamptz,
                 revoked_at timestamptz, suspended_at timestamptz, revocation_reason text, time_zone text)
  language sql stable security definer set search_path = pg_catalog, pg_temp
  as $$
    select c.document, c.status, c.valid_from, c.valid_until, c.revoked_at, c.suspended_at,
           case when c.status = 'REVOKED' then c.revocation_reason end, t.time_zone
      from public.credentials c join public.tenants t on t.id = c.tenant_id
     where c.tenant_id = p_tenant_id and c.id = p_credential_id
  $$;
comment on function public_credential(uuid, uuid) is
  'One credential as its holder may show it to anyone: the signed document, its state (with the revocation reason the issuer publishes in the OB 2.0 Assertion) and the tenant''s time zone for its dates; nothing about the recipient beyond the document.';
revoke execute on function public_credential(uuid, uuid) from public;
grant execute on function public_credential(uuid, uuid) to :"anonymous";
