-- A bulk file's rows hold whole people (email, name, attributes, merge values) from upload until the job
-- is deleted, so they are sealed like the recipients they become (issue 13): input_sealed under the
-- tenant's data key, bound to the row's own id, with the row email's blind index so erasure can find
-- a person's rows without the database holding their address.
alter table bulk_job_rows add column id uuid not null default gen_random_uuid();
alter table bulk_job_rows add constraint bulk_job_rows_id unique (tenant_id, id);
alter table bulk_job_rows rename column input to legacy_input;
alter table bulk_job_rows alter column legacy_input drop not null;
alter table bulk_job_rows
  add column key_version integer,
  add column input_sealed bytea,
  add column email_index bytea,
  add constraint bulk_job_rows_sealed_or_legacy check (key_version is not null or input_sealed is null);
comment on column bulk_job_rows.input_sealed is 'The row as uploaded (JSON), sealed under the tenant''s data key; null once erased.';
comment on column bulk_job_rows.email_index is 'Blind index of the row''s normalised email, when it had a valid one: erasure finds the person''s rows by it.';
create index bulk_job_rows_email_index on bulk_job_rows (tenant_id, email_index) where email_index is not null;
create index bulk_job_rows_key_version on bulk_job_rows (tenant_id, key_version);
revoke insert, update on bulk_job_rows from :"member";
grant insert (tenant_id, job_id, row_number, id, key_version, input_sealed, email_index, status, errors),
      update (status, errors, credential_id, key_version, input_sealed, email_index, legacy_input)
  on bulk_job_rows to :"member";
