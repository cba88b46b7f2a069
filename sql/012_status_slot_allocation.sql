-- Status-list index allocation as one function, called alike from the issuing transaction (Prisma) and
-- from its own short transaction (postgres.js). Runs as the caller (SECURITY INVOKER): RLS applies.

create function allocate_status_slots(p_tenant_id uuid, p_purpose status_purpose, p_count integer)
  returns table (list_id uuid, start_index integer)
  language plpgsql
  as $$
  declare
    v_id uuid;
    v_start integer;
  begin
    update status_lists l set next_index = l.next_index + p_count
     where l.tenant_id = p_tenant_id and l.id = (
       select s.id from status_lists s
        where s.tenant_id = p_tenant_id and s.purpose = p_purpose and s.next_index + p_count <= s.capacity
        order by s.created_at limit 1 for update)
    returning l.id, l.next_index - p_count into v_id, v_start;
    if v_id is null then
      -- The open list is full (or there is none yet): start the next one.
      insert into status_lists (tenant_id, purpose) values (p_tenant_id, p_purpose) returning id into v_id;
      update status_lists set next_index = p_count where tenant_id = p_tenant_id and id = v_id;
      v_start := 0;
    end if;
    return query select v_id, v_start;
  end $$;
comment on function allocate_status_slots(uuid, status_purpose, integer) is
  'Takes p_count consecutive indexes from the tenant''s open status list for a purpose, opening a new list when full.';
revoke execute on function allocate_status_slots(uuid, status_purpose, integer) from public;
grant execute on function allocate_status_slots(uuid, status_purpose, integer) to :"member";
