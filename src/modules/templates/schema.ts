// Templates (OB 3.0 Achievements) and their immutable versions.
import { builder } from "../../builder.js";
import { DuplicatePolicy, TemplateKind, TemplateStatus, ValidityKind } from "../../generated/prisma/enums.js";
import { NotFoundError, ValidationError } from "../../errors.js";
import { representable } from "../../lib/calendar.js";
import { callerOf } from "../common/caller.js";
import { connectionComplexity, tenantKey } from "../common/nodes.js";
import { errorType } from "../common/schema.js";
import { TenantRef } from "../tenants/schema.js";
import { setDuplicatePolicy } from "./duplicate-policy.js";
import { CUSTOM_FIELD_TYPES, TemplateNotIssuableError, createTemplate, setTemplateStatus, updateTemplate, type CustomField } from "./service.js";

export const TemplateKindEnum = builder.enumType(TemplateKind, { name: "TemplateKind" });
const TemplateStatusEnum = builder.enumType(TemplateStatus, { name: "TemplateStatus" });
const ValidityKindEnum = builder.enumType(ValidityKind, { name: "ValidityKind" });
const CustomFieldTypeEnum = builder.enumType("CustomFieldType", { values: CUSTOM_FIELD_TYPES });

errorType(TemplateNotIssuableError, "TemplateNotIssuableError", "The template is a draft or archived.");

const CustomFieldRef = builder.objectRef<CustomField>("CustomField").implement({
  fields: (t) => ({
    name: t.exposeString("name"),
    label: t.exposeString("label", { nullable: true }),
    type: t.field({ type: CustomFieldTypeEnum, resolve: (f) => f.type }),
    required: t.exposeBoolean("required"),
  }),
});

const AlignmentRef = builder.objectRef<{ targetName: string; targetUrl: string; targetDescription?: string | null; targetFramework?: string | null; targetCode?: string | null }>("Alignment").implement({
  fields: (t) => ({
    targetName: t.exposeString("targetName"),
    targetUrl: t.exposeString("targetUrl"),
    targetDescription: t.string({ nullable: true, resolve: (a) => a.targetDescription ?? null }),
    targetFramework: t.string({ nullable: true, resolve: (a) => a.targetFramework ?? null }),
    targetCode: t.string({ nullable: true, resolve: (a) => a.targetCode ?? null }),
  }),
});

export const TemplateVersionRef = builder.prismaObject("TemplateVersion", {
  select: { tenantId: true, templateId: true, version: true },
  fields: (t) => ({
    version: t.exposeInt("version"),
    name: t.exposeString("name"),
    description: t.exposeString("description"),
    credentialDescription: t.exposeString("credentialDescription", {
      nullable: true,
      description: "Per-recipient text with merge fields, rendered into each credential's own description",
    }),
    criteriaNarrative: t.exposeString("criteriaNarrative", { nullable: true }),
    criteriaUrl: t.exposeString("criteriaUrl", { nullable: true }),
    imageUrl: t.exposeString("imageUrl", { nullable: true }),
    tags: t.exposeStringList("tags"),
    alignments: t.field({ type: [AlignmentRef], select: { alignments: true }, resolve: (v) => v.alignments as never }),
    validity: t.expose("validity", { type: ValidityKindEnum }),
    validityDays: t.exposeInt("validityDays", { nullable: true }),
    validUntil: t.field({ type: "DateTime", nullable: true, select: { validUntil: true }, resolve: (v) => representable(v.validUntil) }),
    customFields: t.field({ type: [CustomFieldRef], select: { customFields: true }, resolve: (v) => v.customFields as unknown as CustomField[] }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
  }),
});

export const TemplateRef = builder.prismaNode("Template", {
  id: { resolve: (t) => t.id },
  nullable: true,
  findUnique: (id, ctx) => tenantKey(id, ctx),
  authScopes: { permission: "tenant:read" },
  fields: (t) => ({
    kind: t.expose("kind", { type: TemplateKindEnum }),
    status: t.expose("status", { type: TemplateStatusEnum }),
    currentVersion: t.exposeInt("currentVersion"),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    updatedAt: t.expose("updatedAt", { type: "DateTime" }),
    current: t.prismaField({
      type: TemplateVersionRef,
      description: "The version new credentials are issued from.",
      select: { tenantId: true, id: true, currentVersion: true },
      resolve: (query, tpl, _a, ctx) =>
        ctx.db.templateVersion.findUniqueOrThrow({
          ...query,
          where: { tenantId_templateId_version: { tenantId: tpl.tenantId, templateId: tpl.id, version: tpl.currentVersion } },
        }),
    }),
    versions: t.relation("versions", { query: { orderBy: { version: "desc" } } }),
  }),
});

builder.prismaObjectField(TenantRef, "templates", (t) =>
  t.relatedConnection("templates", {
    cursor: "tenantId_id",
    nullable: true,
    authScopes: { permission: "tenant:read" },
    totalCount: true,
    complexity: connectionComplexity,
    args: { status: t.arg({ type: TemplateStatusEnum }) },
    query: (args) => ({ where: args.status ? { status: args.status } : {}, orderBy: [{ createdAt: "desc" }, { id: "desc" }] }),
  }),
);

const CustomFieldInput = builder.inputType("CustomFieldInput", {
  fields: (t) => ({
    name: t.string({ required: true, description: "Used as {{name}} in credentialDescription and as a CSV column" }),
    label: t.string(),
    type: t.field({ type: CustomFieldTypeEnum, required: true }),
    required: t.boolean({ required: true }),
  }),
});
const AlignmentInput = builder.inputType("AlignmentInput", {
  fields: (t) => ({
    targetName: t.string({ required: true }),
    targetUrl: t.string({ required: true }),
    targetDescription: t.string(),
    targetFramework: t.string(),
    targetCode: t.string(),
  }),
});
const ValidityInput = builder.inputType("ValidityInput", {
  fields: (t) => ({
    kind: t.field({ type: ValidityKindEnum, required: true }),
    days: t.int({ description: "For DAYS_AFTER_ISSUE" }),
    until: t.field({ type: "DateTime", description: "For FIXED_DATE" }),
  }),
});
const TemplateContentInput = builder.inputType("TemplateContentInput", {
  fields: (t) => ({
    name: t.string({ required: true, description: "The achievement's name, the same in every credential: no merge fields" }),
    description: t.string({ required: true, description: "The achievement's description, the same in every credential: no merge fields" }),
    credentialDescription: t.string({
      description:
        "Each credential's own description, rendered per recipient: merge fields {{recipientName}} and the custom fields, e.g. \"Awarded to {{recipientName}}{{#course}} for {{course}}{{/course}}.\" (an empty optional field renders as empty)",
    }),
    criteriaNarrative: t.string({ description: "Shared by every credential: no merge fields" }),
    criteriaUrl: t.string(),
    imageUrl: t.string(),
    tags: t.stringList(),
    alignments: t.field({ type: [AlignmentInput] }),
    validity: t.field({ type: ValidityInput }),
    customFields: t.field({ type: [CustomFieldInput] }),
  }),
});

builder.mutationField("createTemplate", (t) =>
  t.prismaField({
    type: TemplateRef,
    authScopes: { permission: "issue" },
    errors: { types: [ValidationError] },
    args: { kind: t.arg({ type: TemplateKindEnum, required: true }), content: t.arg({ type: TemplateContentInput, required: true }) },
    resolve: (_q, _r, { kind, content }, ctx) => createTemplate(ctx.db, callerOf(ctx), kind, content),
  }),
);

builder.mutationField("updateTemplate", (t) =>
  t.prismaField({
    type: TemplateRef,
    description: "Writes a new version; credentials already issued keep theirs.",
    authScopes: { permission: "issue" },
    errors: { types: [ValidationError, NotFoundError, TemplateNotIssuableError] },
    args: { id: t.arg.globalID({ required: true, for: TemplateRef }), content: t.arg({ type: TemplateContentInput, required: true }) },
    resolve: (_q, _r, { id, content }, ctx) => updateTemplate(ctx.db, callerOf(ctx), id.id, content),
  }),
);

for (const [name, status] of [["activateTemplate", "ACTIVE"], ["archiveTemplate", "ARCHIVED"]] as const) {
  builder.mutationField(name, (t) =>
    t.prismaField({
      type: TemplateRef,
      authScopes: { permission: "issue" },
      errors: { types: [NotFoundError, TemplateNotIssuableError] },
      args: { id: t.arg.globalID({ required: true, for: TemplateRef }) },
      resolve: (_q, _r, { id }, ctx) => setTemplateStatus(ctx.db, callerOf(ctx), id.id, status),
    }),
  );
}

const DuplicatePolicyEnum = builder.enumType(DuplicatePolicy, {
  name: "DuplicatePolicy",
  description: "Whether one person may hold more than one credential of a template that is not revoked (same person: same normalised email).",
});

builder.prismaObjectField(TemplateRef, "duplicatePolicy", (t) =>
  t.expose("duplicatePolicy", {
    type: DuplicatePolicyEnum,
    description: "REFUSE (default): a second award is refused, naming the credential held. ALLOW: repeatable. REPLACE: the earlier credential is revoked (reason: replaced) and a new one issued.",
  }),
);

builder.mutationField("setTemplateDuplicatePolicy", (t) =>
  t.prismaField({
    type: TemplateRef,
    description: "Sets what issuing this template to someone who already holds it does, for single and bulk issuance from now on.",
    authScopes: { permission: "issue" },
    errors: { types: [NotFoundError] },
    args: { id: t.arg.globalID({ required: true, for: TemplateRef }), policy: t.arg({ type: DuplicatePolicyEnum, required: true }) },
    resolve: (query, _r, { id, policy }, ctx) => setDuplicatePolicy(ctx.db, callerOf(ctx), id.id, policy, query),
  }),
);
