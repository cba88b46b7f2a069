-- The tasks queue_job_for() accepts were a list inside its body, so every new task (031 erase_person,
-- 032 export_person) re-created the whole definer function to add one word. They are a list of their own: a new
-- task replaces queue_task_names() (one line), and the definer's body stays reviewed once. (Not a table:
-- every table in public is tenant data behind forced RLS.)
/* The graphile-worker tasks queue_job_for() may enqueue. A new task replaces this list, not the definer. */
create function queue_task_names() returns text[]
  language sql immutable parallel safe
  as $$ select array['send_emails', 'deliver_webhook', 'run_bulk_job', 'erase_person', 'export_person'] $$;
comment on function queue_task_names() is 'Tasks queue_job_for() accepts; replaced (alone) when a migration adds a task.';

create or replace function queue_job_for(p_tenant_id uuid, p_task text, p_payload jsonb, p_run_at timestamptz default null,
                                         p_job_key text default null, p_max_attempts integer default null)
  returns void
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
  as $$
  begin
    if p_tenant_id is null then
      raise exception 'a job needs a tenant' using errcode = '42501';
    end if;
    if not (p_task = any(public.queue_task_names())) then
      raise exception 'unknown task %', p_task using errcode = '22023';
    end if;
    if jsonb_typeof(coalesce(p_payload, '{}'::jsonb)) <> 'object' then
      raise exception 'a job payload is a JSON object' using errcode = '22023';
    end if;
    perform graphile_worker.add_job(
      identifier => p_task,
      payload => (coalesce(p_payload, '{}'::jsonb) || jsonb_build_object('tenantId', p_tenant_id))::json,
      run_at => p_run_at,
      max_attempts => coalesce(p_max_attempts, 12),
      job_key => case when p_job_key is null then null else p_tenant_id::text || ':' || p_job_key end);
  end
  $$;
