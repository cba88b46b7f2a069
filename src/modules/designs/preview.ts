// A certificate drawn with sample data, so a design can be judged before any credential uses it: the
// template's current texts, a sample recipient and credential id, today's date in the tenant's zone.
// The answer is the PDF itself as a data: URL, and the same page as a PNG (drawn by the same layouts).
import type { Db } from "../../db/tenant-transaction.js";
import { NotFoundError, ValidationError } from "../../errors.js";
import { nfc, personNameProblem, textProblem } from "../../lib/text.js";
import type { Caller } from "../common/caller.js";
import { certificatePdf, certificatePng, UnprintableTextError } from "../credentials/certificate-pdf.js";
import { urls } from "../credentials/document.js";
import { DesignTextTooLongError, type CertificateDesignInput } from "./design.js";
import { assertCustomSvg, assertImages, certificateDesignOf, renderDesignIn } from "./service.js";
import { checkDesign, defaultDesign } from "./design.js";

/** A sample credential's id: the nil-like UUID v4 no credential gets. */
export const SAMPLE_CREDENTIAL_ID = "00000000-0000-4000-8000-000000000000";
export const SAMPLE_RECIPIENT = "Alex Sample";
const MAX_RECIPIENT = 200;

export interface CertificatePreview {
  contentType: "application/pdf";
  /** data:application/pdf;base64,… */
  dataUrl: string;
  byteSize: number;
  /** data:image/png;base64,… — the same certificate PREVIEW_PNG_WIDTH pixels wide. */
  png: string;
}

/** Width of the preview's PNG in pixels. */
export const PREVIEW_PNG_WIDTH = 1200;

/**
 * Renders a preview of a template's certificate: in `input` when given (checked exactly as
 * setCertificateDesign checks it, nothing stored), else in the stored design (classic if none).
 * @throws NotFoundError (template), ValidationError / DesignTextTooLongError (recipientName, or a text
 *   no embedded font can print), and the errors of setCertificateDesign for `input`.
 */
export async function previewCertificate(
  db: Db,
  caller: Caller,
  publicUrl: string,
  templateId: string,
  input: CertificateDesignInput | null,
  recipientName: string | null,
): Promise<CertificatePreview> {
  const stored = await certificateDesignOf(db, caller, templateId); // NotFoundError for another tenant's template
  let design = stored ?? defaultDesign(templateId);
  if (input) {
    design = checkDesign(templateId, input); // the checks of saving, nothing stored
    await assertImages(db, caller.tenantId, design);
    await assertCustomSvg(db, caller.tenantId, design);
  }
  const name = nfc(recipientName ?? SAMPLE_RECIPIENT).trim();
  const problem = textProblem(name) ?? personNameProblem(name);
  if (problem) throw ValidationError.field(["recipientName"], problem);
  if ([...name].length > MAX_RECIPIENT) throw new DesignTextTooLongError("recipientName", MAX_RECIPIENT);

  const [template, tenant, profile] = await Promise.all([
    db.template.findUnique({ where: { tenantId_id: { tenantId: caller.tenantId, id: templateId } }, select: { currentVersion: true } }),
    db.tenant.findUnique({ where: { id: caller.tenantId }, select: { name: true, timeZone: true } }),
    db.issuerProfile.findUnique({ where: { tenantId: caller.tenantId }, select: { name: true } }),
  ]);
  if (!template || !tenant) throw new NotFoundError("Template");
  const version = await db.templateVersion.findUniqueOrThrow({
    where: { tenantId_templateId_version: { tenantId: caller.tenantId, templateId, version: template.currentVersion } },
    select: { name: true, description: true, criteriaNarrative: true },
  });
  const now = new Date();
  const document = {
    id: urls.credential(publicUrl, caller.tenantId, SAMPLE_CREDENTIAL_ID),
    name: version.name,
    description: version.description,
    issuer: { name: profile?.name ?? tenant.name },
    validFrom: now.toISOString(),
    credentialSubject: {
      identifier: [{ type: "IdentityObject", identityType: "name", hashed: false, identityHash: name }],
      achievement: { name: version.name, description: version.description, ...(version.criteriaNarrative ? { criteria: { narrative: version.criteriaNarrative } } : {}) },
    },
  };
  try {
    const credential = { document, status: "ACTIVE" as const, validFrom: now, validUntil: null, revokedAt: null, suspendedAt: null, revocationReason: null, timeZone: tenant.timeZone };
    const options = { timeZone: tenant.timeZone, recipientName: name, design: await renderDesignIn(db, caller.tenantId, design) };
    const pdf = await certificatePdf(credential, `${publicUrl}/verify`, options);
    const png = await certificatePng(credential, `${publicUrl}/verify`, { ...options, width: PREVIEW_PNG_WIDTH });
    return {
      contentType: "application/pdf",
      dataUrl: `data:application/pdf;base64,${pdf.toString("base64")}`,
      byteSize: pdf.length,
      png: `data:image/png;base64,${png.toString("base64")}`,
    };
  } catch (error) {
    if (!(error instanceof UnprintableTextError)) throw error;
    throw new ValidationError(error.message, error.fields.map((f) => ({ path: [f.field], message: `No embedded font has ${f.characters.map((c) => c.codePoint).join(", ")}` })));
  }
}
