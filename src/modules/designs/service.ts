// Storing a template's certificate design and loading it with its images for drawing. Every read
// and write runs in the caller's tenant transaction: RLS hides other tenants' templates and images,
// and the composite foreign keys of sql/042 refuse them even if a check here were wrong.
import { undrawable } from "../../lib/svg-budget.js";
import { parseSvg } from "../credentials/baking.js";
import { ValidationError } from "../../errors.js";
import type { Db } from "../../db/tenant-transaction.js";
import { NotFoundError } from "../../errors.js";
import { recordAudit } from "../audit/service.js";
import { isUuid, type Caller } from "../common/caller.js";
import { checkCustomSvg } from "./custom.js";
import {
  checkDesign,
  CUSTOM,
  DesignImageNotFoundError,
  LAYOUTS,
  type CertificateDesign,
  type CertificateDesignInput,
  type DesignImage,
  type Layout,
  type RenderDesign,
  type Signature,
} from "./design.js";

async function assertTemplate(db: Db, tenantId: string, templateId: string): Promise<void> {
  const found = isUuid(templateId) && (await db.template.findUnique({ where: { tenantId_id: { tenantId, id: templateId } }, select: { id: true } }));
  if (!found) throw new NotFoundError("Template");
}

/** Every image id the design names, with the input field it came from. */
function imageFields(design: CertificateDesign): [string, string][] {
  return [
    ["logoImageId", design.logoImageId] as [string, string | null],
    ["backgroundImageId", design.backgroundImageId] as [string, string | null],
    ["customSvgImageId", design.customSvgImageId] as [string, string | null],
    ...design.signatures.map((s, i): [string, string | null] => [`signatures.${i}.imageId`, s.imageId]),
  ].filter((f): f is [string, string] => f[1] !== null);
}

/**
 * Checks that every image the design names is one of the tenant's uploads; returns the [field, id] pairs.
 * @throws DesignImageNotFoundError naming the first field whose image is missing or another tenant's;
 *   ValidationError on `design.<field>` for an SVG we would not draw (svg-budget.ts undrawable).
 */
export async function assertImages(db: Db, tenantId: string, design: CertificateDesign): Promise<[string, string][]> {
  const wanted = imageFields(design);
  const ids = [...new Set(wanted.map(([, id]) => id).filter(isUuid))];
  const rows = ids.length ? await db.image.findMany({ where: { tenantId, id: { in: ids } }, select: { id: true, contentType: true, bytes: true } }) : [];
  const found = new Map(rows.map((i) => [i.id, i]));
  const missing = wanted.find(([, id]) => !found.has(id));
  if (missing) throw new DesignImageNotFoundError(missing[0], missing[1]);
  // An SVG we would not draw (filters, masks, patterns...: svg-budget.ts) is refused now, not left out
  // of every certificate in silence. The custom design's own SVG has its own, longer report.
  for (const [field, id] of wanted) {
    const image = found.get(id)!;
    if (image.contentType !== "image/svg+xml" || field === "customSvgImageId") continue;
    let problem: string | null;
    try {
      problem = undrawable(parseSvg(Buffer.from(image.bytes).toString("utf8")).documentElement!);
    } catch (error) {
      problem = (error as Error).message;
    }
    if (problem) throw ValidationError.field(["design", field], problem);
  }
  return wanted;
}

/**
 * For a custom design, checks its SVG (custom.ts checkCustomSvg) after assertImages found it the tenant's.
 * @throws InvalidCustomSvgError naming every problem of the SVG (or that the image is a PNG).
 */
export async function assertCustomSvg(db: Db, tenantId: string, design: CertificateDesign): Promise<void> {
  if (!design.customSvgImageId) return;
  const image = await db.image.findUniqueOrThrow({ where: { tenantId_id: { tenantId, id: design.customSvgImageId } }, select: { contentType: true, bytes: true } });
  checkCustomSvg(image.contentType === "image/svg+xml" ? Buffer.from(image.bytes).toString("utf8") : null);
}

/**
 * Sets (creates or replaces) the certificate design of a template of the caller's tenant, and records
 * it in the audit log. Returns the design as stored.
 * @throws NotFoundError when the template is not the tenant's; DesignImageNotFoundError when an image
 *   id is not one of the tenant's uploads; the errors of checkDesign for the rest of the input.
 */
export async function setCertificateDesign(db: Db, caller: Caller, templateId: string, input: CertificateDesignInput): Promise<CertificateDesign> {
  await assertTemplate(db, caller.tenantId, templateId);
  const design = checkDesign(templateId, input);
  const wanted = await assertImages(db, caller.tenantId, design);
  await assertCustomSvg(db, caller.tenantId, design);
  const columns = {
    layout: design.layout,
    customSvgImageId: design.customSvgImageId,
    primaryColor: design.primaryColor,
    accentColor: design.accentColor,
    logoImageId: design.logoImageId,
    backgroundImageId: design.backgroundImageId,
    signatures: design.signatures as unknown as object,
  };
  await db.certificateDesign.upsert({
    where: { tenantId_templateId: { tenantId: caller.tenantId, templateId } },
    create: { tenantId: caller.tenantId, templateId, ...columns },
    update: columns,
    select: { templateId: true },
  });
  await recordAudit(db, caller, {
    action: "template.certificate_design_set",
    targetType: "Template",
    targetId: templateId,
    details: { layout: design.layout, images: wanted.length, signatures: design.signatures.length },
  });
  return design;
}

/** A stored row as a CertificateDesign (a layout no longer known falls back to classic). */
export function designFromRow(row: {
  templateId: string;
  layout: string;
  customSvgImageId?: string | null;
  primaryColor: string;
  accentColor: string;
  logoImageId: string | null;
  backgroundImageId: string | null;
  signatures: unknown;
}): CertificateDesign {
  const custom = row.layout === CUSTOM && row.customSvgImageId ? row.customSvgImageId : null;
  const layout = custom ? CUSTOM : (LAYOUTS as readonly string[]).includes(row.layout) ? (row.layout as Layout) : "classic";
  const signatures = (Array.isArray(row.signatures) ? row.signatures : []) as Signature[];
  return {
    templateId: row.templateId,
    layout,
    customSvgImageId: custom,
    primaryColor: row.primaryColor,
    accentColor: row.accentColor,
    logoImageId: row.logoImageId,
    backgroundImageId: row.backgroundImageId,
    signatures: signatures.map((s) => ({ imageId: s.imageId ?? null, name: String(s.name ?? ""), title: String(s.title ?? "") })),
  };
}

/**
 * The stored design of a template of the caller's tenant, or null when it has none (it prints as
 * classic). @throws NotFoundError when the template is not the tenant's.
 */
export async function certificateDesignOf(db: Db, caller: Caller, templateId: string): Promise<CertificateDesign | null> {
  await assertTemplate(db, caller.tenantId, templateId);
  const row = await db.certificateDesign.findUnique({ where: { tenantId_templateId: { tenantId: caller.tenantId, templateId } } });
  return row && designFromRow(row);
}

/**
 * Loads the images a design names (one query) and returns what certificatePdf draws. `images` reads
 * image rows by id within the tenant; an id that no longer resolves is drawn as nothing.
 */
export async function renderDesign(
  design: CertificateDesign,
  images: (ids: string[]) => Promise<{ id: string; contentType: string; bytes: Uint8Array }[]>,
): Promise<RenderDesign> {
  const ids = [...new Set(imageFields(design).map(([, id]) => id))];
  const rows = ids.length ? await images(ids) : [];
  const byId = new Map(rows.map((r) => [r.id, { contentType: r.contentType, bytes: Buffer.from(r.bytes) } satisfies DesignImage]));
  const image = (id: string | null) => (id ? (byId.get(id) ?? null) : null);
  const svg = image(design.customSvgImageId);
  return {
    layout: design.layout === CUSTOM ? "classic" : design.layout,
    customSvg: svg && svg.contentType === "image/svg+xml" ? svg.bytes.toString("utf8") : null,
    primaryColor: design.primaryColor,
    accentColor: design.accentColor,
    logo: image(design.logoImageId),
    background: image(design.backgroundImageId),
    signatures: design.signatures.map((s) => ({ image: image(s.imageId), name: s.name, title: s.title })),
  };
}

/** renderDesign with images read through Prisma in the caller's tenant transaction. */
export function renderDesignIn(db: Db, tenantId: string, design: CertificateDesign): Promise<RenderDesign> {
  return renderDesign(design, (ids) => db.image.findMany({ where: { tenantId, id: { in: ids } }, select: { id: true, contentType: true, bytes: true } }));
}
