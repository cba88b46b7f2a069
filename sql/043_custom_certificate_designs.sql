-- Custom certificate designs: a tenant's own SVG (one of its uploads) with merge fields, instead of a
-- built-in layout. The SVG is checked by the server when the design is set and again when drawn; the
-- composite foreign key keeps it the tenant's own image whatever the server does.

alter table certificate_designs add column custom_svg_image_id uuid;
alter table certificate_designs
  add foreign key (tenant_id, custom_svg_image_id) references images (tenant_id, id);
alter table certificate_designs drop constraint certificate_designs_layout_check;
alter table certificate_designs
  add constraint certificate_designs_layout_check check (layout in ('classic', 'modern', 'minimal', 'custom')),
  -- A custom design names its SVG; a built-in layout names none.
  add constraint certificate_designs_custom_svg_check check ((layout = 'custom') = (custom_svg_image_id is not null));
grant insert (custom_svg_image_id), update (custom_svg_image_id) on certificate_designs to :"member";
