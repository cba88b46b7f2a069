-- Published achievements (a template version as OB 3.0 Achievement and OB 2.0 BadgeClass): public, as
-- every credential issued from them already shows them.

create function public_achievement(p_tenant_id uuid, p_template_id uuid, p_version integer)
  returns table (kind public.template_kind, name text, description text, criteria_narrative text, criteria_url text,
                 image_url text, tags text[], alignments jsonb)
  language sql stable security definer set search_path = pg_catalog, pg_temp
  as $$
    select t.kind, v.name, v.description, v.criteria_narrative, v.criteria_url, v.image_url, v.tags, v.alignments
      from public.template_versions v join public.templates t on t.tenant_id = v.tenant_id and t.id = v.template_id
     where v.tenant_id = p_tenant_id and v.template_id = p_template_id and v.version = p_version
       and t.status <> 'DRAFT'
  $$;
comment on function public_achievement(uuid, uuid, integer) is
  'One issued-from template version as public achievement data; drafts stay private.';
revoke execute on function public_achievement(uuid, uuid, integer) from public;
grant execute on function public_achievement(uuid, uuid, integer) to :"anonymous";
