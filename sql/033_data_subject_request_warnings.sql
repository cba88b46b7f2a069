-- Deadline warnings for people's requests: a daily job warns the tenant's owners (an email) and its
-- partners (a webhook) once a pending request is two working days from its deadline, or past it.
-- warned_at records that it did, so each request is warned once.

alter table data_subject_requests add column warned_at timestamptz;
grant update (warned_at) on data_subject_requests to :"member";
create index data_subject_requests_unwarned on data_subject_requests (tenant_id, deadline_at)
  where state in ('open', 'in_progress') and warned_at is null;

-- Which tenants have a pending request not yet warned is a cross-tenant question, asked by the worker's
-- owner connection through the gatekeeper: tenant ids only; each tenant is then worked as itself.
grant select (tenant_id, state, deadline_at, warned_at) on data_subject_requests to :"gatekeeper";
create policy data_subject_requests_gatekeeper_read on data_subject_requests for select to :"gatekeeper" using (true);
comment on policy data_subject_requests_gatekeeper_read on data_subject_requests is
  'tenants_with_requests_to_warn() finds tenants with a pending, unwarned request; no person column is granted.';

create function tenants_with_requests_to_warn(p_before timestamptz)
  returns setof uuid
  language sql stable security definer set search_path = pg_catalog, pg_temp
  as $fn$
    select distinct r.tenant_id from public.data_subject_requests r
     where r.state in ('open', 'in_progress') and r.warned_at is null and r.deadline_at < p_before
  $fn$;
comment on function tenants_with_requests_to_warn(timestamptz) is
  'Which tenants have a pending, unwarned request due before p_before: tenant ids only; each is then worked in its own transaction.';
revoke execute on function tenants_with_requests_to_warn(timestamptz) from public;
alter function tenants_with_requests_to_warn(timestamptz) owner to :"gatekeeper";
-- Said as its new owner (the owner hands functions over without inheriting the gatekeeper's rights).
set local role :"gatekeeper";
grant execute on function tenants_with_requests_to_warn(timestamptz) to :"owner";
set local role :"owner";
