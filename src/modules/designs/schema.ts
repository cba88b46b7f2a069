// Certificate designs in GraphQL: read and set a template's design, and preview it with sample data.
// Setting and previewing need the permission that edits templates ("issue"); reading, tenant:read.
import { builder } from "../../builder.js";
import { NotFoundError, ValidationError } from "../../errors.js";
import { callerOf } from "../common/caller.js";
import { ErrorInterface } from "../common/schema.js";
import { TemplateRef } from "../templates/schema.js";
import {
  DesignImageNotFoundError,
  DesignTextTooLongError,
  InvalidColorError,
  LAYOUTS,
  MAX_SIGNATURES,
  TooManySignaturesError,
  UnknownLayoutError,
  defaultDesign,
  type CertificateDesign,
  type Signature,
} from "./design.js";
import { InvalidCustomSvgError, MERGE_FIELDS } from "./custom.js";
import { previewCertificate, type CertificatePreview } from "./preview.js";
import { certificateDesignOf, setCertificateDesign } from "./service.js";

builder.objectType(UnknownLayoutError, {
  name: "UnknownLayoutError",
  description: "The layout is not one of the built-in layouts.",
  interfaces: [ErrorInterface],
  fields: (t) => ({ layout: t.exposeString("layout"), layouts: t.stringList({ resolve: (e) => e.layouts }) }),
});
builder.objectType(InvalidColorError, {
  name: "InvalidColorError",
  description: "A colour is not written #rrggbb.",
  interfaces: [ErrorInterface],
  fields: (t) => ({ field: t.exposeString("field"), value: t.exposeString("value") }),
});
builder.objectType(DesignImageNotFoundError, {
  name: "DesignImageNotFoundError",
  description: "An image id names none of this organisation's uploaded images.",
  interfaces: [ErrorInterface],
  fields: (t) => ({ field: t.exposeString("field"), imageId: t.exposeString("imageId") }),
});
builder.objectType(TooManySignaturesError, {
  name: "TooManySignaturesError",
  description: `More than ${MAX_SIGNATURES} signatures.`,
  interfaces: [ErrorInterface],
  fields: (t) => ({ max: t.exposeInt("max"), given: t.exposeInt("given") }),
});
builder.objectType(DesignTextTooLongError, {
  name: "DesignTextTooLongError",
  description: "A text of the design is longer than its limit (in characters).",
  interfaces: [ErrorInterface],
  fields: (t) => ({ field: t.exposeString("field"), maxLength: t.exposeInt("maxLength") }),
});

const CustomSvgProblemRef = builder.objectRef<InvalidCustomSvgError["problems"][number]>("CustomSvgProblem").implement({
  fields: (t) => ({
    code: t.exposeString("code", { description: "NOT_SVG, MALFORMED, DOCTYPE, VIEWBOX, TOO_MANY_ELEMENTS, SCRIPT, FOREIGN_OBJECT, EVENT_ATTRIBUTE, EXTERNAL_REFERENCE, STYLE_IMPORT, UNKNOWN_MERGE_FIELD, MERGE_FIELD_NOT_WHOLE_TEXT, QR_NOT_RECT, QR_BOX, UNPRINTABLE_TEXT or UNDRAWABLE (filters, masks, patterns, markers, clip paths, style sheets: not drawn)" }),
    message: t.exposeString("message"),
  }),
});
builder.objectType(InvalidCustomSvgError, {
  name: "InvalidCustomSvgError",
  description: "A custom design's SVG breaks the rules: each problem is named.",
  interfaces: [ErrorInterface],
  fields: (t) => ({
    problems: t.field({ type: [CustomSvgProblemRef], resolve: (e) => e.problems }),
    mergeFields: t.stringList({ resolve: () => MERGE_FIELDS.map((f) => `{{${f}}}`) }),
  }),
});

const SignatureRef = builder.objectRef<Signature>("CertificateSignature").implement({
  fields: (t) => ({
    imageId: t.exposeString("imageId", { nullable: true }),
    name: t.exposeString("name"),
    title: t.exposeString("title"),
  }),
});

const DesignRef = builder.objectRef<CertificateDesign & { isDefault: boolean }>("CertificateDesign").implement({
  description: "How a template's certificate PDF looks.",
  fields: (t) => ({
    layout: t.exposeString("layout", { description: `One of ${LAYOUTS.join(", ")}, or custom` }),
    customSvgImageId: t.exposeString("customSvgImageId", { nullable: true, description: "The SVG of a custom design" }),
    primaryColor: t.exposeString("primaryColor", { description: "#rrggbb" }),
    accentColor: t.exposeString("accentColor", { description: "#rrggbb" }),
    logoImageId: t.exposeString("logoImageId", { nullable: true }),
    backgroundImageId: t.exposeString("backgroundImageId", { nullable: true }),
    signatures: t.field({ type: [SignatureRef], resolve: (d) => d.signatures }),
    isDefault: t.exposeBoolean("isDefault", { description: "No design was chosen: certificates print in this one (classic)." }),
  }),
});

const SignatureInput = builder.inputType("CertificateSignatureInput", {
  fields: (t) => ({
    imageId: t.string({ description: "An uploaded image (uploadImage) of the signature" }),
    name: t.string({ required: true, description: "1 to 80 characters" }),
    title: t.string({ required: true, description: "0 to 120 characters" }),
  }),
});

const DesignInput = builder.inputType("CertificateDesignInput", {
  fields: (t) => ({
    layout: t.string({ required: true, description: `One of ${LAYOUTS.join(", ")}, or custom (with customSvgImageId)` }),
    customSvgImageId: t.string({
      description: `For layout custom: an SVG uploaded with uploadImage, with a viewBox, merge fields (${MERGE_FIELDS.map((f) => `{{${f}}}`).join(", ")}) as the whole text of <text> elements, and a <rect data-laurel="qr"> for the QR code`,
    }),
    primaryColor: t.string({ description: "#rrggbb; default: the layout's" }),
    accentColor: t.string({ description: "#rrggbb; default: the layout's" }),
    logoImageId: t.string({ description: "An uploaded image (PNG or SVG) of the organisation's logo" }),
    backgroundImageId: t.string({ description: "An uploaded image covering the page (behind everything)" }),
    signatures: t.field({ type: [SignatureInput], description: `At most ${MAX_SIGNATURES}` }),
  }),
});

const PreviewRef = builder.objectRef<CertificatePreview>("CertificatePreview").implement({
  fields: (t) => ({
    contentType: t.exposeString("contentType"),
    dataUrl: t.exposeString("dataUrl", { description: "The certificate as a data: URL (base64)" }),
    byteSize: t.exposeInt("byteSize"),
    png: t.exposeString("png", { description: "The same certificate as a PNG data: URL (base64), 1200 px wide: for showing it in a page" }),
  }),
});

const DESIGN_ERRORS = [ValidationError, NotFoundError, UnknownLayoutError, InvalidColorError, DesignImageNotFoundError, TooManySignaturesError, DesignTextTooLongError, InvalidCustomSvgError];

builder.queryField("certificateDesign", (t) =>
  t.field({
    type: DesignRef,
    description: "The design a template's certificates are printed in (classic when none was chosen).",
    authScopes: { permission: "tenant:read" },
    errors: { types: [NotFoundError] },
    args: { templateId: t.arg.globalID({ required: true, for: TemplateRef }) },
    resolve: async (_r, { templateId }, ctx) => {
      const design = await certificateDesignOf(ctx.db, callerOf(ctx), templateId.id);
      return design ? { ...design, isDefault: false } : { ...defaultDesign(templateId.id), isDefault: true };
    },
  }),
);

builder.mutationField("setCertificateDesign", (t) =>
  t.field({
    type: DesignRef,
    description: "Chooses and configures the design of a template's certificates; applies to every credential of it, issued or not.",
    authScopes: { permission: "issue" },
    errors: { types: DESIGN_ERRORS },
    args: { templateId: t.arg.globalID({ required: true, for: TemplateRef }), design: t.arg({ type: DesignInput, required: true }) },
    resolve: async (_r, { templateId, design }, ctx) => ({ ...(await setCertificateDesign(ctx.db, callerOf(ctx), templateId.id, design)), isDefault: false }),
  }),
);

builder.queryField("certificatePreview", (t) =>
  t.field({
    type: PreviewRef,
    description: "A certificate of the template with sample data, in `design` (nothing is stored) or else the stored design.",
    authScopes: { permission: "issue" },
    errors: { types: DESIGN_ERRORS },
    args: {
      templateId: t.arg.globalID({ required: true, for: TemplateRef }),
      design: t.arg({ type: DesignInput }),
      recipientName: t.arg.string({ description: "The sample recipient's name (default Alex Sample): try the longest or another script" }),
    },
    resolve: (_r, { templateId, design, recipientName }, ctx) =>
      previewCertificate(ctx.db, callerOf(ctx), ctx.app.config.publicUrl, templateId.id, design ?? null, recipientName ?? null),
  }),
);
