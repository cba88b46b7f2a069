-- Helpers every later migration leans on: who the transaction acts for, and time-ordered ids.
-- Role names are psql-style variables (:"owner", :"member", ...): the runner substitutes them from
-- configuration, and `psql -v owner=... -f` runs the same file by hand.

create function current_tenant_id() returns uuid
  language sql stable parallel safe
  as $$ select nullif(current_setting('app.tenant_id', true), '')::uuid $$;
comment on function current_tenant_id() is
  'Tenant of the current transaction; NULL when none is set (a transaction-local setting reads '''' after it ends, hence nullif).';

create function current_app_user_id() returns uuid
  language sql stable parallel safe
  as $$ select nullif(current_setting('app.user_id', true), '')::uuid $$;
comment on function current_app_user_id() is
  'Signed-in user of the current transaction, NULL for API keys and anonymous callers.';

-- UUIDv7: sorts by creation time, so append-only tables page by primary key.
create function uuid_v7() returns uuid
  language sql volatile parallel safe
  as $$
    select encode(
      set_bit(set_bit(
        overlay(uuid_send(gen_random_uuid())
                placing substring(int8send((extract(epoch from clock_timestamp()) * 1000)::bigint) from 3)
                from 1 for 6),
        52, 1), 53, 1),
      'hex')::uuid
  $$;

create function touch_updated_at() returns trigger
  language plpgsql
  as $$ begin new.updated_at := now(); return new; end $$;

grant execute on function current_tenant_id(), current_app_user_id(), uuid_v7() to :"member", :"anonymous";
