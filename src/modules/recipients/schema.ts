// Recipients: personal data, so every field that identifies a person asks for personal:read.
import { builder } from "../../builder.js";
import { NotFoundError, ValidationError } from "../../errors.js";
import { callerOf } from "../common/caller.js";
import { connectionComplexity, tenantKey } from "../common/nodes.js";
import { ErrorInterface } from "../common/schema.js";
import { TenantRef } from "../tenants/schema.js";
import { RecipientExistsError, RectificationRequiredError, createRecipient, searchFilter, updateRecipient } from "./service.js";
import { personalOf, SEALED_RECIPIENT } from "./personal.js";

builder.objectType(RecipientExistsError, {
  name: "RecipientExistsError",
  description: "Another recipient of this tenant has this email or external id.",
  interfaces: [ErrorInterface],
  fields: (t) => ({ path: t.exposeStringList("path", { description: "Input path of the clashing value, e.g. ['input', 'recipient', 'externalId']" }) }),
});

builder.objectType(RectificationRequiredError, {
  name: "RectificationRequiredError",
  description: "A name or email cannot be changed by updateRecipient: use rectifyRecipient (privacy:manage), which re-issues the person's credentials.",
  interfaces: [ErrorInterface],
  fields: (t) => ({ fields: t.exposeStringList("fields", { description: "Which of name and email would have changed" }) }),
});

export const RecipientRef = builder.prismaNode("Recipient", {
  select: { tenantId: true, id: true },
  id: { resolve: (r) => r.id },
  nullable: true,
  findUnique: (id, ctx) => tenantKey(id, ctx),
  authScopes: { permission: "personal:read" },
  fields: (t) => ({
    email: t.string({
      nullable: true,
      description: "Null only when the stored value does not open (altered or moved: error SEALED_VALUE_UNREADABLE); the rest of the row is served.",
      select: SEALED_RECIPIENT,
      resolve: async (r, _a, ctx) => (await personalOf(ctx.db, r.tenantId, r)).email,
    }),
    name: t.string({ nullable: true, select: SEALED_RECIPIENT, resolve: async (r, _a, ctx) => (await personalOf(ctx.db, r.tenantId, r)).name }),
    externalId: t.exposeString("externalId", { nullable: true }),
    locale: t.exposeString("locale"),
    attributes: t.field({ type: "JSON", select: SEALED_RECIPIENT, resolve: async (r, _a, ctx) => (await personalOf(ctx.db, r.tenantId, r)).attributes }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    credentials: t.relatedConnection("credentials", {
      cursor: "tenantId_id",
      complexity: connectionComplexity,
      query: () => ({ orderBy: [{ issuedAt: "desc" }, { id: "desc" }] }),
    }),
  }),
});

builder.prismaObjectField(TenantRef, "recipients", (t) =>
  t.prismaConnection({
    type: "Recipient",
    cursor: "tenantId_id",
    nullable: true,
    authScopes: { permission: "personal:read" },
    complexity: connectionComplexity,
    args: {
      search: t.arg.string({
        description:
          "A whole email address, or whole words of the name (all must match), case-insensitive. Names and addresses are sealed at rest, so prefixes and fragments do not match.",
      }),
    },
    totalCount: async (tenant, { search }, ctx) => ctx.db.recipient.count({ where: await recipientsWhere(ctx.db, tenant.id, search) }),
    resolve: async (query, tenant, { search }, ctx) =>
      ctx.db.recipient.findMany({ ...query, where: await recipientsWhere(ctx.db, tenant.id, search), orderBy: [{ createdAt: "desc" }, { id: "desc" }] }),
  }),
);

async function recipientsWhere(db: Parameters<typeof searchFilter>[0], tenantId: string, search: string | null | undefined) {
  return { tenantId, ...(search?.trim() ? await searchFilter(db, tenantId, search) : {}) };
}

export const RecipientInput = builder.inputType("RecipientInput", {
  fields: (t) => ({
    email: t.field({ type: "EmailAddress", required: true }),
    name: t.string(),
    externalId: t.string(),
    locale: t.string({ description: "Language tag for emails and pages, e.g. en, fr, pt-BR" }),
    attributes: t.field({ type: "JSON" }),
  }),
});

builder.mutationField("createRecipient", (t) =>
  t.prismaField({
    type: RecipientRef,
    authScopes: { permission: "issue" },
    errors: { types: [ValidationError, RecipientExistsError] },
    args: { input: t.arg({ type: RecipientInput, required: true }) },
    resolve: (_q, _r, { input }, ctx) => createRecipient(ctx.db, callerOf(ctx), { ...input, attributes: input.attributes as Record<string, unknown> | null }),
  }),
);

builder.mutationField("updateRecipient", (t) =>
  t.prismaField({
    type: RecipientRef,
    description: "Updates a recipient's external id, locale and attributes; name and email must stay as they are (RectificationRequiredError: use rectifyRecipient).",
    authScopes: { permission: "issue" },
    errors: { types: [ValidationError, NotFoundError, RecipientExistsError, RectificationRequiredError] },
    args: { id: t.arg.globalID({ required: true, for: RecipientRef }), input: t.arg({ type: RecipientInput, required: true }) },
    resolve: (_q, _r, { id, input }, ctx) =>
      updateRecipient(ctx.db, callerOf(ctx), id.id, { ...input, attributes: input.attributes as Record<string, unknown> | null }),
  }),
);
