-- Keep each signed credential exactly as it was signed: json stores the text as given (key order,
-- number formatting), where jsonb would rewrite it. Nothing queries inside the document, and json
-- input is cheaper for PostgreSQL than jsonb's conversion at bulk-issuance rates.

alter table credentials alter column document type json using document::json;

drop function public_credential(uuid, uuid);
create function public_credential(p_tenant_id uuid, p_credential_id uuid)
  returns table (document json, status public.credential_status, valid_until timestamptz, revoked_at timestamptz, suspended_at timestamptz)
  language sql stable security definer set search_path = pg_catalog, pg_temp
  as $$
    select c.document, c.status, c.valid_until, c.revoked_at, c.suspended_at
      from public.credentials c
     where c.tenant_id = p_tenant_id and c.id = p_credential_id
  $$;
comment on function public_credential(uuid, uuid) is
  'One credential as its holder may show it to anyone: the signed document and its state, nothing about the recipient beyond the document.';
revoke execute on function public_credential(uuid, uuid) from public;
grant execute on function public_credential(uuid, uuid) to :"anonymous";
