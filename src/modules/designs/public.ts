// The design a credential's certificate is drawn in, for the public certificate route: the design of
// the credential's template with its images, read as the tenant (as a status list is signed), since
// the anonymous role sees no designs. A template without one prints in the classic layout.
import type { PublicContext } from "../credentials/public.js";
import { withTenantSql } from "../../db/tenant-transaction.js";
import { defaultDesign, type RenderDesign } from "./design.js";
import { designFromRow, renderDesign } from "./service.js";

/** The RenderDesign of the credential's template (classic when none is set or the credential is unknown). */
export async function designForCredential(p: PublicContext, tenantId: string, credentialId: string): Promise<RenderDesign> {
  return withTenantSql(p.database.sql, { dbRole: p.roles.member, tenantId, userId: null }, async (tx) => {
    const [row] = await tx<{ template_id: string; layout: string | null; primary_color: string; accent_color: string; logo_image_id: string | null; background_image_id: string | null; custom_svg_image_id: string | null; signatures: unknown }[]>`
      select c.template_id, d.layout, d.primary_color, d.accent_color, d.logo_image_id, d.background_image_id, d.custom_svg_image_id, d.signatures
        from credentials c
        left join certificate_designs d on d.tenant_id = c.tenant_id and d.template_id = c.template_id
       where c.tenant_id = ${tenantId}::uuid and c.id = ${credentialId}::uuid`;
    const design = row?.layout
      ? designFromRow({
          templateId: row.template_id,
          layout: row.layout,
          customSvgImageId: row.custom_svg_image_id,
          primaryColor: row.primary_color,
          accentColor: row.accent_color,
          logoImageId: row.logo_image_id,
          backgroundImageId: row.background_image_id,
          signatures: row.signatures,
        })
      : defaultDesign(row?.template_id ?? "");
    return renderDesign(design, (ids) => tx<{ id: string; contentType: string; bytes: Uint8Array }[]>`
      select id, content_type as "contentType", bytes from images where tenant_id = ${tenantId}::uuid and id = any(${ids}::uuid[])`);
  });
}
