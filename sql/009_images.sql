-- Badge and certificate images uploaded by a tenant, stored by Laurel and served publicly (they are
-- part of the credentials' public face). PNG or SVG only; the size limit is enforced by the server
-- and, as a backstop, here.

create table images (
  tenant_id uuid not null references tenants (id),
  id uuid not null default gen_random_uuid(),
  content_type text not null check (content_type in ('image/png', 'image/svg+xml')),
  bytes bytea not null check (octet_length(bytes) between 1 and 5242880),
  sha256 text not null check (sha256 ~ '^[0-9a-f]{64}$'),
  created_at timestamptz not null default now(),
  primary key (tenant_id, id)
);
alter table images enable row level security;
alter table images force row level security;
create policy images_tenant_isolation on images
  using (tenant_id = (select current_tenant_id())) with check (tenant_id = (select current_tenant_id()));
comment on policy images_tenant_isolation on images is 'Rows of the current tenant only; none without a tenant.';
create policy images_owner_maintenance on images to :"owner" using (true) with check (true);
comment on policy images_owner_maintenance on images is 'Migration owner and its SECURITY DEFINER functions only.';
grant select, insert (tenant_id, id, content_type, bytes, sha256) on images to :"member";

create function public_image(p_tenant_id uuid, p_image_id uuid)
  returns table (content_type text, bytes bytea, sha256 text)
  language sql stable security definer set search_path = pg_catalog, pg_temp
  as $$ select i.content_type, i.bytes, i.sha256 from public.images i where i.tenant_id = p_tenant_id and i.id = p_image_id $$;
comment on function public_image(uuid, uuid) is 'One uploaded image by (tenant, id): images are public parts of credentials.';
revoke execute on function public_image(uuid, uuid) from public;
grant execute on function public_image(uuid, uuid) to :"anonymous";
