-- Certificate designs: which built-in layout a template's certificate PDF is drawn in, and how it is
-- dressed (colours, the tenant's logo, a background, up to three signatures). One row per template at
-- most; a template without one prints in the classic layout. Images are the tenant's own uploads: the
-- composite foreign keys make another tenant's image impossible here, whatever the server does.

create table certificate_designs (
  tenant_id uuid not null references tenants (id),
  template_id uuid not null,
  layout text not null check (layout in ('classic', 'modern', 'minimal')),
  primary_color text not null check (primary_color ~ '^#[0-9a-f]{6}$'),
  accent_color text not null check (accent_color ~ '^#[0-9a-f]{6}$'),
  logo_image_id uuid,
  background_image_id uuid,
  -- [{ "imageId": uuid | null, "name": text, "title": text }], at most three, checked by the server.
  signatures jsonb not null default '[]' check (jsonb_typeof(signatures) = 'array' and jsonb_array_length(signatures) <= 3
                                                and length(signatures::text) <= 4000),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (tenant_id, template_id),
  foreign key (tenant_id, template_id) references templates (tenant_id, id),
  foreign key (tenant_id, logo_image_id) references images (tenant_id, id),
  foreign key (tenant_id, background_image_id) references images (tenant_id, id)
);
create trigger certificate_designs_touch before update on certificate_designs for each row execute function touch_updated_at();
alter table certificate_designs enable row level security;
alter table certificate_designs force row level security;
create policy certificate_designs_tenant_isolation on certificate_designs
  using (tenant_id = (select current_tenant_id())) with check (tenant_id = (select current_tenant_id()));
comment on policy certificate_designs_tenant_isolation on certificate_designs is
  'Rows of the current tenant only; none without a tenant.';
-- Set as a whole (insert ... on conflict do update); never deleted but with the template's tenant.
grant select, insert (tenant_id, template_id, layout, primary_color, accent_color, logo_image_id, background_image_id, signatures),
      update (layout, primary_color, accent_color, logo_image_id, background_image_id, signatures)
  on certificate_designs to :"member";
