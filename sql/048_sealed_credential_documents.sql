-- Signed credentials sealed at rest (issue 13): an OB 3.0 document names its holder (the name as an
-- IdentityObject, the hashed address, merge texts), so it is personal data like the recipient row and
-- is stored the same way: AES-256-GCM under the tenant's data key (src/modules/vault), the row's place
-- as AAD, the signed JSON text kept byte for byte inside. The public routes open it as the tenant
-- (credentials/public.ts); public_credential() hands out the sealed bytes and the state only. Rows from
-- before keep their JSON in legacy_document until vault/legacy.ts seals them.

alter table credentials rename column document to legacy_document;
alter table credentials alter column legacy_document drop not null;
alter table credentials
  add column key_version integer,
  add column document_sealed bytea,
  add constraint credentials_sealed_or_legacy check (
    (key_version is not null and document_sealed is not null) or (key_version is null and (legacy_document is not null or erased_at is not null)));
comment on column credentials.key_version is 'Data-key version that sealed document_sealed; null while the document is legacy plain JSON or erased.';
comment on column credentials.document_sealed is 'The signed OB 3.0 credential (exact JSON text), sealed under the tenant''s data key.';
create index credentials_key_version on credentials (tenant_id, key_version);

alter table credential_documents rename column document to legacy_document;
alter table credential_documents alter column legacy_document drop not null;
alter table credential_documents
  add column key_version integer,
  add column document_sealed bytea;
comment on column credential_documents.document_sealed is 'A superseded signed credential (exact JSON text), sealed under the tenant''s data key.';
create index credential_documents_key_version on credential_documents (tenant_id, key_version);

revoke insert, update on credentials from :"member";
grant insert (tenant_id, id, template_id, template_version, recipient_id, status_list_id, status_index,
              suspension_list_id, suspension_index, issued_at, valid_from, valid_until, field_values,
              evidence, key_version, document_sealed, idempotency_key, unique_award, bulk_job_id),
      update (status, revoked_at, revocation_reason, suspended_at, reminders_sent, last_reminded_at, expiry_reminded_at,
              expired_notified_at, key_version, document_sealed, legacy_document, status_list_id, status_index)
  on credentials to :"member";
revoke insert on credential_documents from :"member";
grant insert (tenant_id, id, credential_id, key_version, document_sealed, status_list_id, status_index, signed_at, superseded_at,
              superseded_reason, rectification_id),
      update (key_version, document_sealed, legacy_document)
  on credential_documents to :"member";
revoke select (legacy_document) on credentials from :"gatekeeper";
grant select (key_version, document_sealed) on credentials to :"gatekeeper";

-- public_credential() belongs to the gatekeeper (sql/017): only its owner may replace it.
set local role :"gatekeeper";
drop function public_credential(uuid, uuid);
create function public_credential(p_tenant_id uuid, p_credential_id uuid)
  returns table (document_sealed bytea, status public.credential_status, valid_from timestamptz, valid_until timestamptz,
                 revoked_at timestamptz, suspended_at timestamptz, revocation_reason text, time_zone text, erased boolean, legacy boolean)
  language sql stable security definer set search_path = pg_catalog, pg_temp
  as $$
    select case when c.erased_at is null then c.document_sealed end, c.status, c.valid_from, c.valid_until, c.revoked_at,
           c.suspended_at, case when c.status = 'REVOKED' then c.revocation_reason end, t.time_zone, c.erased_at is not null,
           c.key_version is null and c.erased_at is null
      from public.credentials c join public.tenants t on t.id = c.tenant_id
     where c.tenant_id = p_tenant_id and c.id = p_credential_id
  $$;
comment on function public_credential(uuid, uuid) is
  'One credential as its holder may show it to anyone: the sealed signed document (opened by the server as the tenant), its state (with the revocation reason the issuer publishes in the OB 2.0 Assertion) and the tenant''s time zone; erased: no document, so the page can answer 410; legacy: the document is still plain JSON, read as the tenant.';
revoke execute on function public_credential(uuid, uuid) from public;
grant execute on function public_credential(uuid, uuid) to :"anonymous";
set local role :"owner";
