-- Sealed columns hold AES-GCM ciphertext, which does not compress. PostgreSQL's default storage for
-- bytea (EXTENDED) still tries pglz on every large value before moving it out of line: CPU spent on
-- each signed credential, email content and body written, for nothing. EXTERNAL keeps out-of-line
-- storage and skips the attempt (measured on bulk issuance of 10,000: about 2% more credentials/s).
-- Applies to values written from now on; existing rows are read the same either way.
-- test/vault/storage.test.ts fails if a sealed column is added without it.
do $$
declare
  col record;
begin
  for col in
    select c.relname as table_name, a.attname as column_name
      from pg_attribute a
      join pg_class c on c.oid = a.attrelid
      join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = 'public' and c.relkind in ('r', 'p') and a.attnum > 0 and not a.attisdropped
       and a.atttypid = 'bytea'::regtype and a.attname like '%\_sealed' and a.attstorage <> 'e'
       and not c.relispartition
  loop
    execute format('alter table public.%I alter column %I set storage external', col.table_name, col.column_name);
  end loop;
end
$$;
